// The usage dashboard in the console: a card's **Usage** control opens its last 30 days (chart,
// table, CSV); the list marks a credential **Not used in 30 days** (the toolbar's filter asks the
// API for only those: `unused_for_days=30`); the **Usage** control next to **Policy** opens the
// tenant's days and its most used credentials. Everything is read through @clavis/sdk.

import { html, nothing } from "lit";
import type { TemplateResult } from "lit";
import type { Credential } from "@clavis/sdk";

import { fileBase } from "./files.js";
import { sentence } from "./format.js";
import { dialogErrorLine } from "./form-fields.js";
import type { ConsoleContext, TenantUsageDialog, UsageDialog } from "./state.js";
import { renderUsageChart } from "./usage-chart.js";
import { USAGE_DAYS, unusedFor } from "./usage-series.js";

/** The words of the mark, and of the filter that keeps only those credentials. */
export const UNUSED_MARK = `Not used in ${USAGE_DAYS} days`;

/** A card's mark when the credential had no use in 30 days (never used: 30 days since its creation). */
export function renderUnusedMark(credential: Credential): TemplateResult | typeof nothing {
  return unusedFor(credential, USAGE_DAYS) ? html`<span class="badge unused">${UNUSED_MARK}</span>` : nothing;
}

/** A card's control; its accessible name says whose usage ("Usage of “Inventory sync”"). */
export function renderUsageButton(ctx: ConsoleContext, credential: Credential): TemplateResult {
  return html`<button type="button" aria-haspopup="dialog" @click=${(e: Event) => openCredentialUsage(ctx, credential, e)}>Usage<span class="visually-hidden"> of “${credential.name}”</span></button>`;
}

/** The tenant's control, next to Policy and Create credential. */
export function renderTenantUsageButton(ctx: ConsoleContext): TemplateResult {
  return html`<button id="usage" type="button" aria-haspopup="dialog" ?disabled=${ctx.client() === undefined} @click=${(e: Event) => openTenantUsage(ctx, e)}>Usage</button>`;
}

async function openCredentialUsage(ctx: ConsoleContext, credential: Credential, event: Event): Promise<void> {
  ctx.open({ kind: "usage", credential, usage: null, table: false }, event);
  const client = ctx.client();
  if (client === undefined) return;
  try {
    const usage = await client.credentialUsage(credential.client_id);
    const current = ctx.dialog;
    if (current?.kind === "usage" && current.credential.client_id === credential.client_id) ctx.dialog = { ...current, usage };
  } catch (error) {
    if (ctx.dialog?.kind === "usage") ctx.dialogError = sentence(error);
  }
}

async function openTenantUsage(ctx: ConsoleContext, event: Event): Promise<void> {
  ctx.open({ kind: "tenant-usage", usage: null, table: false }, event);
  const client = ctx.client();
  if (client === undefined) return;
  try {
    const usage = await client.usage();
    const current = ctx.dialog;
    if (current?.kind === "tenant-usage") ctx.dialog = { ...current, usage };
  } catch (error) {
    if (ctx.dialog?.kind === "tenant-usage") ctx.dialogError = sentence(error);
  }
}

/** A top credential's name; the API gives null for one deleted since (its uses still count). */
function topName(top: { client_id: string; name: string | null }): TemplateResult {
  return top.name === null ? html`<em>Deleted credential</em> <code>${top.client_id}</code>` : html`${top.name}`;
}

function loading(ctx: ConsoleContext): TemplateResult | typeof nothing {
  return ctx.dialogError === "" ? html`<p aria-busy="true">Loading usage…</p>` : nothing;
}

function toggleTable(ctx: ConsoleContext): void {
  const current = ctx.dialog;
  if (current?.kind === "usage" || current?.kind === "tenant-usage") ctx.dialog = { ...current, table: !current.table };
}

function closeButton(ctx: ConsoleContext): TemplateResult {
  return html`<div class="dialog-actions"><button type="button" class="primary" @click=${() => ctx.close()}>Close</button></div>`;
}

export function renderUsageDialog(ctx: ConsoleContext, dialog: UsageDialog): TemplateResult {
  const c = dialog.credential;
  return html`
    <div class="usage-dialog">
      <h2 id="dialog-title" tabindex="-1" autofocus>Usage of “${c.name}”</h2>
      <p class="hint">Uses count what counts toward the monthly requests: API requests allowed, tokens issued, introspections. Refusals name this credential (a wrong secret, a suspended or expired credential, a scope not granted…).</p>
      ${dialog.usage === null
        ? loading(ctx)
        : renderUsageChart({
            usage: dialog.usage,
            table: dialog.table,
            toggleTable: () => toggleTable(ctx),
            fileBase: `${fileBase(c.name, c.client_id)}-usage-${dialog.usage.from}-${dialog.usage.to}`,
            root: ctx.root,
          })}
      ${dialogErrorLine(ctx)}
      ${closeButton(ctx)}
    </div>
  `;
}

export function renderTenantUsageDialog(ctx: ConsoleContext, dialog: TenantUsageDialog): TemplateResult {
  const usage = dialog.usage;
  return html`
    <div class="usage-dialog">
      <h2 id="dialog-title" tabindex="-1" autofocus>Usage of ${ctx.tenant}</h2>
      <p class="hint">Every credential of the tenant together, day by day, and the ones used most.</p>
      ${usage === null
        ? loading(ctx)
        : html`
          ${renderUsageChart({
            usage,
            table: dialog.table,
            toggleTable: () => toggleTable(ctx),
            fileBase: `${fileBase(ctx.tenant, "tenant")}-usage-${usage.from}-${usage.to}`,
            root: ctx.root,
          })}
          <h3 id="top-title">Most used credentials</h3>
          ${usage.top.length === 0
            ? html`<p>No credential was used in this period.</p>`
            : html`<ol class="top-list" aria-labelledby="top-title">
                ${usage.top.map((t) => html`<li><span class="top-name">${topName(t)}</span> <span class="top-uses">${t.uses.toLocaleString("en-US")} ${t.uses === 1 ? "use" : "uses"}</span></li>`)}
              </ol>`}`}
      ${dialogErrorLine(ctx)}
      ${closeButton(ctx)}
    </div>
  `;
}
