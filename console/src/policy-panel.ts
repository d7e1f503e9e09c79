// The Policy panel: the tenant's rules for its credentials, in the console's dialog (a control
// named "Policy" opens it). It reads the policy, shows it as a form, and saves the whole document
// with If-Match of the version it loaded: a 412 (changed meanwhile) reloads the form with the
// current policy and says so; a refused field is named. Saving reloads the list, where a
// credential the policy now blocks is marked "Blocked by policy" with why and how to fix it.

import { html, nothing } from "lit";
import type { TemplateResult } from "lit";
import { keyed } from "lit/directives/keyed.js";
import { ClavisError } from "@clavis/sdk";
import type { Credential, Policy } from "@clavis/sdk";

import { parseScopes } from "./files.js";
import { localTime, sentence } from "./format.js";
import { cancelButton, dialogErrorLine } from "./form-fields.js";
import { ENVIRONMENTS, LEAK_ACTIONS, MAX_GRACE_SECONDS, MAX_LIFETIME_DAYS, fieldLabel, formValues, policyDocument } from "./policy-form.js";
import type { ConsoleContext, PolicyDialog } from "./state.js";

/** The control that opens the panel. */
export function renderPolicyButton(ctx: ConsoleContext): TemplateResult {
  return html`<button id="policy" type="button" aria-haspopup="dialog" ?disabled=${ctx.client() === undefined} @click=${(e: Event) => openPolicy(ctx, e)}>Policy</button>`;
}

/** Opens the panel (empty while it loads) and reads the policy. */
export async function openPolicy(ctx: ConsoleContext, event: Event): Promise<void> {
  ctx.open({ kind: "policy", policy: null }, event);
  const client = ctx.client();
  if (client === undefined) return;
  try {
    const { policy } = await client.policy();
    if (ctx.dialog?.kind === "policy") ctx.show({ kind: "policy", policy });
  } catch (error) {
    if (ctx.dialog?.kind === "policy") ctx.dialogError = sentence(error);
  }
}

export function renderPolicyDialog(ctx: ConsoleContext, dialog: PolicyDialog): TemplateResult {
  const policy = dialog.policy;
  return html`
    <form class="policy" @submit=${(e: SubmitEvent) => submitPolicy(ctx, e, policy)} novalidate>
      <h2 id="dialog-title" tabindex="-1">Tenant policy</h2>
      <p>Rules every credential of ${ctx.tenant ? html`<strong>${ctx.tenant}</strong>` : "this tenant"} must follow. Creating, rotating or editing a credential against them is refused; a credential made before a rule was tightened is blocked (not revoked) until it is fixed or the rule relaxed.</p>
      ${policy === null
        ? ctx.dialogError === "" ? html`<p aria-busy="true">Loading the policy…</p>` : nothing
        : keyed(policy.version, policyFields(ctx, policy))}
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        ${cancelButton(ctx, policy === null ? "Close" : "Cancel")}
        ${policy === null
          ? nothing
          : // aria-disabled, not disabled, while saving: a disabled button would drop the focus, which
            // should stay here, next to the alert that says how the save went (submitPolicy ignores it).
            html`<button type="submit" class="primary" aria-disabled=${ctx.busy ? "true" : "false"}>${ctx.busy ? "Saving…" : "Save policy"}</button>`}
      </div>
    </form>
  `;
}

/** The fields, showing `policy`; re-created (keyed by version) when the policy is reloaded. */
function policyFields(ctx: ConsoleContext, policy: Policy): TemplateResult {
  const values = formValues(policy);
  return html`
    <p class="hint">${policy.version === 0
      ? "No policy has been set: every credential is allowed."
      : html`Version ${policy.version}, saved ${localTime(policy.updated_at, "")}${policy.updated_by ? ` by ${policy.updated_by}` : ""}.`}</p>
    <div class="field">
      <label for="policy-max-lifetime">Maximum lifetime (days)</label>
      <input id="policy-max-lifetime" name="max-lifetime" type="number" min="1" max=${MAX_LIFETIME_DAYS} step="1" inputmode="numeric" autofocus .value=${values.maxLifetimeDays} aria-describedby="policy-max-lifetime-hint">
      <p class="hint" id="policy-max-lifetime-hint">Every credential must expire within this many days of when its expiry is set (1 to ${MAX_LIFETIME_DAYS}); a limit requires an expiry. Empty: no limit.</p>
    </div>
    <label class="check"><input type="checkbox" name="require-expiry" .checked=${values.requireExpiry}> Require an expiry date</label>
    <div class="field">
      <label for="policy-max-grace">Maximum grace period (seconds)</label>
      <input id="policy-max-grace" name="max-grace" type="number" min="0" max=${MAX_GRACE_SECONDS} step="1" inputmode="numeric" .value=${values.maxGraceSeconds} aria-describedby="policy-max-grace-hint">
      <p class="hint" id="policy-max-grace-hint">How long a replaced secret may keep working after a rotation (0 to ${MAX_GRACE_SECONDS.toLocaleString()}; 0 ends it at once). Empty: no limit beyond the rotation's own (7 days).</p>
    </div>
    <div class="field">
      <label for="policy-scopes">Allowed scopes</label>
      <input id="policy-scopes" name="allowed-scopes" autocomplete="off" spellcheck="false" .value=${values.allowedScopes} placeholder="Any scope" aria-describedby="policy-scopes-hint">
      <p class="hint" id="policy-scopes-hint">The only scopes credentials may carry, as resource:action, separated by commas or spaces. Empty: any scope.</p>
      ${ctx.catalogue.length === 0
        ? nothing
        : html`<div class="suggestions" role="group" aria-label="Scopes of the catalogue">
            ${ctx.catalogue.map((s) => html`<button type="button" class="chip" title=${s.description} @click=${() => addAllowedScope(ctx, s.scope)}>+ ${s.scope}</button>`)}
          </div>`}
    </div>
    <fieldset>
      <legend>Allowed environments</legend>
      ${ENVIRONMENTS.map(([env, word]) => html`<label class="check"><input type="checkbox" name="environments" value=${env} .checked=${values.allowedEnvironments.includes(env)}> ${word}</label>`)}
    </fieldset>
    <div class="field">
      <label for="policy-leak-action">When a secret leaks</label>
      <select id="policy-leak-action" name="leak-action" aria-describedby="policy-leak-hint">
        ${LEAK_ACTIONS.map(([action, text]) => html`<option value=${action} ?selected=${action === values.leakAction}>${text}</option>`)}
      </select>
      <p class="hint" id="policy-leak-hint">What Clavis does to a credential whose secret is reported leaked.</p>
    </div>
  `;
}

