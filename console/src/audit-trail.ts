// The audit trail of one credential, in a dialog: events newest first, read a page at a time,
// each with who did it and its details (times in local time, before → after).

import { html, nothing } from "lit";
import type { TemplateResult } from "lit";
import type { Credential } from "@clavis/sdk";

import { localTime, sentence } from "./format.js";
import { dialogErrorLine } from "./form-fields.js";
import { leakedEventFacts, linkableUrl } from "./leak-notice.js";
import type { AuditDialog, ConsoleContext } from "./state.js";

const PAGE_SIZE = 25;

const EVENT_WORDS: Record<string, string> = {
  "credential.created": "Created",
  "credential.secret_rotated": "Secret rotated",
  "credential.expiry_changed": "Expiry changed",
  "credential.updated": "Details changed",
  "credential.suspended": "Suspended",
  "credential.reactivated": "Reactivated",
  "credential.revoked": "Revoked",
  "credential.deleted": "Deleted",
  "credential.expired": "Expired",
  "credential.expiring_soon": "Expiring soon",
  "credential.quota_threshold": "Quota threshold reached",
  "credential.leaked": "Secret reported leaked",
  "tenant.policy_changed": "Policy changed",
};

/** Opens the dialog (empty, loading) and reads the first page. */
export async function openAuditTrail(ctx: ConsoleContext, credential: Credential, event: Event): Promise<void> {
  ctx.open({ kind: "audit", credential, events: [], cursor: null, loading: true }, event);
  await loadAudit(ctx, credential, undefined);
}

/** Appends a page of events, unless the dialog was closed or now shows another credential. */
async function loadAudit(ctx: ConsoleContext, credential: Credential, cursor: string | undefined): Promise<void> {
  const client = ctx.client();
  if (client === undefined) return;
  try {
    const page = await client.credentialAudit(credential.client_id, { limit: PAGE_SIZE, ...(cursor !== undefined ? { cursor } : {}) });
    const current = ctx.dialog;
    if (current?.kind !== "audit" || current.credential.client_id !== credential.client_id) return;
    ctx.dialog = { ...current, events: [...current.events, ...page.items], cursor: page.next_cursor, loading: false };
  } catch (error) {
    const current = ctx.dialog;
    if (current?.kind === "audit") ctx.dialog = { ...current, loading: false };
    ctx.dialogError = sentence(error);
  }
}

export function renderAuditDialog(ctx: ConsoleContext, dialog: AuditDialog): TemplateResult {
  return html`
    <div class="audit">
      <h2 id="dialog-title" tabindex="-1" autofocus>Audit trail of “${dialog.credential.name}”</h2>
      ${dialog.loading && dialog.events.length === 0 ? html`<p aria-busy="true">Loading events…</p>` : nothing}
      ${!dialog.loading && dialog.events.length === 0 && ctx.dialogError === "" ? html`<p>No events recorded.</p>` : nothing}
      <ol class="events" aria-label="Events, newest first">
        ${dialog.events.map((e) => html`
          <li>
            <strong>${EVENT_WORDS[e.type] ?? e.type}</strong>
            <span class="when">${localTime(e.at, "")}</span>
            <span class="who">by ${e.actor.subject} (${e.actor.role})</span>
            ${e.type === "credential.leaked" ? leakedDetails(e.details) : details(e.details)}
          </li>`)}
      </ol>
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        ${dialog.cursor !== null ? html`<button type="button" @click=${() => loadAudit(ctx, dialog.credential, dialog.cursor ?? undefined)}>Show older events</button>` : nothing}
        <button type="button" class="primary" @click=${() => ctx.close()}>Close</button>
      </div>
    </div>
  `;
}

/** A credential.leaked event: who reported it, where it was found, whether the secret still worked, what was done. */
function leakedDetails(details: Record<string, unknown>): TemplateResult {
  return html`<dl class="details">${leakedEventFacts(details ?? {}).map(([term, text]) => html`<dt>${term}</dt><dd>${
    term === "Found at" && linkableUrl(text) ? html`<a href=${text} target="_blank" rel="noopener noreferrer">${text}</a>` : text
  }</dd>`)}</dl>`;
}

function details(details: Record<string, unknown>): TemplateResult | typeof nothing {
  const entries = Object.entries(details ?? {});
  if (entries.length === 0) return nothing;
  return html`<dl class="details">${entries.map(([key, value]) => html`<dt>${key.replace(/_/g, " ")}</dt><dd>${detailValue(value)}</dd>`)}</dl>`;
}

/** A detail as a person reads it: times in local time, lists joined, before → after. */
function detailValue(value: unknown): TemplateResult {
  if (value === null || value === undefined) return html`none`;
  if (typeof value === "string") {
    return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) ? localTime(value, "") : html`${value}`;
  }
  if (Array.isArray(value)) return html`${value.map((v) => String(v)).join(", ")}`;
  if (typeof value === "object") {
    const record = value as Record<string, unknown>;
    if ("before" in record && "after" in record) {
      return html`${detailValue(record["before"])} → ${detailValue(record["after"])}`;
    }
    return html`${JSON.stringify(value)}`;
  }
  return html`${String(value)}`;
}
