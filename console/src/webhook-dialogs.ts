// The webhook endpoints' dialogs: add or edit an endpoint (URL, event types as checkboxes with
// "All events" ticked by default, description), the one-time signing secret (after add or
// rotate), the confirmations of rotate and delete, and the deliveries table.
//
// The signing secret follows secret-dialog.ts's rules: it lives only in the dialog state
// (WebhookSecretDialog) while that dialog is open; never in storage, the URL, the list's state or
// the console. Closing drops the state and the dialog is emptied on render.

import { html, nothing } from "lit";
import type { TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import { ClavisError } from "@clavis/sdk";
import type { Webhook, WebhookDelivery } from "@clavis/sdk";

import { localTime, sentence } from "./format.js";
import { cancelButton, dialogErrorLine } from "./form-fields.js";
import {
  DELIVERY_STATE_WORDS,
  EVENT_GROUPS,
  MAX_DESCRIPTION_LENGTH,
  dueSoon,
  lastStatusText,
  newWebhook,
  webhookChanges,
  webhookFieldLabel,
  webhookFormValues,
} from "./webhook-form.js";
import type { WebhookFormValues } from "./webhook-form.js";
import { removeWebhook, replaceWebhook, runWebhookChange, sayWebhooks } from "./webhook-actions.js";
import type { ConsoleContext, WebhookConfirmDialog, WebhookDeliveriesDialog, WebhookFormDialog, WebhookSecretDialog } from "./state.js";

const DELIVERIES_PAGE = 25;
/** While a delivery is pending and due, the table reads the first page again this often. */
const POLL_MS = 2_000;
/** …and gives up after this many reads (the Reload button still works). */
const MAX_POLLS = 90;

// ---- add and edit ----

export function renderWebhookFormDialog(ctx: ConsoleContext, dialog: WebhookFormDialog): TemplateResult {
  const editing = dialog.webhook;
  const values = webhookFormValues(editing);
  return html`
    <form class="webhook-form" @submit=${(e: SubmitEvent) => void submitWebhookForm(ctx, e, dialog)} novalidate>
      <h2 id="dialog-title" tabindex="-1">${editing === undefined ? "Add endpoint" : "Edit endpoint"}</h2>
      <div class="field">
        <label for="webhook-url">Endpoint URL</label>
        <input id="webhook-url" name="url" type="url" inputmode="url" autocomplete="off" spellcheck="false" required maxlength="1024" autofocus
          placeholder="https://hooks.example.com/clavis" .value=${values.url} aria-describedby="webhook-url-hint">
        <p class="hint" id="webhook-url-hint">Clavis POSTs each event there as JSON and expects a 2xx answer within 15 seconds; anything else is retried for a little over a day. Use an <code>https://</code> address your server answers on.</p>
      </div>
      <fieldset class="event-types">
        <legend>Events to send</legend>
        <label class="check all"><input type="checkbox" name="all-events" .checked=${dialog.allEvents}
          @change=${(e: Event) => { ctx.dialog = { ...dialog, allEvents: (e.target as HTMLInputElement).checked }; }}> All events</label>
        ${dialog.allEvents
          ? html`<p class="hint">Every event type, including those added later. Untick to choose.</p>`
          : EVENT_GROUPS.map((group) => html`
              <fieldset class="event-group">
                <legend>${group.legend}</legend>
                ${group.types.map((type) => html`<label class="check"><input type="checkbox" name="event-types" value=${type} .checked=${values.eventTypes.includes(type)}> <code>${type}</code></label>`)}
              </fieldset>`)}
      </fieldset>
      <div class="field">
        <label for="webhook-description">Description (optional)</label>
        <input id="webhook-description" name="description" autocomplete="off" maxlength=${MAX_DESCRIPTION_LENGTH} .value=${values.description} placeholder="Pager alerts for expiring keys">
      </div>
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        ${cancelButton(ctx)}
        <button type="submit" class="primary" ?disabled=${ctx.busy}>${editing === undefined ? (ctx.busy ? "Adding…" : "Add") : ctx.busy ? "Saving…" : "Save changes"}</button>
      </div>
    </form>
  `;
}

function formValuesOf(form: HTMLFormElement, allEvents: boolean): WebhookFormValues {
  const data = new FormData(form);
  return {
    url: String(data.get("url") ?? ""),
    allEvents,
    eventTypes: data.getAll("event-types").map(String),
    description: String(data.get("description") ?? ""),
  };
}

async function submitWebhookForm(ctx: ConsoleContext, event: SubmitEvent, dialog: WebhookFormDialog): Promise<void> {
  event.preventDefault();
  if (ctx.busy) return;
  const values = formValuesOf(event.currentTarget as HTMLFormElement, dialog.allEvents);
  const editing = dialog.webhook;
  if (editing === undefined) {
    const made = newWebhook(values);
    if ("problem" in made) {
      ctx.dialogError = `${webhookFieldLabel(made.problem.field)}: ${made.problem.message}`;
      return;
    }
    const client = ctx.client();
    if (client === undefined) return;
    ctx.busy = true;
    ctx.dialogError = "";
    try {
      const issued = await client.createWebhook(made.webhook);
      replaceWebhook(ctx, issued.webhook);
      sayWebhooks(ctx, { kind: "info", text: `Added the endpoint ${issued.webhook.url}.` });
      ctx.show({ kind: "webhook-secret", issued, rotated: false });
    } catch (error) {
      ctx.dialogError = refusal(error);
    } finally {
      ctx.busy = false;
    }
    return;
  }
  const changed = webhookChanges(editing, values);
  if ("problem" in changed) {
    ctx.dialogError = `${webhookFieldLabel(changed.problem.field)}: ${changed.problem.message}`;
    return;
  }
  if (Object.keys(changed.changes).length === 0) {
    ctx.close();
    sayWebhooks(ctx, { kind: "info", text: `Nothing changed in ${editing.url}.` });
    return;
  }
  await runWebhookChange(ctx, editing, (client) => client.updateWebhook(editing.id, changed.changes), (now) => {
    replaceWebhook(ctx, now);
    ctx.close();
    sayWebhooks(ctx, { kind: "info", text: `Saved the endpoint ${now.url}.` });
  });
}

/** A refusal of the form, naming the field when the API names one. */
function refusal(error: unknown): string {
  const label = error instanceof ClavisError ? webhookFieldLabel(error.field) : undefined;
  return label === undefined ? sentence(error) : `${label}: ${sentence(error)}`;
}

// ---- the one-time signing secret ----

export function renderWebhookSecretDialog(ctx: ConsoleContext, dialog: WebhookSecretDialog): TemplateResult {
  const { issued, rotated } = dialog;
  const w = issued.webhook;
  return html`
    <div class="secret">
      <h2 id="dialog-title" tabindex="-1">${rotated ? "New signing secret" : "Endpoint added"}</h2>
      <p class="url-line"><code>${w.url}</code></p>
      <p class="warning" role="note"><strong>Copy the signing secret now. It cannot be shown again</strong> — not here, not by the API. If it is lost, rotate the secret to get a new one.</p>
      <label for="webhook-secret">Signing secret</label>
      <textarea id="webhook-secret" readonly rows="2" spellcheck="false" autocomplete="off" autofocus .value=${issued.secret}
        @focus=${(e: Event) => (e.target as HTMLTextAreaElement).select()}></textarea>
      <div class="secret-actions">
        <button type="button" @click=${() => void copySecret(ctx, issued.secret)}>Copy</button>
      </div>
      <p class="copied" role="status">${ctx.copied}</p>
      ${rotated && w.previous_secret_valid_until !== null
        ? html`<p>The old secret keeps signing beside this one until ${localTime(w.previous_secret_valid_until, "")}: each request carries both signatures until then, so switch your endpoint to the new secret before that.</p>`
        : nothing}
      <p class="hint">Your endpoint checks each request's <code>webhook-signature</code> header with it, as Standard Webhooks specifies (any of its libraries does this). Keep it in a secret manager or an environment variable; never commit it.</p>
      <div class="dialog-actions">
        <button type="button" class="primary" @click=${() => ctx.close()}>I have saved the secret</button>
      </div>
    </div>
  `;
}

async function copySecret(ctx: ConsoleContext, secret: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(secret);
    ctx.copied = "Copied to the clipboard.";
  } catch {
    const field = ctx.root.querySelector<HTMLTextAreaElement>("#webhook-secret");
    field?.focus();
    field?.select();
    ctx.copied = "The browser did not allow copying: the secret is selected, press Ctrl+C (⌘C on a Mac) to copy it.";
  }
}