function addAllowedScope(ctx: ConsoleContext, scope: string): void {
  const field = ctx.root.querySelector<HTMLInputElement>("#policy-scopes");
  if (field === null) return;
  const scopes = parseScopes(field.value);
  if (!scopes.includes(scope)) scopes.push(scope);
  field.value = scopes.join(", ");
}

async function submitPolicy(ctx: ConsoleContext, event: SubmitEvent, loaded: Policy | null): Promise<void> {
  event.preventDefault();
  const client = ctx.client();
  if (loaded === null || client === undefined || ctx.busy) return;
  const data = new FormData(event.currentTarget as HTMLFormElement);
  const result = policyDocument({
    maxLifetimeDays: String(data.get("max-lifetime") ?? ""),
    requireExpiry: data.get("require-expiry") === "on",
    maxGraceSeconds: String(data.get("max-grace") ?? ""),
    allowedScopes: String(data.get("allowed-scopes") ?? ""),
    allowedEnvironments: data.getAll("environments").map(String),
    leakAction: String(data.get("leak-action") ?? ""),
  });
  if ("problem" in result) {
    ctx.dialogError = `${fieldLabel(result.problem.field) ?? result.problem.field}: ${result.problem.message}`;
    return;
  }
  ctx.busy = true;
  ctx.dialogError = "";
  try {
    const { policy } = await client.setPolicy(result.document, { ifMatch: loaded.version });
    ctx.close();
    ctx.notice = { kind: "info", text: `Saved the policy (version ${policy.version}). Credentials that break it cannot get tokens until they are fixed.` };
    ctx.reload();
  } catch (error) {
    if (error instanceof ClavisError && error.status === 412) {
      await reloadAfterConflict(ctx, error.policy);
    } else if (error instanceof ClavisError && error.status === 400) {
      const label = fieldLabel(error.field);
      ctx.dialogError = label === undefined ? sentence(error) : `${label}: ${sentence(error)}`;
    } else {
      ctx.dialogError = sentence(error);
    }
  } finally {
    ctx.busy = false;
  }
}

/** After a 412: the form shows the policy as it is now, and the alert says nothing was saved. */
async function reloadAfterConflict(ctx: ConsoleContext, current: Policy | undefined): Promise<void> {
  let policy = current;
  if (policy === undefined) {
    try {
      policy = (await ctx.client()!.policy()).policy;
    } catch (again) {
      ctx.dialogError = `The policy was changed since you loaded it, so nothing was saved, and it could not be read again: ${sentence(again)}`;
      return;
    }
  }
  if (ctx.dialog?.kind !== "policy") return;
  // The fields are re-created with the current values; focus stays on Save policy, next to the alert.
  ctx.dialog = { kind: "policy", policy };
  const by = policy.updated_by ? ` (saved by ${policy.updated_by})` : "";
  ctx.dialogError = `The policy was changed since you loaded it, so nothing was saved. The form now shows the current policy${by}: check it, make your change again and save.`;
}

/**
 * A credential the policy blocks: the words "Blocked by policy", the reasons (the API's
 * sentences) and the fix. Nothing for a credential that complies.
 */
export function renderPolicyViolations(credential: Credential): TemplateResult | typeof nothing {
  const reasons = credential.policy_violations ?? [];
  if (reasons.length === 0) return nothing;
  const id = `cred-${credential.client_id}-blocked`;
  return html`
    <div class="blocked" role="group" aria-labelledby=${id}>
      <p id=${id}><strong>Blocked by policy</strong></p>
      <p class="why">It cannot get tokens, and its tokens are refused, because:</p>
      <ul>${reasons.map((reason) => html`<li>${reason}</li>`)}</ul>
      <p class="fix">Edit its expiry or scopes, or relax the tenant's policy (Policy), to unblock it.</p>
    </div>
  `;
}
