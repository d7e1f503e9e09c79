// The status changes: revoke and delete ask first (each its own confirm dialog); suspend and
// reactivate are undoable, so they take no dialog and run straight from the card's buttons.

import { html } from "lit";
import type { TemplateResult } from "lit";
import type { Credential } from "@clavis/sdk";

import { runChange } from "./change.js";
import { cancelButton, dialogErrorLine } from "./form-fields.js";
import type { ConsoleContext, DeleteDialog, RevokeDialog } from "./state.js";

export function renderRevokeDialog(ctx: ConsoleContext, dialog: RevokeDialog): TemplateResult {
  return html`
    <form @submit=${(e: SubmitEvent) => submitRevoke(ctx, e, dialog.credential)} novalidate>
      <h2 id="dialog-title" tabindex="-1">Revoke “${dialog.credential.name}”?</h2>
      <p><strong>Revoking is permanent and cannot be undone.</strong> The integration using <code>${dialog.credential.client_id}</code> can no longer get tokens. To give it access again you will have to create a new credential.</p>
      <label>Reason (optional, kept in the audit trail)<input name="reason" maxlength="500" autocomplete="off" autofocus></label>
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        ${cancelButton(ctx)}
        <button type="submit" class="danger solid" ?disabled=${ctx.busy}>Revoke</button>
      </div>
    </form>
  `;
}

export function renderDeleteDialog(ctx: ConsoleContext, dialog: DeleteDialog): TemplateResult {
  return html`
    <form @submit=${(e: SubmitEvent) => submitDelete(ctx, e, dialog.credential)} novalidate>
      <h2 id="dialog-title" tabindex="-1">Delete “${dialog.credential.name}”?</h2>
      <p>The credential <code>${dialog.credential.client_id}</code> is removed and cannot be recovered; any integration using it stops working. Its audit trail is kept.</p>
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        <button type="button" class="quiet" autofocus ?disabled=${ctx.busy} @click=${() => ctx.close()}>Cancel</button>
        <button type="submit" class="danger solid" ?disabled=${ctx.busy}>Delete</button>
      </div>
    </form>
  `;
}

async function submitRevoke(ctx: ConsoleContext, event: SubmitEvent, credential: Credential): Promise<void> {
  event.preventDefault();
  const reason = String(new FormData(event.currentTarget as HTMLFormElement).get("reason") ?? "").trim();
  await runChange(
    ctx,
    credential,
    (client, ifMatch) => client.revoke(credential.client_id, { ifMatch, ...(reason !== "" ? { reason } : {}) }),
    (result) => {
      ctx.replace(result as Credential);
      ctx.close();
      ctx.notice = { kind: "info", text: `Revoked “${credential.name}”. It can no longer get tokens.` };
    },
  );
}

async function submitDelete(ctx: ConsoleContext, event: SubmitEvent, credential: Credential): Promise<void> {
  event.preventDefault();
  await runChange(
    ctx,
    credential,
    (client, ifMatch) => client.delete(credential.client_id, { ifMatch }),
    () => {
      ctx.remove(credential.client_id);
      ctx.close();
      ctx.notice = { kind: "info", text: `Deleted “${credential.name}”. Its audit trail is kept.` };
    },
  );
}

/** Suspends (suspend = true) or reactivates, from the card; the outcome is the page notice. */
export async function suspendOrReactivate(ctx: ConsoleContext, credential: Credential, suspend: boolean): Promise<void> {
  ctx.notice = null;
  await runChange(
    ctx,
    credential,
    (client, ifMatch) => (suspend ? client.suspend(credential.client_id, { ifMatch }) : client.reactivate(credential.client_id, { ifMatch })),
    (result) => {
      ctx.replace(result as Credential);
      ctx.notice = {
        kind: "info",
        text: suspend ? `Suspended “${credential.name}”: it cannot get tokens until reactivated.` : `Reactivated “${credential.name}”.`,
      };
    },
  );
}
