// Pieces the dialogs share: the error line, the Cancel button, the expiry picker (and reading it
// back), and the scope field with the platform's scope catalogue as suggestions.

import { html, nothing } from "lit";
import type { TemplateResult } from "lit";

import { endOfLocalDay, parseScopes } from "./files.js";
import type { ConsoleContext, ExpiryMode, ScopeInfo } from "./state.js";

/** The open dialog's error, announced as it appears. */
export function dialogErrorLine(ctx: ConsoleContext): TemplateResult | typeof nothing {
  return ctx.dialogError === "" ? nothing : html`<p class="notice error" role="alert">${ctx.dialogError}</p>`;
}

export function cancelButton(ctx: ConsoleContext, label = "Cancel"): TemplateResult {
  return html`<button type="button" class="quiet" ?disabled=${ctx.busy} @click=${() => ctx.close()}>${label}</button>`;
}

export function expiryModeSelect(ctx: ConsoleContext, label: string, options: [ExpiryMode, string][]): TemplateResult {
  return html`
    <label>${label}
      <select name="expiry-mode" .value=${ctx.expiryMode} @change=${(e: Event) => { ctx.expiryMode = (e.target as HTMLSelectElement).value as ExpiryMode; }}>
        ${options.map(([value, text]) => html`<option value=${value} ?selected=${value === ctx.expiryMode}>${text}</option>`)}
      </select>
    </label>
  `;
}

/** The date or the number of days, as the expiry mode asks. */
export function expiryFields(mode: ExpiryMode): TemplateResult {
  const tomorrow = new Date(Date.now() + 86_400_000);
  const min = `${tomorrow.getFullYear()}-${String(tomorrow.getMonth() + 1).padStart(2, "0")}-${String(tomorrow.getDate()).padStart(2, "0")}`;
  return html`
    ${mode === "date"
      ? html`<label>Expiry date (the credential works until the end of that day, your time)<input name="expiry-date" type="date" min=${min} required></label>`
      : nothing}
    ${mode === "days"
      ? html`<label>Number of days from now<input name="expiry-days" type="number" min="1" max="3650" step="1" inputmode="numeric" required></label>`
      : nothing}
  `;
}

/** The expiry chosen in a form: null for none, a date, a number of days, or a sentence saying what is wrong. */
export function expiryFromForm(mode: ExpiryMode, data: FormData): null | { at: Date } | { days: number } | string {
  if (mode === "date") {
    const at = endOfLocalDay(String(data.get("expiry-date") ?? ""));
    if (at === undefined) return "Pick the date the credential stops working.";
    if (at.getTime() <= Date.now()) return "The expiry date must be in the future.";
    return { at };
  }
  if (mode === "days") {
    const days = Number(data.get("expiry-days"));
    if (!Number.isInteger(days) || days < 1 || days > 3650) return "Give the number of days as a whole number from 1 to 3650.";
    return { days };
  }
  return null;
}

export function scopeField(ctx: ConsoleContext, value: string): TemplateResult {
  return html`
    <label>Scopes
      <input name="scopes" id="scopes" required autocomplete="off" spellcheck="false" .value=${value} aria-describedby="scopes-hint" placeholder="products:read, orders:write">
    </label>
    <p class="hint" id="scopes-hint">What the integration may do, as resource:action, separated by commas or spaces. Grant only what it needs.</p>
    ${ctx.catalogue.length === 0
      ? nothing
      : html`<div class="suggestions" role="group" aria-label="Available scopes">
          ${ctx.catalogue.map((s) => html`<button type="button" class="chip" title=${s.description} @click=${() => addScope(ctx, s.scope)}>+ ${s.scope}</button>`)}
        </div>`}
  `;
}

function addScope(ctx: ConsoleContext, scope: string): void {
  const field = ctx.root.querySelector<HTMLInputElement>("#scopes");
  if (field === null) return;
  const scopes = parseScopes(field.value);
  if (!scopes.includes(scope)) scopes.push(scope);
  field.value = scopes.join(", ");
}

/** The platform's scope catalogue, if the API offers one (`GET /v1/scopes`); only suggestions, so a failure is undefined. */
export async function loadScopeCatalogue(baseUrl: string, getToken: () => Promise<string>): Promise<ScopeInfo[] | undefined> {
  try {
    const token = await getToken();
    const response = await fetch(`${baseUrl}/v1/scopes`, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
    if (!response.ok) return undefined;
    const body: unknown = await response.json();
    const items = (body as { items?: unknown }).items;
    if (!Array.isArray(items)) return undefined;
    return items
      .filter((i): i is ScopeInfo => typeof i === "object" && i !== null && typeof (i as ScopeInfo).scope === "string")
      .map((i) => ({ scope: i.scope, description: typeof i.description === "string" ? i.description : "" }));
  } catch {
    return undefined; // no catalogue: scopes stay free text
  }
}
