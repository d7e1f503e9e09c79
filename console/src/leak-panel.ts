// Leaked secrets in the console: a leaked credential's mark and notice on its card (what happened
// and what to do), and the "Report a leaked secret" dialog for a secret an admin found.
//
// The secret pasted into the dialog is read once from its field, which is emptied at once, and
// handed to the SDK's request body: it is never in the dialog state, storage, the URL or the
// console, and the field has no `name`, so no form submission can ever carry it.

import { html, nothing } from "lit";
import type { TemplateResult } from "lit";
import { ClavisError } from "@clavis/sdk";
import type { Credential } from "@clavis/sdk";

import { localTime, sentence } from "./format.js";
import { cancelButton, dialogErrorLine } from "./form-fields.js";
import { leakAdvice, leakHeadlineParts, leakReportInput, linkableUrl, reportOutcome } from "./leak-notice.js";
import type { ConsoleContext, LeakReportDialog } from "./state.js";

/** The card's mark beside its status, for a credential whose current secret was reported leaked. */
export function renderLeakMark(credential: Credential): TemplateResult | typeof nothing {
  return credential.leak ? html`<span class="badge leaked">Leaked</span>` : nothing;
}

/** The card's notice: when and how the leak was reported, what was done, and what to do now. */
export function renderLeakNotice(credential: Credential): TemplateResult | typeof nothing {
  const leak = credential.leak;
  if (!leak) return nothing;
  const id = `cred-${credential.client_id}-leak`;
  const parts = leakHeadlineParts(leak);
  return html`
    <div class="leak-notice" role="status" aria-labelledby=${id}>
      <p id=${id}><strong>${parts.before} ${localTime(leak.reported_at, "")} ${parts.after}</strong></p>
      ${leak.url
        ? html`<p class="where">Found at ${linkableUrl(leak.url)
            ? html`<a href=${leak.url} target="_blank" rel="noopener noreferrer">${leak.url}</a>`
            : html`<code>${leak.url}</code>`}</p>`
        : nothing}
      <p class="fix"><strong>What to do:</strong> ${leakAdvice(leak.action)}</p>
    </div>
  `;
}

/** The tenant's control, next to Policy: opens the report dialog. */
export function renderReportLeakButton(ctx: ConsoleContext): TemplateResult {
  return html`<button id="report-leak" type="button" aria-haspopup="dialog" ?disabled=${ctx.client() === undefined}
    @click=${(e: Event) => ctx.open({ kind: "leak-report", outcome: null }, e)}>Report a leaked secret</button>`;
}

export function renderReportLeakDialog(ctx: ConsoleContext, dialog: LeakReportDialog): TemplateResult {
  return dialog.outcome === null ? reportForm(ctx) : reportAnswer(ctx, dialog);
}

function reportForm(ctx: ConsoleContext): TemplateResult {
  return html`
    <form class="leak-report" @submit=${(e: SubmitEvent) => submitReport(ctx, e)} novalidate autocomplete="off">
      <h2 id="dialog-title" tabindex="-1">Report a leaked secret</h2>
      <p>Found a Client Secret of ${ctx.tenant ? html`<strong>${ctx.tenant}</strong>` : "this tenant"} where it should not be (a repository, a ticket, a chat)? Paste it here: Clavis finds its credential and applies the tenant's policy for leaks (revoke, suspend or only notify).</p>
      <div class="field">
        <label for="leak-secret">Leaked secret</label>
        <input id="leak-secret" type="password" autocomplete="off" spellcheck="false" autocapitalize="off" autofocus required aria-describedby="leak-secret-hint">
        <p class="hint" id="leak-secret-hint">The whole secret, starting csk_live_ or csk_test_. It is sent once to Clavis and not kept on this page.</p>
      </div>
      <div class="field">
        <label for="leak-url">Where was it found (URL)</label>
        <input id="leak-url" name="source-url" type="url" inputmode="url" autocomplete="off" spellcheck="false" maxlength="2048" placeholder="https://github.com/…" aria-describedby="leak-url-hint">
        <p class="hint" id="leak-url-hint">Optional. Kept in the audit trail.</p>
      </div>
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        ${cancelButton(ctx)}
        <button type="submit" class="danger solid" aria-disabled=${ctx.busy ? "true" : "false"}>${ctx.busy ? "Reporting…" : "Report leak"}</button>
      </div>
    </form>
  `;
}

function reportAnswer(ctx: ConsoleContext, dialog: LeakReportDialog): TemplateResult {
  const outcome = dialog.outcome!;
  const words = reportOutcome(outcome.report, outcome.credential);
  return html`
    <div class="leak-answer">
      <h2 id="dialog-title" tabindex="-1" autofocus>Leak reported</h2>
      <div role="status">
        <p>${words.credential}</p>
        <p><strong>${words.action}</strong></p>
        ${words.advice !== "" ? html`<p class="fix"><strong>What to do:</strong> ${words.advice}</p>` : nothing}
      </div>
      <div class="dialog-actions">
        <button type="button" @click=${() => ctx.show({ kind: "leak-report", outcome: null })}>Report another secret</button>
        <button type="button" class="primary" @click=${() => ctx.close()}>Close</button>
      </div>
    </div>
  `;
}

async function submitReport(ctx: ConsoleContext, event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const client = ctx.client();
  const field = ctx.root.querySelector<HTMLInputElement>("#leak-secret");
  const urlField = ctx.root.querySelector<HTMLInputElement>("#leak-url");
  if (client === undefined || field === null || ctx.busy) return;
  // Read once, then the field is emptied whatever happens next.
  const input = leakReportInput(field.value, urlField?.value ?? "");
  field.value = "";
  if ("problem" in input) {
    ctx.dialogError = input.problem.field === "secret" ? input.problem.message : `Where was it found (URL): ${input.problem.message}`;
    (input.problem.field === "secret" ? field : urlField)?.focus();
    return;
  }
  ctx.busy = true;
  ctx.dialogError = "";
  try {
    const report = await client.reportLeak(input);
    // The credential as it is now (revoked, suspended, marked): for its name here and its card.
    let credential: Credential | undefined;
    try {
      credential = (await client.get(report.client_id)).credential;
    } catch {
      credential = undefined; // the answer still names the client ID
    }
    ctx.reload();
    if (ctx.dialog?.kind !== "leak-report") return;
    ctx.show({ kind: "leak-report", outcome: { report, ...(credential !== undefined ? { credential } : {}) } });
  } catch (error) {
    if (ctx.dialog?.kind !== "leak-report") return;
    ctx.dialogError = refusal(error);
    field.focus();
  } finally {
    ctx.busy = false;
  }
}

/** A refused report in words; the secret is never quoted (the API's sentences do not hold it either). */
function refusal(error: unknown): string {
  if (error instanceof ClavisError) {
    if (error.code === "secret_not_found") {
      return "No credential of this tenant was issued this secret. Check that it was pasted whole, and that it belongs to this tenant. Nothing was changed.";
    }
    if (error.code === "invalid_secret") {
      return "This is not a Clavis secret (its checksum does not match): check that it was pasted whole. Nothing was changed.";
    }
    if (error.field === "source_url") return `Where was it found (URL): ${sentence(error)}`;
  }
  return sentence(error);
}