// ---- rotate and delete ----

export function renderWebhookRotateDialog(ctx: ConsoleContext, dialog: WebhookConfirmDialog<"webhook-rotate">): TemplateResult {
  const w = dialog.webhook;
  return html`
    <form @submit=${(e: SubmitEvent) => void submitRotate(ctx, e, w)} novalidate>
      <h2 id="dialog-title" tabindex="-1">Rotate the signing secret?</h2>
      <p class="url-line"><code>${w.url}</code></p>
      <p>A new secret is shown once. The current one keeps signing beside it for 24 hours, so your endpoint can switch to the new one without missing an event.</p>
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        ${cancelButton(ctx)}
        <button type="submit" class="primary" autofocus ?disabled=${ctx.busy}>Rotate secret</button>
      </div>
    </form>
  `;
}

async function submitRotate(ctx: ConsoleContext, event: SubmitEvent, webhook: Webhook): Promise<void> {
  event.preventDefault();
  await runWebhookChange(ctx, webhook, (client) => client.rotateWebhookSecret(webhook.id), (issued) => {
    replaceWebhook(ctx, issued.webhook);
    sayWebhooks(ctx, { kind: "info", text: `Rotated the signing secret of ${webhook.url}.` });
    ctx.show({ kind: "webhook-secret", issued, rotated: true });
  });
}

