// The one-time secret dialog, after create or rotate: Copy, Download .env, Download JSON.
//
// The secret lives only in the dialog state (SecretDialog) while this dialog is open: never in
// storage, the URL or the console. Closing drops the state, and the dialog is emptied on render.

import { html } from "lit";
import type { TemplateResult } from "lit";

import { download } from "./download.js";
import { envFile, fileBase, jsonFile } from "./files.js";
import type { ConsoleContext, SecretDialog } from "./state.js";

export function renderSecretDialog(ctx: ConsoleContext, dialog: SecretDialog): TemplateResult {
  const { issued, rotated } = dialog;
  const c = issued.credential;
  const file = { url: ctx.baseUrl, tenant: ctx.tenant, client_id: c.client_id, client_secret: issued.client_secret };
  const base = fileBase(c.name, c.client_id);
  return html`
    <div class="secret">
      <h2 id="dialog-title" tabindex="-1">${rotated ? "New secret" : "Credential created"}: “${c.name}”</h2>
      <p class="warning" role="note"><strong>Copy or download the Client Secret now. It cannot be shown again</strong> — not here, not by the API. If it is lost, rotate the secret to get a new one.</p>
      <label for="client-id">Client ID</label>
      <input id="client-id" readonly .value=${c.client_id} spellcheck="false">
      <label for="secret">Client secret</label>
      <textarea id="secret" readonly rows="3" spellcheck="false" autocomplete="off" autofocus .value=${issued.client_secret} @focus=${(e: Event) => (e.target as HTMLTextAreaElement).select()}></textarea>
      <div class="secret-actions">
        <button type="button" @click=${() => copy(ctx, issued.client_secret)}>Copy</button>
        <button type="button" @click=${() => download(ctx.root, `${base}.env`, envFile(file), "text/plain")}>Download .env</button>
        <button type="button" @click=${() => download(ctx.root, `${base}.json`, jsonFile(file), "application/json")}>Download JSON</button>
      </div>
      <p class="copied" role="status">${ctx.copied}</p>
      <p class="hint">Keep it in a secret manager or an environment variable; never commit it (add <code>.env</code> to <code>.gitignore</code>).</p>
      <div class="dialog-actions">
        <button type="button" class="primary" @click=${() => ctx.close()}>I have saved the secret</button>
      </div>
    </div>
  `;
}

async function copy(ctx: ConsoleContext, secret: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(secret);
    ctx.copied = "Copied to the clipboard.";
  } catch {
    const field = ctx.root.querySelector<HTMLTextAreaElement>("#secret");
    field?.focus();
    field?.select();
    ctx.copied = "The browser did not allow copying: the secret is selected, press Ctrl+C (⌘C on a Mac) to copy it.";
  }
}
