// The Webhooks section, below the credential list: the tenant's webhook endpoints, which Clavis
// POSTs its events to (a key created, rotated, revoked, expiring soon, leaked, at its quota…),
// signed per Standard Webhooks. Its heading is a control named "Webhooks" that unfolds it; the
// endpoints are read then, not before. Each endpoint shows its URL, status and event types, with
// Send test, Deliveries, Edit, Disable / Enable, Rotate secret and Delete. Adding, editing,
// rotating, deleting and the deliveries open the console's dialog (webhook-dialogs.ts); the
// signing secret follows the one-time rules of secret-dialog.ts there. Outcomes are said in the
// section's own live regions, next to the controls that caused them.

import { html, nothing } from "lit";
import type { TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import type { Webhook } from "@clavis/sdk";

import { localTime } from "./format.js";
import { loadWebhooks, patchWebhooks, replaceWebhook, runWebhookChange, sayWebhooks } from "./webhook-actions.js";
import { openDeliveries } from "./webhook-dialogs.js";
import { STATUS_WORDS, disabledReasonText } from "./webhook-form.js";
import type { ConsoleContext, WebhooksState } from "./state.js";

export { loadWebhooks } from "./webhook-actions.js";

/** The most endpoints a tenant may have (the API answers 409 webhook_limit_reached past it). */
export const MAX_WEBHOOKS = 10;

function toggle(ctx: ConsoleContext): void {
  const open = !ctx.webhooks.open;
  patchWebhooks(ctx, { open, notice: null });
  if (open) void loadWebhooks(ctx);
}

async function sendTest(ctx: ConsoleContext, webhook: Webhook): Promise<void> {
  if (ctx.busy) return;
  sayWebhooks(ctx, null);
  await runWebhookChange(ctx, webhook, (client) => client.testWebhook(webhook.id), ({ eventId }) => {
    sayWebhooks(ctx, { kind: "info", text: `Sent a test event (${eventId}) to ${webhook.url}. Its delivery shows under Deliveries.` });
  });
}

async function setStatus(ctx: ConsoleContext, webhook: Webhook, status: Webhook["status"]): Promise<void> {
  if (ctx.busy) return;
  sayWebhooks(ctx, null);
  await runWebhookChange(ctx, webhook, (client) => client.updateWebhook(webhook.id, { status }), (now) => {
    replaceWebhook(ctx, now);
    sayWebhooks(ctx, {
      kind: "info",
      text: status === "disabled" ? `Disabled ${webhook.url}: nothing is sent to it until it is enabled.` : `Enabled ${webhook.url}: events are sent to it again.`,
    });
  });
}

export function renderWebhooksSection(ctx: ConsoleContext): TemplateResult {
  const state = ctx.webhooks;
  const unusable = ctx.client() === undefined;
  return html`
    <section class="webhooks" aria-labelledby="webhooks-heading">
      <h2 id="webhooks-heading" class="section-heading">
        <button id="webhooks" type="button" class="disclosure" aria-expanded=${state.open ? "true" : "false"} aria-controls="webhooks-body" ?disabled=${unusable} @click=${() => toggle(ctx)}><span class="chevron" aria-hidden="true"></span>Webhooks</button>
      </h2>
      <p class="lead">Clavis POSTs events to your endpoints, signed: a credential created, rotated, revoked, expiring soon, leaked or near its quota, and more.</p>
      <div id="webhooks-body" ?hidden=${!state.open}>${state.open ? renderBody(ctx, state) : nothing}</div>
    </section>
  `;
}

function renderBody(ctx: ConsoleContext, state: WebhooksState): TemplateResult {
  const list = state.webhooks;
  const full = list !== null && list.length >= MAX_WEBHOOKS;
  return html`
    <div class="toolbar">
      <button id="add-endpoint" type="button" class="primary" aria-haspopup="dialog" ?disabled=${list === null || full} aria-describedby=${full ? "webhooks-full" : nothing}
        @click=${(e: Event) => ctx.open({ kind: "webhook-form", allEvents: true }, e)}>Add endpoint</button>
      ${full ? html`<p class="hint" id="webhooks-full">A tenant has at most ${MAX_WEBHOOKS} endpoints: delete one to add another.</p>` : nothing}
    </div>
    <div class="live" role="status">${state.notice?.kind === "info" ? html`<p class="notice info">${state.notice.text}</p>` : nothing}</div>
    <div class="live" role="alert">${state.notice?.kind === "error"
      ? html`<div class="notice error"><span>${state.notice.text}</span><button type="button" class="quiet" aria-label="Dismiss message" @click=${() => sayWebhooks(ctx, null)}>×</button></div>`
      : nothing}</div>
    ${state.error !== ""
      ? html`<div class="notice error"><span>${state.error}</span><button type="button" @click=${() => void loadWebhooks(ctx)}>Try again</button></div>`
      : list === null
        ? html`<p class="empty" aria-busy="true">Loading endpoints…</p>`
        : list.length === 0
          ? html`<div class="empty"><p><strong>No endpoints yet.</strong></p><p>Select <em>Add endpoint</em> to have Clavis send signed events to your server, such as <code>credential.expiring_soon</code> before a key expires.</p></div>`
          : html`<ul class="cards" aria-label="Webhook endpoints" aria-busy=${state.loading ? "true" : "false"}>
              ${repeat(list, (w) => w.id, (w) => renderEndpoint(ctx, w))}
            </ul>`}
  `;
}

function renderEndpoint(ctx: ConsoleContext, w: Webhook): TemplateResult {
  const id = `webhook-${w.id}`;
  const enabled = w.status === "enabled";
  const reason = disabledReasonText(w);
  const oldSecretSigns = w.previous_secret_valid_until !== null && Date.parse(w.previous_secret_valid_until) > Date.now();
  return html`
    <li class="card webhook" aria-labelledby=${`${id}-url`}>
      <div class="card-head">
        <h3 id=${`${id}-url`} class="url">${w.url}</h3>
        <span class="marks"><span class=${`badge ${enabled ? "active" : "disabled"}`}>${STATUS_WORDS[w.status] ?? w.status}</span></span>
      </div>
      ${w.description ? html`<p class="description">${w.description}</p>` : nothing}
      ${reason !== undefined ? html`<p class="reason" id=${`${id}-why`}>${reason}</p>` : nothing}
      <dl class="facts">
        <div class=${w.event_types === null ? "" : "event-types"}><dt>Events</dt><dd>${w.event_types === null
          ? "All events"
          : html`<ul class="scopes">${w.event_types.map((t) => html`<li><code>${t}</code></li>`)}</ul>`}</dd></div>
        <div><dt>Endpoint ID</dt><dd><code>${w.id}</code></dd></div>
        <div><dt>Added</dt><dd>${localTime(w.created_at, "")}</dd></div>
        ${w.secret_rotated_at !== null ? html`<div><dt>Secret rotated</dt><dd>${localTime(w.secret_rotated_at, "")}</dd></div>` : nothing}
        ${oldSecretSigns ? html`<div><dt>Old secret signs until</dt><dd>${localTime(w.previous_secret_valid_until, "")}</dd></div>` : nothing}
      </dl>
      <div class="actions">
        <button type="button" ?disabled=${!enabled} aria-describedby=${enabled ? nothing : `${id}-why`} aria-disabled=${ctx.busy ? "true" : "false"} @click=${() => void sendTest(ctx, w)}>Send test</button>
        <button type="button" aria-haspopup="dialog" @click=${(e: Event) => void openDeliveries(ctx, w, e)}>Deliveries</button>
        <button type="button" aria-haspopup="dialog" @click=${(e: Event) => ctx.open({ kind: "webhook-form", webhook: w, allEvents: w.event_types === null }, e)}>Edit</button>
        <button type="button" aria-disabled=${ctx.busy ? "true" : "false"} @click=${() => void setStatus(ctx, w, enabled ? "disabled" : "enabled")}>${enabled ? "Disable" : "Enable"}</button>
        <button type="button" aria-haspopup="dialog" @click=${(e: Event) => ctx.open({ kind: "webhook-rotate", webhook: w }, e)}>Rotate secret</button>
        <button type="button" class="danger" aria-haspopup="dialog" @click=${(e: Event) => ctx.open({ kind: "webhook-delete", webhook: w }, e)}>Delete</button>
      </div>
    </li>
  `;
}