export function renderWebhookDeleteDialog(ctx: ConsoleContext, dialog: WebhookConfirmDialog<"webhook-delete">): TemplateResult {
  const w = dialog.webhook;
  return html`
    <form @submit=${(e: SubmitEvent) => void submitDelete(ctx, e, w)} novalidate>
      <h2 id="dialog-title" tabindex="-1">Delete this endpoint?</h2>
      <p class="url-line"><code>${w.url}</code></p>
      <p>Nothing more is sent to it, and its deliveries can no longer be read. This cannot be undone; the tenant's audit trail keeps a <code>webhook.deleted</code> event.</p>
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        <button type="button" class="quiet" autofocus ?disabled=${ctx.busy} @click=${() => ctx.close()}>Cancel</button>
        <button type="submit" class="danger solid" ?disabled=${ctx.busy}>Delete</button>
      </div>
    </form>
  `;
}

async function submitDelete(ctx: ConsoleContext, event: SubmitEvent, webhook: Webhook): Promise<void> {
  event.preventDefault();
  await runWebhookChange(ctx, webhook, (client) => client.deleteWebhook(webhook.id), () => {
    removeWebhook(ctx, webhook.id);
    ctx.close("#add-endpoint");
    sayWebhooks(ctx, { kind: "info", text: `Deleted the endpoint ${webhook.url}.` });
  });
}

// ---- deliveries ----

let openings = 0;

/** Opens the deliveries of an endpoint (empty while the first page loads) and reads it. */
export async function openDeliveries(ctx: ConsoleContext, webhook: Webhook, event: Event): Promise<void> {
  const opened = ++openings;
  ctx.open({ kind: "webhook-deliveries", webhook, deliveries: null, cursor: null, loading: true, opened }, event);
  await loadDeliveries(ctx, opened, "first");
}

function current(ctx: ConsoleContext, opened: number): WebhookDeliveriesDialog | undefined {
  const dialog = ctx.dialog;
  return dialog?.kind === "webhook-deliveries" && dialog.opened === opened ? dialog : undefined;
}

