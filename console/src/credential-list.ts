// The list: the status filter, the "not used in 30 days" filter and Refresh, the credential cards with their actions, and
// "Show more credentials" for the next page. It renders; the element owns the pages it read and
// says through ListView what the filter, Refresh and "Show more" do.

import { html, nothing } from "lit";
import type { TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import type { Credential, CredentialStatus } from "@clavis/sdk";

import { STATUS_WORDS, expiryLocked, localTime } from "./format.js";
import { openAuditTrail } from "./audit-trail.js";
import { suspendOrReactivate } from "./confirm-dialogs.js";
import type { ConsoleContext } from "./state.js";
import { renderLeakMark, renderLeakNotice } from "./leak-panel.js";
import { renderPolicyViolations } from "./policy-panel.js";
import { UNUSED_MARK, renderUnusedMark, renderUsageButton } from "./usage-panel.js";

export type StatusFilter = CredentialStatus | "";

/** The pages read so far, and what the list's own controls do. */
export interface ListView {
  credentials: readonly Credential[];
  /** The next page's cursor; null when this is all. */
  cursor: string | null;
  loading: boolean;
  listError: string;
  statusFilter: StatusFilter;
  /** Only credentials with no use in 30 days (the API's `unused_for_days=30`). */
  unusedOnly: boolean;
  filter(status: StatusFilter): void;
  filterUnused(only: boolean): void;
  refresh(): void;
  more(): void;
}

export function renderToolbar(view: ListView): TemplateResult {
  return html`
    <div class="toolbar">
      <label>Status
        <select .value=${view.statusFilter} @change=${(e: Event) => view.filter((e.target as HTMLSelectElement).value as StatusFilter)}>
          <option value="">All</option>
          <option value="active">Active</option>
          <option value="suspended">Suspended</option>
          <option value="expired">Expired</option>
          <option value="revoked">Revoked</option>
        </select>
      </label>
      <label class="check"><input type="checkbox" .checked=${view.unusedOnly} @change=${(e: Event) => view.filterUnused((e.target as HTMLInputElement).checked)}> Only those ${UNUSED_MARK.toLowerCase()}</label>
      <button type="button" class="quiet" @click=${() => view.refresh()}>Refresh</button>
    </div>
  `;
}

export function renderList(ctx: ConsoleContext, view: ListView): TemplateResult {
  if (view.listError !== "") {
    return html`<div class="notice error" role="alert">${view.listError}</div>`;
  }
  if (view.credentials.length === 0) {
    if (view.loading) return html`<p class="empty" aria-busy="true">Loading credentials…</p>`;
    if (view.unusedOnly) {
      return html`<div class="empty"><p>No ${view.statusFilter === "" ? "" : `${STATUS_WORDS[view.statusFilter].toLowerCase()} `}credential has gone unused for 30 days. Untick “Only those ${UNUSED_MARK.toLowerCase()}” to see every credential.</p></div>`;
    }
    return view.statusFilter === ""
      ? html`<div class="empty"><p><strong>No credentials yet.</strong></p><p>Select <em>Create credential</em> to give an integration a Client ID and a Client Secret. You choose its name, its scopes and, if you like, when it expires.</p></div>`
      : html`<div class="empty"><p>No ${STATUS_WORDS[view.statusFilter].toLowerCase()} credentials. Choose “All” to see every credential.</p></div>`;
  }
  return html`
    <ul class="cards" aria-label="Credentials" aria-busy=${view.loading ? "true" : "false"}>
      ${repeat(view.credentials, (c) => c.client_id, (c) => renderCard(ctx, c))}
    </ul>
    ${view.cursor === null ? nothing : html`<p class="more"><button type="button" ?disabled=${view.loading} @click=${() => view.more()}>Show more credentials</button></p>`}
  `;
}

function renderCard(ctx: ConsoleContext, c: Credential): TemplateResult {
  const id = `cred-${c.client_id}`;
  const locked = expiryLocked(c);
  const expiryReason = c.status !== "active"
    ? c.status === "suspended" ? "Only an active credential’s expiry can be changed: reactivate it first." : ""
    : locked ? "Expiry locked: it is less than 72 hours away, so it can no longer be changed. Create a new credential if the integration needs access after it." : "";
  const canRotate = c.status === "active" || c.status === "suspended";
  // The server refuses it too (409 secret_leaked): reactivating would accept the leaked secret.
  const reactivateReason = c.status === "suspended" && c.leak
    ? "Reactivate is blocked until the leaked secret is rotated away: rotate it without a grace period first."
    : "";
  return html`
    <li class="card" aria-labelledby=${`${id}-name`}>
      <div class="card-head">
        <h3 id=${`${id}-name`}>${c.name}</h3>
        <span class="marks">${renderLeakMark(c)}${renderUnusedMark(c)}<span class=${`badge ${c.status}`}>${STATUS_WORDS[c.status] ?? c.status}</span></span>
      </div>
      ${c.description ? html`<p class="description">${c.description}</p>` : nothing}
      ${renderLeakNotice(c)}
      ${renderPolicyViolations(c)}
      <dl class="facts">
        <div><dt>Client ID</dt><dd><code>${c.client_id}</code></dd></div>
        <div><dt>Scopes</dt><dd><ul class="scopes">${c.scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul></dd></div>
        <div><dt>Expires</dt><dd>${localTime(c.expires_at, "Never")}${c.expires_at !== null && locked && c.status === "active" ? html` <span class="lock">(locked)</span>` : nothing}</dd></div>
        <div><dt>Last used</dt><dd>${localTime(c.last_used_at, "Never")}${c.last_used_from ? html` from <code>${c.last_used_from}</code>` : nothing}</dd></div>
        <div><dt>Requests this month</dt><dd>${c.request_count.toLocaleString()}${c.monthly_request_quota != null ? ` of ${c.monthly_request_quota.toLocaleString()}` : ""}</dd></div>
        <div><dt>Environment</dt><dd>${c.environment === "test" ? "Test" : "Live"}</dd></div>
        <div><dt>Created</dt><dd>${localTime(c.created_at, "")}${c.created_by ? html` by ${c.created_by}` : nothing}</dd></div>
        ${c.status === "revoked" ? html`<div><dt>Revoked on</dt><dd>${localTime(c.revoked_at, "")}${c.revocation_reason ? html` — ${c.revocation_reason}` : nothing}</dd></div>` : nothing}
        ${c.previous_secret_valid_until ? html`<div><dt>Old secret works until</dt><dd>${localTime(c.previous_secret_valid_until, "")}</dd></div>` : nothing}
      </dl>
      <div class="actions">
        ${canRotate ? html`<button type="button" @click=${(e: Event) => ctx.open({ kind: "rotate", credential: c }, e)}>Rotate secret</button>` : nothing}
        ${c.status === "active" ? html`<button type="button" ?disabled=${ctx.busy} @click=${() => suspendOrReactivate(ctx, c, true)}>Suspend</button>` : nothing}
        ${c.status === "suspended" ? html`<button type="button" ?disabled=${ctx.busy || reactivateReason !== ""} aria-describedby=${reactivateReason !== "" ? `${id}-leaked` : nothing} @click=${() => suspendOrReactivate(ctx, c, false)}>Reactivate</button>` : nothing}
        ${c.status === "active" || c.status === "suspended"
          ? html`<button type="button" ?disabled=${expiryReason !== ""} aria-describedby=${expiryReason !== "" ? `${id}-lock` : nothing} @click=${(e: Event) => {
              ctx.open({ kind: "expiry", credential: c }, e);
              ctx.expiryMode = c.expires_at === null ? "days" : "date";
            }}>Edit expiry</button>`
          : nothing}
        ${c.status !== "revoked" ? html`<button type="button" @click=${(e: Event) => ctx.open({ kind: "edit", credential: c }, e)}>Edit details</button>` : nothing}
        ${renderUsageButton(ctx, c)}
        <button type="button" @click=${(e: Event) => openAuditTrail(ctx, c, e)}>Audit trail</button>
        ${c.status !== "revoked" ? html`<button type="button" class="danger" @click=${(e: Event) => ctx.open({ kind: "revoke", credential: c }, e)}>Revoke</button>` : nothing}
        <button type="button" class="danger" @click=${(e: Event) => ctx.open({ kind: "delete", credential: c }, e)}>Delete</button>
      </div>
      ${expiryReason !== "" ? html`<p class="reason" id=${`${id}-lock`}>${expiryReason}</p>` : nothing}
      ${reactivateReason !== "" ? html`<p class="reason" id=${`${id}-leaked`}>${reactivateReason}</p>` : nothing}
      ${c.status === "expired" ? html`<p class="reason">Expired credentials cannot be rotated or reactivated: create a new credential if the integration still needs access.</p>` : nothing}
    </li>
  `;
}
