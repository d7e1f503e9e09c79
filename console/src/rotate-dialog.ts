// The rotate dialog: a grace period for the old secret, and whether to end the access tokens
// issued before now (both preset so when the secret was reported leaked). On success the dialog
// turns into the one-time secret dialog.

import { html, nothing } from "lit";
import type { TemplateResult } from "lit";
import type { Credential, IssuedSecret } from "@clavis/sdk";

import { runChange } from "./change.js";
import { cancelButton, dialogErrorLine } from "./form-fields.js";
import type { ConsoleContext, RotateDialog } from "./state.js";

const GRACE_OPTIONS: [number, string][] = [
  [0, "Stop the old secret at once"],
  [3600, "Keep the old secret working for 1 hour"],
  [86_400, "Keep the old secret working for 24 hours"],
  [604_800, "Keep the old secret working for 7 days"],
];

export function renderRotateDialog(ctx: ConsoleContext, dialog: RotateDialog): TemplateResult {
  const leaked = Boolean(dialog.credential.leak);
  return html`
    <form @submit=${(e: SubmitEvent) => submitRotate(ctx, e, dialog.credential)} novalidate>
      <h2 id="dialog-title" tabindex="-1">Rotate the secret of “${dialog.credential.name}”?</h2>
      <p>A new Client Secret replaces the current one; the Client ID stays the same. The expiry does not change. The new secret is shown once.</p>
      ${leaked ? html`<p class="notice error" role="note">This secret was reported leaked: stop it at once (no grace period) and end the tokens issued with it.</p>` : nothing}
      <label>Old secret
        <select name="grace" autofocus>${GRACE_OPTIONS.map(([seconds, text]) => html`<option value=${seconds} ?selected=${seconds === 0}>${text}</option>`)}</select>
      </label>
      <p class="hint">A grace period lets the integration switch to the new secret without downtime; both work until it ends.</p>
      <label class="check"><input type="checkbox" name="end-tokens" ?checked=${leaked} /> End access tokens issued before now</label>
      <p class="hint">Choose this if the secret leaked: tokens minted with it stop working at once. Otherwise they work until they expire (within an hour).</p>
      ${dialogErrorLine(ctx)}
      <div class="dialog-actions">
        ${cancelButton(ctx)}
        <button type="submit" class="primary" ?disabled=${ctx.busy}>Rotate secret</button>
      </div>
    </form>
  `;
}

async function submitRotate(ctx: ConsoleContext, event: SubmitEvent, credential: Credential): Promise<void> {
  event.preventDefault();
  const form = new FormData(event.currentTarget as HTMLFormElement);
  const grace = Number(form.get("grace") ?? 0);
  const endExistingTokens = form.get("end-tokens") === "on";
  await runChange(
    ctx,
    credential,
    (client, ifMatch) =>
      client.rotate(credential.client_id, {
        ifMatch,
        ...(grace > 0 ? { previousSecretValidForSeconds: grace } : {}),
        ...(endExistingTokens ? { endExistingTokens } : {}),
      }),
    (result) => {
      const issued = result as IssuedSecret;
      ctx.replace(issued.credential);
      ctx.notice = { kind: "info", text: `Rotated the secret of “${issued.credential.name}”.` };
      ctx.show({ kind: "secret", issued, rotated: true });
    },
  );
}