/** Reads the first page again ("first") or the next one ("more"); then, if a delivery is due soon, looks again later. */
async function loadDeliveries(ctx: ConsoleContext, opened: number, which: "first" | "more", polls = 0): Promise<void> {
  const client = ctx.client();
  const before = current(ctx, opened);
  if (client === undefined || before === undefined) return;
  if (which === "more" && before.cursor === null) return;
  ctx.dialog = { ...before, loading: true };
  try {
    const page = await client.webhookDeliveries(before.webhook.id, {
      limit: DELIVERIES_PAGE,
      ...(which === "more" && before.cursor !== null ? { cursor: before.cursor } : {}),
    });
    const now = current(ctx, opened);
    if (now === undefined) return;
    const known = new Set((now.deliveries ?? []).map((k) => k.event_id));
    // "first" starts over from the newest (pages read after it are dropped); "more" appends.
    const deliveries = which === "more" ? [...(now.deliveries ?? []), ...page.deliveries.filter((d) => !known.has(d.event_id))] : page.deliveries;
    ctx.dialog = { ...now, deliveries, cursor: page.next_cursor, loading: false };
    if (ctx.dialogError !== "" && which === "first") ctx.dialogError = "";
    if (which === "first" && polls < MAX_POLLS && ctx.root.isConnected && dueSoon(page.deliveries, Date.now())) {
      setTimeout(() => void loadDeliveries(ctx, opened, "first", polls + 1), POLL_MS);
    }
  } catch (error) {
    const now = current(ctx, opened);
    if (now === undefined) return;
    ctx.dialog = { ...now, loading: false };
    if (error instanceof ClavisError && error.status === 404) {
      removeWebhook(ctx, now.webhook.id);
      ctx.close("#add-endpoint");
      sayWebhooks(ctx, { kind: "error", text: `The endpoint ${now.webhook.url} no longer exists; it was deleted elsewhere.` });
      return;
    }
    ctx.dialogError = sentence(error);
  }
}

export function renderWebhookDeliveriesDialog(ctx: ConsoleContext, dialog: WebhookDeliveriesDialog): TemplateResult {
  const w = dialog.webhook;
  const deliveries = dialog.deliveries;
  return html`
    <div class="deliveries">
      <h2 id="dialog-title" tabindex="-1" autofocus>Deliveries</h2>
      <p class="url-line"><code>${w.url}</code></p>
      <p class="hint">Newest first. A delivery that gets no 2xx answer within 15 seconds is tried again after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, then it has failed.</p>
      ${deliveries === null
        ? ctx.dialogError === "" ? html`<p aria-busy="true">Loading deliveries…</p>` : nothing
        : deliveries.length === 0
          ? html`<p class="empty">Nothing has been sent to this endpoint yet. <em>Send test</em> sends it a <code>webhook.test</code> event.</p>`
          : renderDeliveriesTable(deliveries, dialog.loading)}
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        ${dialog.cursor !== null && deliveries !== null
          ? html`<button type="button" ?disabled=${dialog.loading} @click=${() => void loadDeliveries(ctx, dialog.opened, "more")}>Show more deliveries</button>`
          : nothing}
        <button type="button" aria-disabled=${dialog.loading ? "true" : "false"} @click=${() => { if (!dialog.loading) void loadDeliveries(ctx, dialog.opened, "first"); }}>Reload</button>
        <button type="button" class="primary" @click=${() => ctx.close()}>Close</button>
      </div>
    </div>
  `;
}

/**
 * The table; on a narrow screen each row becomes a small card of labelled cells (styles.ts). The
 * explicit roles keep it a table for assistive technology whatever its CSS display is.
 */
function renderDeliveriesTable(deliveries: readonly WebhookDelivery[], loading: boolean): TemplateResult {
  const cell = (label: string, content: unknown, cls = ""): TemplateResult => html`<td role="cell" data-label=${label} class=${cls}><span class="v">${content}</span></td>`;
  return html`
    <div class="table-wrap" role="region" aria-labelledby="deliveries-caption" tabindex="0">
      <table role="table" aria-busy=${loading ? "true" : "false"}>
        <caption id="deliveries-caption">Deliveries, newest first</caption>
        <thead role="rowgroup">
          <tr role="row">${["Event", "Type", "Attempts", "Last status", "Next attempt", "State"].map((h) => html`<th role="columnheader" scope="col">${h}</th>`)}</tr>
        </thead>
        <tbody role="rowgroup">
          ${repeat(deliveries, (d) => d.event_id, (d) => html`
            <tr role="row">
              <th role="rowheader" scope="row" data-label="Event"><span class="v"><code>${d.event_id}</code><span class="when">${localTime(d.created_at, "")}</span></span></th>
              ${cell("Type", html`<code>${d.type}</code>`)}
              ${cell("Attempts", d.attempts, "number")}
              ${cell("Last status", lastStatusText(d))}
              ${cell("Next attempt", localTime(d.next_attempt_at, "—"))}
              ${cell("State", html`<span class=${`badge ${d.state}`}>${DELIVERY_STATE_WORDS[d.state] ?? d.state}</span>`)}
            </tr>`)}
        </tbody>
      </table>
    </div>
  `;
}
