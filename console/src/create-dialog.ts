// The create dialog: name, description, scopes, environment and expiry. On success the dialog
// turns into the one-time secret dialog (secret-dialog.ts).

import { html } from "lit";
import type { TemplateResult } from "lit";
import type { TenantClient } from "@clavis/sdk";

import { parseScopes, scopeProblem } from "./files.js";
import { sentence } from "./format.js";
import { cancelButton, dialogErrorLine, expiryFields, expiryFromForm, expiryModeSelect, scopeField } from "./form-fields.js";
import type { ConsoleContext } from "./state.js";

export function renderCreateDialog(ctx: ConsoleContext): TemplateResult {
  return html`
    <form @submit=${(e: SubmitEvent) => submitCreate(ctx, e)} novalidate>
      <h2 id="dialog-title" tabindex="-1">Create credential</h2>
      <label>Name<input name="name" required maxlength="100" autocomplete="off" autofocus placeholder="Inventory sync – production"></label>
      <label>Description (optional)<textarea name="description" maxlength="500" rows="2"></textarea></label>
      ${scopeField(ctx, "")}
      <label>Environment
        <select name="environment"><option value="live">Live</option><option value="test">Test</option></select>
      </label>
      ${expiryModeSelect(ctx, "Expiry", [["none", "Never expires"], ["date", "Expires on a date"], ["days", "Expires after a number of days"]])}
      ${expiryFields(ctx.expiryMode)}
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        ${cancelButton(ctx)}
        <button type="submit" class="primary" ?disabled=${ctx.busy}>${ctx.busy ? "Creating…" : "Create"}</button>
      </div>
    </form>
  `;
}

async function submitCreate(ctx: ConsoleContext, event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const data = new FormData(form);
  const name = String(data.get("name") ?? "").trim();
  const description = String(data.get("description") ?? "").trim();
  const scopes = parseScopes(String(data.get("scopes") ?? ""));
  const environment = String(data.get("environment") ?? "live") === "test" ? "test" : "live";
  if (name === "") {
    ctx.dialogError = "Give the credential a name, such as “Inventory sync – production”.";
    return;
  }
  const scopeError = scopeProblem(scopes);
  if (scopeError !== undefined) {
    ctx.dialogError = scopeError;
    return;
  }
  const body: Parameters<TenantClient["create"]>[0] = { name, scopes, environment };
  if (description !== "") body.description = description;
  const expiry = expiryFromForm(ctx.expiryMode, data);
  if (typeof expiry === "string") {
    ctx.dialogError = expiry;
    return;
  }
  if (expiry !== null && "days" in expiry) body.expires_in_days = expiry.days;
  if (expiry !== null && "at" in expiry) body.expires_at = expiry.at.toISOString();

  const client = ctx.client();
  if (client === undefined || ctx.busy) return;
  ctx.busy = true;
  ctx.dialogError = "";
  try {
    // The SDK sends a fresh idempotency key and repeats with it if the answer is lost.
    const issued = await client.create(body);
    ctx.replace(issued.credential);
    ctx.notice = { kind: "info", text: `Created “${issued.credential.name}”.` };
    ctx.show({ kind: "secret", issued, rotated: false });
  } catch (error) {
    ctx.dialogError = sentence(error);
  } finally {
    ctx.busy = false;
  }
}
