// The expiry dialog: set a date, a number of days from now, or no expiry. The list only offers
// it while the expiry is more than 72 hours away (format.ts: expiryLocked).

import { html } from "lit";
import type { TemplateResult } from "lit";
import type { Credential } from "@clavis/sdk";

import { runChange } from "./change.js";
import { daysFromNow } from "./files.js";
import { dateTime, localTime } from "./format.js";
import { cancelButton, dialogErrorLine, expiryFields, expiryFromForm, expiryModeSelect } from "./form-fields.js";
import type { ConsoleContext, ExpiryDialog } from "./state.js";

export function renderExpiryDialog(ctx: ConsoleContext, dialog: ExpiryDialog): TemplateResult {
  const c = dialog.credential;
  return html`
    <form @submit=${(e: SubmitEvent) => submitExpiry(ctx, e, c)} novalidate>
      <h2 id="dialog-title" tabindex="-1" autofocus>Edit the expiry of “${c.name}”</h2>
      <p>It currently ${c.expires_at === null ? html`never expires` : html`expires ${localTime(c.expires_at, "")}`}. An expiry cannot be changed once it is less than 72 hours away.</p>
      ${expiryModeSelect(ctx, "New expiry", [["date", "On a date"], ["days", "After a number of days"], ["none", "Never (remove the expiry)"]])}
      ${expiryFields(ctx.expiryMode)}
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        ${cancelButton(ctx)}
        <button type="submit" class="primary" ?disabled=${ctx.busy}>Save expiry</button>
      </div>
    </form>
  `;
}

async function submitExpiry(ctx: ConsoleContext, event: SubmitEvent, credential: Credential): Promise<void> {
  event.preventDefault();
  const data = new FormData(event.currentTarget as HTMLFormElement);
  let at: Date | null;
  if (ctx.expiryMode === "none") {
    at = null;
  } else {
    const expiry = expiryFromForm(ctx.expiryMode, data);
    if (typeof expiry === "string") {
      ctx.dialogError = expiry;
      return;
    }
    at = expiry === null ? null : "at" in expiry ? expiry.at : daysFromNow(expiry.days);
  }
  await runChange(
    ctx,
    credential,
    (client, ifMatch) => (at === null ? client.removeExpiry(credential.client_id, { ifMatch }) : client.setExpiry(credential.client_id, at, { ifMatch })),
    (result) => {
      ctx.replace(result as Credential);
      ctx.close();
      ctx.notice = { kind: "info", text: at === null ? `“${credential.name}” no longer expires.` : `“${credential.name}” now expires ${dateTime.format(at)}.` };
    },
  );
}
