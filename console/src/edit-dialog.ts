// The edit-details dialog: name, description and scopes of a credential that is not revoked.

import { html } from "lit";
import type { TemplateResult } from "lit";
import type { Credential } from "@clavis/sdk";

import { runChange } from "./change.js";
import { parseScopes, scopeProblem } from "./files.js";
import { cancelButton, dialogErrorLine, scopeField } from "./form-fields.js";
import type { ConsoleContext, EditDialog } from "./state.js";

export function renderEditDialog(ctx: ConsoleContext, dialog: EditDialog): TemplateResult {
  const c = dialog.credential;
  return html`
    <form @submit=${(e: SubmitEvent) => submitEdit(ctx, e, c)} novalidate>
      <h2 id="dialog-title" tabindex="-1">Edit “${c.name}”</h2>
      <label>Name<input name="name" required maxlength="100" autocomplete="off" autofocus .value=${c.name}></label>
      <label>Description (optional)<textarea name="description" maxlength="500" rows="2" .value=${c.description}></textarea></label>
      ${scopeField(ctx, c.scopes.join(", "))}
      <p class="hint">Added scopes apply to the next token. Removed scopes stop working at once, for tokens already issued too.</p>
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        ${cancelButton(ctx)}
        <button type="submit" class="primary" ?disabled=${ctx.busy}>Save changes</button>
      </div>
    </form>
  `;
}

async function submitEdit(ctx: ConsoleContext, event: SubmitEvent, credential: Credential): Promise<void> {
  event.preventDefault();
  const data = new FormData(event.currentTarget as HTMLFormElement);
  const name = String(data.get("name") ?? "").trim();
  const description = String(data.get("description") ?? "").trim();
  const scopes = parseScopes(String(data.get("scopes") ?? ""));
  if (name === "") {
    ctx.dialogError = "The name cannot be empty.";
    return;
  }
  const scopeError = scopeProblem(scopes);
  if (scopeError !== undefined) {
    ctx.dialogError = scopeError;
    return;
  }
  const changes: { name?: string; description?: string; scopes?: string[] } = {};
  if (name !== credential.name) changes.name = name;
  if (description !== credential.description) changes.description = description;
  if (scopes.join(" ") !== credential.scopes.join(" ")) changes.scopes = scopes;
  if (Object.keys(changes).length === 0) {
    ctx.close();
    return;
  }
  await runChange(
    ctx,
    credential,
    (client, ifMatch) => client.update(credential.client_id, changes, { ifMatch }),
    (result) => {
      ctx.replace(result as Credential);
      ctx.close();
      ctx.notice = { kind: "info", text: `Saved “${(result as Credential).name}”. Added scopes apply to the next token it gets; removed ones stop at once.` };
    },
  );
}
