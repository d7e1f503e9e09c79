// Days of use as a chart, a table and a CSV, for one credential or the whole tenant: an SVG bar
// per day (uses, refusals stacked on top) whose accessible name states the totals; "Show as table"
// gives the same numbers, with the refusal reasons in words (the API's code on hover), as an HTML
// table; "Download CSV" saves `date,uses,refused`, one row per day.
//
// Drawn by hand: stacked bars on a fixed scale are some forty lines of SVG, while a chart library
// would add tens of kilobytes to the embedded module and its own styling and accessibility to
// reconcile with the console's. The SVG holds no text (it is stretched to its box); the scale and
// the first and last day are HTML beside it, so they stay legible at 375px.

import { html, nothing, svg } from "lit";
import type { SVGTemplateResult, TemplateResult } from "lit";
import type { UsageDay } from "@clavis/sdk";

import { download } from "./download.js";
import { REFUSAL_WORDS, chartMax, refusalReasons, refusedCount, shortDay, totalsLabel, usageCsv } from "./usage-series.js";

/** The part of a credential's or the tenant's usage the chart shows. */
export interface UsageSeries {
  from: string;
  to: string;
  days: UsageDay[];
  total_uses: number;
  total_refused: number;
}

export interface UsageChartView {
  usage: UsageSeries;
  /** The table is shown (the control's state). */
  table: boolean;
  toggleTable(): void;
  /** The CSV's file name, without `.csv`. */
  fileBase: string;
  /** Where the download link is put for its click (the element's shadow root). */
  root: HTMLElement | DocumentFragment;
}

const SLOT = 10;
const HEIGHT = 100;

export function renderUsageChart(view: UsageChartView): TemplateResult {
  const { usage } = view;
  const max = chartMax(usage.days);
  const label = totalsLabel(usage);
  const first = usage.days[0];
  const last = usage.days.at(-1);
  return html`
    <div class="usage">
      <p class="usage-totals"><strong>${usage.total_uses.toLocaleString("en-US")}</strong> ${usage.total_uses === 1 ? "use" : "uses"},
        <strong>${usage.total_refused.toLocaleString("en-US")}</strong> refused, ${first && last ? html`${shortDay(first.date)} – ${shortDay(last.date)} (UTC)` : nothing}</p>
      <div class="chart">
        <div class="chart-scale" aria-hidden="true"><span>${max.toLocaleString("en-US")}</span><span>0</span></div>
        <svg role="img" aria-label=${label} viewBox=${`0 0 ${Math.max(usage.days.length, 1) * SLOT} ${HEIGHT}`} preserveAspectRatio="none" focusable="false">
          <line class="grid" x1="0" x2=${usage.days.length * SLOT} y1="0.5" y2="0.5" vector-effect="non-scaling-stroke"></line>
          <line class="grid" x1="0" x2=${usage.days.length * SLOT} y1=${HEIGHT / 2} y2=${HEIGHT / 2} vector-effect="non-scaling-stroke"></line>
          <line class="axis" x1="0" x2=${usage.days.length * SLOT} y1=${HEIGHT} y2=${HEIGHT} vector-effect="non-scaling-stroke"></line>
          ${usage.days.map((day, i) => bar(day, i, max))}
        </svg>
        <div class="chart-days" aria-hidden="true"><span>${first ? shortDay(first.date) : ""}</span><span>${last ? shortDay(last.date) : ""}</span></div>
      </div>
      <p class="legend" aria-hidden="true"><span class="key uses"></span>Uses <span class="key refused"></span>Refused</p>
      <div class="usage-actions">
        <button type="button" aria-expanded=${view.table ? "true" : "false"} aria-controls="usage-table" @click=${() => view.toggleTable()}>${view.table ? "Hide table" : "Show as table"}</button>
        <button type="button" @click=${() => download(view.root, `${view.fileBase}.csv`, usageCsv(usage.days), "text/csv")}>Download CSV</button>
      </div>
      <div id="usage-table" class="table-wrap" ?hidden=${!view.table}>
        ${view.table ? usageTable(usage) : nothing}
      </div>
    </div>
  `;
}

/** One day's stacked bar: uses from the axis, refusals on top; its title for a pointer's hover. */
function bar(day: UsageDay, i: number, max: number): SVGTemplateResult {
  const refused = refusedCount(day);
  const usesHeight = (day.uses / max) * HEIGHT;
  const refusedHeight = (refused / max) * HEIGHT;
  const x = i * SLOT + 1.5;
  return svg`<g>
    <title>${day.date}: ${day.uses.toLocaleString("en-US")} ${day.uses === 1 ? "use" : "uses"}, ${refused.toLocaleString("en-US")} refused</title>
    ${day.uses > 0 ? svg`<rect class="uses" x=${x} width=${SLOT - 3} y=${HEIGHT - usesHeight} height=${usesHeight}></rect>` : nothing}
    ${refused > 0 ? svg`<rect class="refused" x=${x} width=${SLOT - 3} y=${HEIGHT - usesHeight - refusedHeight} height=${refusedHeight}></rect>` : nothing}
  </g>`;
}

function usageTable(usage: UsageSeries): TemplateResult {
  return html`
    <table>
      <caption>Uses and refusals per day (UTC), oldest first</caption>
      <thead><tr><th scope="col">Date</th><th scope="col">Uses</th><th scope="col">Refused</th><th scope="col">Reasons</th></tr></thead>
      <tbody>
        ${usage.days.map((day) => html`<tr>
          <th scope="row">${day.date}</th>
          <td>${day.uses.toLocaleString("en-US")}</td>
          <td>${refusedCount(day).toLocaleString("en-US")}</td>
          <td>${reasons(day)}</td>
        </tr>`)}
      </tbody>
      <tfoot><tr><th scope="row">Total</th><td>${usage.total_uses.toLocaleString("en-US")}</td><td>${usage.total_refused.toLocaleString("en-US")}</td><td></td></tr></tfoot>
    </table>
  `;
}

function reasons(day: UsageDay): TemplateResult | typeof nothing {
  const list = refusalReasons(day);
  if (list.length === 0) return nothing;
  return html`<ul class="reasons">${list.map(([reason, n]) =>
    html`<li title=${reason}>${REFUSAL_WORDS[reason] ?? reason}: ${n.toLocaleString("en-US")}</li>`)}</ul>`;
}
