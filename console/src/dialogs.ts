// The one <dialog> of the console and which part renders its body (state.ts: Dialog), the
// webhook endpoints' and the leak report's included (webhook-dialogs.ts). The element
// opens it modally once it is rendered, moves focus in, and closes it when the state goes.

import { html } from "lit";
import type { TemplateResult } from "lit";

import { renderAuditDialog } from "./audit-trail.js";
import { renderDeleteDialog, renderRevokeDialog } from "./confirm-dialogs.js";
import { renderCreateDialog } from "./create-dialog.js";
import { renderEditDialog } from "./edit-dialog.js";
import { renderExpiryDialog } from "./expiry-dialog.js";
import { renderReportLeakDialog } from "./leak-panel.js";
import { renderPolicyDialog } from "./policy-panel.js";
import { renderRotateDialog } from "./rotate-dialog.js";
import { renderSecretDialog } from "./secret-dialog.js";
import type { ConsoleContext, Dialog } from "./state.js";
import { renderTenantUsageDialog, renderUsageDialog } from "./usage-panel.js";
import {
  renderWebhookDeleteDialog,
  renderWebhookDeliveriesDialog,
  renderWebhookFormDialog,
  renderWebhookRotateDialog,
  renderWebhookSecretDialog,
} from "./webhook-dialogs.js";

export function renderDialog(ctx: ConsoleContext, dialog: Dialog, onClose: () => void, onCancel: (event: Event) => void): TemplateResult {
  return html`
    <dialog aria-labelledby="dialog-title" class=${dialog.kind === "usage" || dialog.kind === "tenant-usage" || dialog.kind === "webhook-deliveries" || dialog.kind === "webhook-form" ? "wide" : ""} @close=${onClose} @cancel=${onCancel}>
      ${dialogBody(ctx, dialog)}
    </dialog>
  `;
}

function dialogBody(ctx: ConsoleContext, dialog: Dialog): TemplateResult {
  switch (dialog.kind) {
    case "create":
      return renderCreateDialog(ctx);
    case "secret":
      return renderSecretDialog(ctx, dialog);
    case "rotate":
      return renderRotateDialog(ctx, dialog);
    case "revoke":
      return renderRevokeDialog(ctx, dialog);
    case "delete":
      return renderDeleteDialog(ctx, dialog);
    case "expiry":
      return renderExpiryDialog(ctx, dialog);
    case "edit":
      return renderEditDialog(ctx, dialog);
    case "audit":
      return renderAuditDialog(ctx, dialog);
    case "policy":
      return renderPolicyDialog(ctx, dialog);
    case "usage":
      return renderUsageDialog(ctx, dialog);
    case "tenant-usage":
      return renderTenantUsageDialog(ctx, dialog);
    case "webhook-form":
      return renderWebhookFormDialog(ctx, dialog);
    case "webhook-secret":
      return renderWebhookSecretDialog(ctx, dialog);
    case "webhook-rotate":
      return renderWebhookRotateDialog(ctx, dialog);
    case "webhook-delete":
      return renderWebhookDeleteDialog(ctx, dialog);
    case "webhook-deliveries":
      return renderWebhookDeliveriesDialog(ctx, dialog);
    case "leak-report":
      return renderReportLeakDialog(ctx, dialog);
  }
}
