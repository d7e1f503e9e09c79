// <clavis-credentials>: a tenant's API credentials, as a platform's "Settings → Integrations"
// screen shows them. Attributes `api-url` and `tenant`; property `getToken` supplies the admin's
// management token for each request. Every call goes through @clavis/sdk.
//
// The one-time secret lives only in this element's memory while its dialog is open: never in
// storage, the URL or the console, and it is dropped (and its dialog emptied) when the dialog
// closes, so it cannot be shown again.

import { LitElement, css, html, nothing } from "lit";
import type { PropertyValues, TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import { ClavisClient, ClavisError, NetworkError } from "@clavis/sdk";
import type { AuditEvent, Credential, CredentialStatus, IssuedSecret, TenantClient } from "@clavis/sdk";

import { daysFromNow, endOfLocalDay, envFile, fileBase, jsonFile, parseScopes, scopeProblem, utcText } from "./files.js";

const PAGE_SIZE = 20;
const LOCK_WINDOW_MS = 72 * 3600 * 1000;

const STATUS_WORDS: Record<CredentialStatus, string> = {
  active: "Active",
  suspended: "Suspended",
  expired: "Expired",
  revoked: "Revoked",
};

const EVENT_WORDS: Record<string, string> = {
  "credential.created": "Created",
  "credential.secret_rotated": "Secret rotated",
  "credential.expiry_changed": "Expiry changed",
  "credential.updated": "Details changed",
  "credential.suspended": "Suspended",
  "credential.reactivated": "Reactivated",
  "credential.revoked": "Revoked",
  "credential.deleted": "Deleted",
  "credential.expired": "Expired",
  "credential.expiring_soon": "Expiring soon",
};

const GRACE_OPTIONS: [number, string][] = [
  [0, "Stop the old secret at once"],
  [3600, "Keep the old secret working for 1 hour"],
  [86_400, "Keep the old secret working for 24 hours"],
  [604_800, "Keep the old secret working for 7 days"],
];

type Dialog =
  | { kind: "create" }
  | { kind: "secret"; issued: IssuedSecret; rotated: boolean }
  | { kind: "rotate"; credential: Credential }
  | { kind: "revoke"; credential: Credential }
  | { kind: "delete"; credential: Credential }
  | { kind: "expiry"; credential: Credential }
  | { kind: "edit"; credential: Credential }
  | { kind: "audit"; credential: Credential; events: AuditEvent[]; cursor: string | null; loading: boolean };

type ExpiryMode = "none" | "date" | "days";

interface Notice {
  kind: "info" | "error";
  text: string;
}

interface ScopeInfo {
  scope: string;
  description: string;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function localTime(iso: string | null | undefined, none: string): TemplateResult {
  if (iso === null || iso === undefined) {
    return html`${none}`;
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return html`${iso}`;
  }
  return html`<time datetime=${iso} title=${utcText(iso)}>${dateTime.format(date)}</time>`;
}

/** A sentence for anything a call threw. */
function sentence(error: unknown): string {
  if (error instanceof ClavisError) {
    const text = error.detail || error.title || `The server refused the request (${error.code}).`;
    return error.requestId === undefined ? text : `${text} (request ${error.requestId})`;
  }
  if (error instanceof NetworkError) {
    return error.timedOut
      ? "The server did not answer in time. Check your connection and try again."
      : "The server could not be reached. Check your connection and try again.";
  }
  return error instanceof Error ? error.message : String(error);
}

/** The expiry of this credential is inside the 72-hour lock window (the server's word, or the clock's). */
export function expiryLocked(credential: Credential, now: number = Date.now()): boolean {
  if (credential.expiry_locked) return true;
  if (credential.expires_at === null) return false;
  return Date.parse(credential.expires_at) - now <= LOCK_WINDOW_MS;
}

export class ClavisCredentials extends LitElement {
  static override properties = {
    apiUrl: { type: String, attribute: "api-url" },
    tenant: { type: String },
    pageSize: { type: Number, attribute: "page-size" },
    getToken: { attribute: false },
    credentials: { state: true },
    cursor: { state: true },
    loading: { state: true },
    listError: { state: true },
    statusFilter: { state: true },
    notice: { state: true },
    dialog: { state: true },
    dialogError: { state: true },
    busy: { state: true },
    expiryMode: { state: true },
    copied: { state: true },
    catalogue: { state: true },
  };

  declare apiUrl: string;
  declare tenant: string;
  declare pageSize: number;
  declare getToken: (() => Promise<string>) | undefined;
  declare credentials: Credential[];
  declare cursor: string | null;
  declare loading: boolean;
  declare listError: string;
  declare statusFilter: CredentialStatus | "";
  declare notice: Notice | null;
  declare dialog: Dialog | null;
  declare dialogError: string;
  declare busy: boolean;
  declare expiryMode: ExpiryMode;
  declare copied: string;
  declare catalogue: ScopeInfo[];

  #client: TenantClient | undefined;
  /** Why no client could be made from the attributes (the SDK refused the api-url), if it could not. */
  #clientError = "";
  #opener: HTMLElement | null = null;
  #loadSeq = 0;
  #focusDialog = false;

  constructor() {
    super();
    this.apiUrl = "";
    this.tenant = "";
    this.pageSize = PAGE_SIZE;
    this.getToken = undefined;
    this.credentials = [];
    this.cursor = null;
    this.loading = false;
    this.listError = "";
    this.statusFilter = "";
    this.notice = null;
    this.dialog = null;
    this.dialogError = "";
    this.busy = false;
    this.expiryMode = "none";
    this.copied = "";
    this.catalogue = [];
  }

  // ---- data ----

  get #baseUrl(): string {
    return (this.apiUrl || "").replace(/\/+$/, "");
  }

  #tenantClient(): TenantClient | undefined {
    if (this.#client === undefined && this.apiUrl && this.tenant && this.getToken) {
      const getToken = (): Promise<string> => {
        if (this.getToken === undefined) return Promise.reject(new Error("No management token: set the getToken property."));
        return this.getToken();
      };
      try {
        this.#client = new ClavisClient({ url: this.#baseUrl, token: getToken }).tenant(this.tenant);
        this.#clientError = "";
      } catch (error) {
        // An unusable api-url, e.g. cleartext http:// to a host that is not loopback: said, not thrown.
        this.#clientError = sentence(error);
      }
    }
    return this.#client;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has("apiUrl") || changed.has("tenant") || changed.has("getToken")) {
      this.#client = undefined;
      this.#clientError = "";
    }
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has("apiUrl") || changed.has("tenant") || changed.has("getToken") || changed.has("pageSize")) {
      if (this.dialog !== null) this.#closeDialog();
      this.notice = null;
      void this.reload();
      void this.#loadCatalogue();
    }
    const dialog = this.renderRoot.querySelector<HTMLDialogElement>("dialog");
    if (dialog !== null && this.dialog !== null) {
      if (!dialog.open) {
        dialog.showModal();
        this.#focusDialog = true;
      }
      if (this.#focusDialog) {
        this.#focusDialog = false;
        const first = dialog.querySelector<HTMLElement>("[autofocus]") ?? dialog.querySelector<HTMLElement>("h2");
        first?.focus();
      }
    }
  }

  /** Reads the first page again (the filter or the tenant changed, or after a refusal). */
  async reload(): Promise<void> {
    const client = this.#tenantClient();
    if (client === undefined) {
      this.credentials = [];
      this.cursor = null;
      this.listError = this.#clientError !== ""
        ? this.#clientError
        : this.getToken === undefined
          ? "No management token: the page embedding this element must set its getToken property."
          : !this.apiUrl
            ? "No API address: set the api-url attribute."
            : !this.tenant
              ? "No tenant chosen."
              : "";
      return;
    }
    const seq = ++this.#loadSeq;
    this.loading = true;
    this.listError = "";
    try {
      const page = await client.list({ limit: this.#limit(), ...(this.statusFilter ? { status: this.statusFilter } : {}) });
      if (seq !== this.#loadSeq) return;
      this.credentials = page.items;
      this.cursor = page.next_cursor;
    } catch (error) {
      if (seq !== this.#loadSeq) return;
      this.credentials = [];
      this.cursor = null;
      this.listError = sentence(error);
    } finally {
      if (seq === this.#loadSeq) this.loading = false;
    }
  }

  async #loadMore(): Promise<void> {
    const client = this.#tenantClient();
    if (client === undefined || this.cursor === null) return;
    const seq = this.#loadSeq;
    this.loading = true;
    try {
      const page = await client.list({ limit: this.#limit(), cursor: this.cursor, ...(this.statusFilter ? { status: this.statusFilter } : {}) });
      if (seq !== this.#loadSeq) return;
      const known = new Set(this.credentials.map((c) => c.client_id));
      this.credentials = [...this.credentials, ...page.items.filter((c) => !known.has(c.client_id))];
      this.cursor = page.next_cursor;
    } catch (error) {
      this.notice = { kind: "error", text: sentence(error) };
    } finally {
      this.loading = false;
    }
  }

  #limit(): number {
    const size = Math.trunc(Number(this.pageSize));
    return Number.isFinite(size) && size >= 1 ? Math.min(size, 100) : PAGE_SIZE;
  }

  /** The platform's scope catalogue, if the API offers one (`GET /v1/scopes`); only suggestions. */
  async #loadCatalogue(): Promise<void> {
    this.catalogue = [];
    // Only where the SDK would send the token too (never cleartext to a host that is not loopback).
    if (this.getToken === undefined || this.#tenantClient() === undefined) return;
    try {
      const token = await this.getToken();
      const response = await fetch(`${this.#baseUrl}/v1/scopes`, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
      if (!response.ok) return;
      const body: unknown = await response.json();
      const items = (body as { items?: unknown }).items;
      if (Array.isArray(items)) {
        this.catalogue = items
          .filter((i): i is ScopeInfo => typeof i === "object" && i !== null && typeof (i as ScopeInfo).scope === "string")
          .map((i) => ({ scope: i.scope, description: typeof i.description === "string" ? i.description : "" }));
      }
    } catch {
      // no catalogue: scopes stay free text
    }
  }

  #replace(credential: Credential): void {
    const at = this.credentials.findIndex((c) => c.client_id === credential.client_id);
    if (at === -1) {
      this.credentials = [credential, ...this.credentials];
    } else {
      const next = [...this.credentials];
      next[at] = credential;
      this.credentials = next;
    }
  }

  #remove(clientId: string): void {
    this.credentials = this.credentials.filter((c) => c.client_id !== clientId);
  }

  /** After a 409 or 412: show the credential as it is now (or drop it if it is gone). */
  async #refreshAfterRefusal(credential: Credential, error: ClavisError): Promise<void> {
    if (error.credential !== undefined) {
      this.#replace(error.credential);
      return;
    }
    try {
      const { credential: now } = await this.#tenantClient()!.get(credential.client_id);
      this.#replace(now);
    } catch (again) {
      if (again instanceof ClavisError && again.status === 404) this.#remove(credential.client_id);
    }
  }

  /**
   * Runs a change. Success: the new state is shown and `done` says so. A 409 or 412 (the
   * credential is not in the state this page showed): the view refreshes to the current state
   * and says why. Anything else: the sentence is shown in the open dialog, or on the page.
   */
  async #change(
    credential: Credential,
    run: (client: TenantClient, ifMatch: number) => Promise<Credential | IssuedSecret | void>,
    done: (result: Credential | IssuedSecret | void) => void,
  ): Promise<void> {
    const client = this.#tenantClient();
    if (client === undefined || this.busy) return;
    this.busy = true;
    this.dialogError = "";
    try {
      const result = await run(client, credential.version);
      done(result);
    } catch (error) {
      if (error instanceof ClavisError && error.status === 404) {
        this.#remove(credential.client_id);
        this.#closeDialog();
        this.notice = { kind: "error", text: `“${credential.name}” no longer exists; it was deleted elsewhere.` };
      } else if (error instanceof ClavisError && (error.status === 409 || error.status === 412)) {
        await this.#refreshAfterRefusal(credential, error);
        this.#closeDialog();
        const why = error.status === 412
          ? `“${credential.name}” was changed elsewhere since this page showed it, so nothing was changed.`
          : sentence(error);
        this.notice = { kind: "error", text: `${why} The view now shows its current state; check it and try again if you still want to.` };
      } else if (this.dialog !== null) {
        this.dialogError = sentence(error);
      } else {
        this.notice = { kind: "error", text: sentence(error) };
      }
    } finally {
      this.busy = false;
    }
  }

  // ---- dialogs ----

  #open(dialog: Dialog, event?: Event): void {
    if (this.dialog === null) {
      const opener = event?.currentTarget;
      this.#opener = opener instanceof HTMLElement ? opener : null;
    }
    this.dialogError = "";
    this.copied = "";
    this.expiryMode = "none";
    this.dialog = dialog;
    this.#focusDialog = true;
  }

  #closeDialog(): void {
    // Dropping the dialog state drops any secret with it; the element is emptied on render.
    this.dialog = null;
    this.dialogError = "";
    this.copied = "";
    const dialog = this.renderRoot.querySelector<HTMLDialogElement>("dialog");
    if (dialog?.open) dialog.close();
    void this.updateComplete.then(() => this.#restoreFocus());
  }

  #restoreFocus(): void {
    const opener = this.#opener;
    this.#opener = null;
    if (opener !== null && opener.isConnected && !(opener as HTMLButtonElement).disabled) {
      opener.focus();
      return;
    }
    this.renderRoot.querySelector<HTMLElement>("#create")?.focus();
  }

  #onDialogClose = (): void => {
    // Escape, or the close button: either way the dialog's contents go.
    if (this.dialog !== null) this.#closeDialog();
  };

  #onDialogCancel = (event: Event): void => {
    // Escape: close now (dropping any secret at once), or not at all while a request is out.
    event.preventDefault();
    if (!this.busy) this.#closeDialog();
  };

  // ---- actions ----

  async #submitCreate(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const name = String(data.get("name") ?? "").trim();
    const description = String(data.get("description") ?? "").trim();
    const scopes = parseScopes(String(data.get("scopes") ?? ""));
    const environment = String(data.get("environment") ?? "live") === "test" ? "test" : "live";
    if (name === "") {
      this.dialogError = "Give the credential a name, such as “Inventory sync – production”.";
      return;
    }
    const scopeError = scopeProblem(scopes);
    if (scopeError !== undefined) {
      this.dialogError = scopeError;
      return;
    }
    const body: Parameters<TenantClient["create"]>[0] = { name, scopes, environment };
    if (description !== "") body.description = description;
    const expiry = this.#expiryFromForm(data);
    if (typeof expiry === "string") {
      this.dialogError = expiry;
      return;
    }
    if (expiry !== null && "days" in expiry) body.expires_in_days = expiry.days;
    if (expiry !== null && "at" in expiry) body.expires_at = expiry.at.toISOString();

    const client = this.#tenantClient();
    if (client === undefined || this.busy) return;
    this.busy = true;
    this.dialogError = "";
    try {
      // The SDK sends a fresh idempotency key and repeats with it if the answer is lost.
      const issued = await client.create(body);
      this.#replace(issued.credential);
      this.notice = { kind: "info", text: `Created “${issued.credential.name}”.` };
      this.dialog = { kind: "secret", issued, rotated: false };
      this.#focusDialog = true;
    } catch (error) {
      this.dialogError = sentence(error);
    } finally {
      this.busy = false;
    }
  }

  /** The expiry chosen in a form: null for none, a date, a number of days, or a sentence saying what is wrong. */
  #expiryFromForm(data: FormData): null | { at: Date } | { days: number } | string {
    const mode = this.expiryMode;
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

  async #submitRotate(event: SubmitEvent, credential: Credential): Promise<void> {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const grace = Number(form.get("grace") ?? 0);
    const endExistingTokens = form.get("end-tokens") === "on";
    await this.#change(
      credential,
      (client, ifMatch) =>
        client.rotate(credential.client_id, {
          ifMatch,
          ...(grace > 0 ? { previousSecretValidForSeconds: grace } : {}),
          ...(endExistingTokens ? { endExistingTokens } : {}),
        }),
      (result) => {
        const issued = result as IssuedSecret;
        this.#replace(issued.credential);
        this.notice = { kind: "info", text: `Rotated the secret of “${issued.credential.name}”.` };
        this.dialog = { kind: "secret", issued, rotated: true };
        this.copied = "";
        this.#focusDialog = true;
      },
    );
  }

  async #submitRevoke(event: SubmitEvent, credential: Credential): Promise<void> {
    event.preventDefault();
    const reason = String(new FormData(event.currentTarget as HTMLFormElement).get("reason") ?? "").trim();
    await this.#change(
      credential,
      (client, ifMatch) => client.revoke(credential.client_id, { ifMatch, ...(reason !== "" ? { reason } : {}) }),
      (result) => {
        this.#replace(result as Credential);
        this.#closeDialog();
        this.notice = { kind: "info", text: `Revoked “${credential.name}”. It can no longer get tokens.` };
      },
    );
  }

  async #submitDelete(event: SubmitEvent, credential: Credential): Promise<void> {
    event.preventDefault();
    await this.#change(
      credential,
      (client, ifMatch) => client.delete(credential.client_id, { ifMatch }),
      () => {
        this.#remove(credential.client_id);
        this.#closeDialog();
        this.notice = { kind: "info", text: `Deleted “${credential.name}”. Its audit trail is kept.` };
      },
    );
  }

  async #submitExpiry(event: SubmitEvent, credential: Credential): Promise<void> {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    let at: Date | null;
    if (this.expiryMode === "none") {
      at = null;
    } else {
      const expiry = this.#expiryFromForm(data);
      if (typeof expiry === "string") {
        this.dialogError = expiry;
        return;
      }
      at = expiry === null ? null : "at" in expiry ? expiry.at : daysFromNow(expiry.days);
    }
    await this.#change(
      credential,
      (client, ifMatch) => (at === null ? client.removeExpiry(credential.client_id, { ifMatch }) : client.setExpiry(credential.client_id, at, { ifMatch })),
      (result) => {
        this.#replace(result as Credential);
        this.#closeDialog();
        this.notice = { kind: "info", text: at === null ? `“${credential.name}” no longer expires.` : `“${credential.name}” now expires ${dateTime.format(at)}.` };
      },
    );
  }

  async #submitEdit(event: SubmitEvent, credential: Credential): Promise<void> {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const name = String(data.get("name") ?? "").trim();
    const description = String(data.get("description") ?? "").trim();
    const scopes = parseScopes(String(data.get("scopes") ?? ""));
    if (name === "") {
      this.dialogError = "The name cannot be empty.";
      return;
    }
    const scopeError = scopeProblem(scopes);
    if (scopeError !== undefined) {
      this.dialogError = scopeError;
      return;
    }
    const changes: { name?: string; description?: string; scopes?: string[] } = {};
    if (name !== credential.name) changes.name = name;
    if (description !== credential.description) changes.description = description;
    if (scopes.join(" ") !== credential.scopes.join(" ")) changes.scopes = scopes;
    if (Object.keys(changes).length === 0) {
      this.#closeDialog();
      return;
    }
    await this.#change(
      credential,
      (client, ifMatch) => client.update(credential.client_id, changes, { ifMatch }),
      (result) => {
        this.#replace(result as Credential);
        this.#closeDialog();
        this.notice = { kind: "info", text: `Saved “${(result as Credential).name}”. New scopes apply to the next token it gets.` };
      },
    );
  }

  async #suspendOrReactivate(credential: Credential, suspend: boolean): Promise<void> {
    this.notice = null;
    await this.#change(
      credential,
      (client, ifMatch) => (suspend ? client.suspend(credential.client_id, { ifMatch }) : client.reactivate(credential.client_id, { ifMatch })),
      (result) => {
        this.#replace(result as Credential);
        this.notice = {
          kind: "info",
          text: suspend ? `Suspended “${credential.name}”: it cannot get tokens until reactivated.` : `Reactivated “${credential.name}”.`,
        };
      },
    );
  }

  async #openAudit(credential: Credential, event: Event): Promise<void> {
    this.#open({ kind: "audit", credential, events: [], cursor: null, loading: true }, event);
    await this.#loadAudit(credential, undefined);
  }

  async #loadAudit(credential: Credential, cursor: string | undefined): Promise<void> {
    const client = this.#tenantClient();
    if (client === undefined) return;
    try {
      const page = await client.credentialAudit(credential.client_id, { limit: 25, ...(cursor !== undefined ? { cursor } : {}) });
      const current = this.dialog;
      if (current?.kind !== "audit" || current.credential.client_id !== credential.client_id) return;
      this.dialog = { ...current, events: [...current.events, ...page.items], cursor: page.next_cursor, loading: false };
    } catch (error) {
      const current = this.dialog;
      if (current?.kind === "audit") this.dialog = { ...current, loading: false };
      this.dialogError = sentence(error);
    }
  }

  async #copy(secret: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(secret);
      this.copied = "Copied to the clipboard.";
    } catch {
      const field = this.renderRoot.querySelector<HTMLTextAreaElement>("#secret");
      field?.focus();
      field?.select();
      this.copied = "The browser did not allow copying: the secret is selected, press Ctrl+C (⌘C on a Mac) to copy it.";
    }
  }

  #download(fileName: string, text: string, type: string): void {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const link = document.createElement("a");
    link.href = url;
    link.download = fileName;
    link.rel = "noopener";
    link.style.display = "none";
    this.renderRoot.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  // ---- rendering ----

  protected override render(): TemplateResult {
    return html`
      <section class="console" aria-labelledby="title">
        <div class="top">
          <div>
            <h2 id="title">API credentials</h2>
            <p class="lead">Each integration gets a Client ID and a Client Secret to call the API${this.tenant ? html` for <strong>${this.tenant}</strong>` : nothing}.</p>
          </div>
          <button id="create" class="primary" type="button" ?disabled=${this.#tenantClient() === undefined} @click=${(e: Event) => this.#open({ kind: "create" }, e)}>Create credential</button>
        </div>
        <div class="toolbar">
          <label>Status
            <select .value=${this.statusFilter} @change=${(e: Event) => {
              this.statusFilter = (e.target as HTMLSelectElement).value as CredentialStatus | "";
              void this.reload();
            }}>
              <option value="">All</option>
              <option value="active">Active</option>
              <option value="suspended">Suspended</option>
              <option value="expired">Expired</option>
              <option value="revoked">Revoked</option>
            </select>
          </label>
          <button type="button" class="quiet" @click=${() => { this.notice = null; void this.reload(); }}>Refresh</button>
        </div>
        <div class="live" role="status">${this.notice?.kind === "info" ? html`<p class="notice info">${this.notice.text}</p>` : nothing}</div>
        <div class="live" role="alert">${this.notice?.kind === "error"
          ? html`<div class="notice error"><span>${this.notice.text}</span><button type="button" class="quiet" aria-label="Dismiss message" @click=${() => { this.notice = null; }}>×</button></div>`
          : nothing}</div>
        ${this.#renderList()}
      </section>
      ${this.dialog === null ? nothing : this.#renderDialog(this.dialog)}
    `;
  }

  #renderList(): TemplateResult {
    if (this.listError !== "") {
      return html`<div class="notice error" role="alert">${this.listError}</div>`;
    }
    if (this.credentials.length === 0) {
      if (this.loading) return html`<p class="empty" aria-busy="true">Loading credentials…</p>`;
      return this.statusFilter === ""
        ? html`<div class="empty"><p><strong>No credentials yet.</strong></p><p>Select <em>Create credential</em> to give an integration a Client ID and a Client Secret. You choose its name, its scopes and, if you like, when it expires.</p></div>`
        : html`<div class="empty"><p>No ${STATUS_WORDS[this.statusFilter].toLowerCase()} credentials. Choose “All” to see every credential.</p></div>`;
    }
    return html`
      <ul class="cards" aria-label="Credentials" aria-busy=${this.loading ? "true" : "false"}>
        ${repeat(this.credentials, (c) => c.client_id, (c) => this.#renderCard(c))}
      </ul>
      ${this.cursor === null ? nothing : html`<p class="more"><button type="button" ?disabled=${this.loading} @click=${() => this.#loadMore()}>Show more credentials</button></p>`}
    `;
  }

  #renderCard(c: Credential): TemplateResult {
    const id = `cred-${c.client_id}`;
    const locked = expiryLocked(c);
    const expiryReason = c.status !== "active"
      ? c.status === "suspended" ? "Only an active credential’s expiry can be changed: reactivate it first." : ""
      : locked ? "Expiry locked: it is less than 72 hours away, so it can no longer be changed. Create a new credential if the integration needs access after it." : "";
    const canRotate = c.status === "active" || c.status === "suspended";
    return html`
      <li class="card" aria-labelledby=${`${id}-name`}>
        <div class="card-head">
          <h3 id=${`${id}-name`}>${c.name}</h3>
          <span class=${`badge ${c.status}`}>${STATUS_WORDS[c.status] ?? c.status}</span>
        </div>
        ${c.description ? html`<p class="description">${c.description}</p>` : nothing}
        <dl class="facts">
          <div><dt>Client ID</dt><dd><code>${c.client_id}</code></dd></div>
          <div><dt>Scopes</dt><dd><ul class="scopes">${c.scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul></dd></div>
          <div><dt>Expires</dt><dd>${localTime(c.expires_at, "Never")}${c.expires_at !== null && locked && c.status === "active" ? html` <span class="lock">(locked)</span>` : nothing}</dd></div>
          <div><dt>Last used</dt><dd>${localTime(c.last_used_at, "Never")}</dd></div>
          <div><dt>Requests this month</dt><dd>${c.request_count.toLocaleString()}${c.monthly_request_quota != null ? ` of ${c.monthly_request_quota.toLocaleString()}` : ""}</dd></div>
          <div><dt>Environment</dt><dd>${c.environment === "test" ? "Test" : "Live"}</dd></div>
          <div><dt>Created</dt><dd>${localTime(c.created_at, "")}${c.created_by ? html` by ${c.created_by}` : nothing}</dd></div>
          ${c.status === "revoked" ? html`<div><dt>Revoked on</dt><dd>${localTime(c.revoked_at, "")}${c.revocation_reason ? html` — ${c.revocation_reason}` : nothing}</dd></div>` : nothing}
          ${c.previous_secret_valid_until ? html`<div><dt>Old secret works until</dt><dd>${localTime(c.previous_secret_valid_until, "")}</dd></div>` : nothing}
        </dl>
        <div class="actions">
          ${canRotate ? html`<button type="button" @click=${(e: Event) => this.#open({ kind: "rotate", credential: c }, e)}>Rotate secret</button>` : nothing}
          ${c.status === "active" ? html`<button type="button" ?disabled=${this.busy} @click=${() => this.#suspendOrReactivate(c, true)}>Suspend</button>` : nothing}
          ${c.status === "suspended" ? html`<button type="button" ?disabled=${this.busy} @click=${() => this.#suspendOrReactivate(c, false)}>Reactivate</button>` : nothing}
          ${c.status === "active" || c.status === "suspended"
            ? html`<button type="button" ?disabled=${expiryReason !== ""} aria-describedby=${expiryReason !== "" ? `${id}-lock` : nothing} @click=${(e: Event) => {
                this.#open({ kind: "expiry", credential: c }, e);
                this.expiryMode = c.expires_at === null ? "days" : "date";
              }}>Edit expiry</button>`
            : nothing}
          ${c.status !== "revoked" ? html`<button type="button" @click=${(e: Event) => this.#open({ kind: "edit", credential: c }, e)}>Edit details</button>` : nothing}
          <button type="button" @click=${(e: Event) => this.#openAudit(c, e)}>Audit trail</button>
          ${c.status !== "revoked" ? html`<button type="button" class="danger" @click=${(e: Event) => this.#open({ kind: "revoke", credential: c }, e)}>Revoke</button>` : nothing}
          <button type="button" class="danger" @click=${(e: Event) => this.#open({ kind: "delete", credential: c }, e)}>Delete</button>
        </div>
        ${expiryReason !== "" ? html`<p class="reason" id=${`${id}-lock`}>${expiryReason}</p>` : nothing}
        ${c.status === "expired" ? html`<p class="reason">Expired credentials cannot be rotated or reactivated: create a new credential if the integration still needs access.</p>` : nothing}
      </li>
    `;
  }

  #renderDialog(dialog: Dialog): TemplateResult {
    return html`
      <dialog aria-labelledby="dialog-title" @close=${this.#onDialogClose} @cancel=${this.#onDialogCancel}>
        ${this.#renderDialogBody(dialog)}
      </dialog>
    `;
  }

  #error(): TemplateResult | typeof nothing {
    return this.dialogError === "" ? nothing : html`<p class="notice error" role="alert">${this.dialogError}</p>`;
  }

  #cancel(label = "Cancel"): TemplateResult {
    return html`<button type="button" class="quiet" ?disabled=${this.busy} @click=${() => this.#closeDialog()}>${label}</button>`;
  }

  #expiryFields(): TemplateResult {
    const tomorrow = new Date(Date.now() + 86_400_000);
    const min = `${tomorrow.getFullYear()}-${String(tomorrow.getMonth() + 1).padStart(2, "0")}-${String(tomorrow.getDate()).padStart(2, "0")}`;
    return html`
      ${this.expiryMode === "date"
        ? html`<label>Expiry date (the credential works until the end of that day, your time)<input name="expiry-date" type="date" min=${min} required></label>`
        : nothing}
      ${this.expiryMode === "days"
        ? html`<label>Number of days from now<input name="expiry-days" type="number" min="1" max="3650" step="1" inputmode="numeric" required></label>`
        : nothing}
    `;
  }

  #expiryModeSelect(label: string, options: [ExpiryMode, string][]): TemplateResult {
    return html`
      <label>${label}
        <select name="expiry-mode" .value=${this.expiryMode} @change=${(e: Event) => { this.expiryMode = (e.target as HTMLSelectElement).value as ExpiryMode; }}>
          ${options.map(([value, text]) => html`<option value=${value} ?selected=${value === this.expiryMode}>${text}</option>`)}
        </select>
      </label>
    `;
  }

  #scopeField(value: string): TemplateResult {
    return html`
      <label>Scopes
        <input name="scopes" id="scopes" required autocomplete="off" spellcheck="false" .value=${value} aria-describedby="scopes-hint" placeholder="products:read, orders:write">
      </label>
      <p class="hint" id="scopes-hint">What the integration may do, as resource:action, separated by commas or spaces. Grant only what it needs.</p>
      ${this.catalogue.length === 0
        ? nothing
        : html`<div class="suggestions" role="group" aria-label="Available scopes">
            ${this.catalogue.map((s) => html`<button type="button" class="chip" title=${s.description} @click=${() => this.#addScope(s.scope)}>+ ${s.scope}</button>`)}
          </div>`}
    `;
  }

  #addScope(scope: string): void {
    const field = this.renderRoot.querySelector<HTMLInputElement>("#scopes");
    if (field === null) return;
    const scopes = parseScopes(field.value);
    if (!scopes.includes(scope)) scopes.push(scope);
    field.value = scopes.join(", ");
  }

  #renderDialogBody(dialog: Dialog): TemplateResult {
    switch (dialog.kind) {
      case "create":
        return html`
          <form @submit=${(e: SubmitEvent) => this.#submitCreate(e)} novalidate>
            <h2 id="dialog-title" tabindex="-1">Create credential</h2>
            <label>Name<input name="name" required maxlength="100" autocomplete="off" autofocus placeholder="Inventory sync – production"></label>
            <label>Description (optional)<textarea name="description" maxlength="500" rows="2"></textarea></label>
            ${this.#scopeField("")}
            <label>Environment
              <select name="environment"><option value="live">Live</option><option value="test">Test</option></select>
            </label>
            ${this.#expiryModeSelect("Expiry", [["none", "Never expires"], ["date", "Expires on a date"], ["days", "Expires after a number of days"]])}
            ${this.#expiryFields()}
            ${this.#error()}
            <div class="dialog-actions">
              ${this.#cancel()}
              <button type="submit" class="primary" ?disabled=${this.busy}>${this.busy ? "Creating…" : "Create"}</button>
            </div>
          </form>
        `;
      case "secret":
        return this.#renderSecret(dialog.issued, dialog.rotated);
      case "rotate":
        return html`
          <form @submit=${(e: SubmitEvent) => this.#submitRotate(e, dialog.credential)} novalidate>
            <h2 id="dialog-title" tabindex="-1">Rotate the secret of “${dialog.credential.name}”?</h2>
            <p>A new Client Secret replaces the current one; the Client ID stays the same. The expiry does not change. The new secret is shown once.</p>
            <label>Old secret
              <select name="grace" autofocus>${GRACE_OPTIONS.map(([seconds, text]) => html`<option value=${seconds}>${text}</option>`)}</select>
            </label>
            <p class="hint">A grace period lets the integration switch to the new secret without downtime; both work until it ends.</p>
            <label class="check"><input type="checkbox" name="end-tokens" /> End access tokens issued before now</label>
            <p class="hint">Choose this if the secret leaked: tokens minted with it stop working at once. Otherwise they work until they expire (within an hour).</p>
            ${this.#error()}
            <div class="dialog-actions">
              ${this.#cancel()}
              <button type="submit" class="primary" ?disabled=${this.busy}>Rotate secret</button>
            </div>
          </form>
        `;
      case "revoke":
        return html`
          <form @submit=${(e: SubmitEvent) => this.#submitRevoke(e, dialog.credential)} novalidate>
            <h2 id="dialog-title" tabindex="-1">Revoke “${dialog.credential.name}”?</h2>
            <p><strong>Revoking is permanent and cannot be undone.</strong> The integration using <code>${dialog.credential.client_id}</code> can no longer get tokens. To give it access again you will have to create a new credential.</p>
            <label>Reason (optional, kept in the audit trail)<input name="reason" maxlength="500" autocomplete="off" autofocus></label>
            ${this.#error()}
            <div class="dialog-actions">
              ${this.#cancel()}
              <button type="submit" class="danger solid" ?disabled=${this.busy}>Revoke</button>
            </div>
          </form>
        `;
      case "delete":
        return html`
          <form @submit=${(e: SubmitEvent) => this.#submitDelete(e, dialog.credential)} novalidate>
            <h2 id="dialog-title" tabindex="-1">Delete “${dialog.credential.name}”?</h2>
            <p>The credential <code>${dialog.credential.client_id}</code> is removed and cannot be recovered; any integration using it stops working. Its audit trail is kept.</p>
            ${this.#error()}
            <div class="dialog-actions">
              <button type="button" class="quiet" autofocus ?disabled=${this.busy} @click=${() => this.#closeDialog()}>Cancel</button>
              <button type="submit" class="danger solid" ?disabled=${this.busy}>Delete</button>
            </div>
          </form>
        `;
      case "expiry": {
        const c = dialog.credential;
        return html`
          <form @submit=${(e: SubmitEvent) => this.#submitExpiry(e, c)} novalidate>
            <h2 id="dialog-title" tabindex="-1" autofocus>Edit the expiry of “${c.name}”</h2>
            <p>It currently ${c.expires_at === null ? html`never expires` : html`expires ${localTime(c.expires_at, "")}`}. An expiry cannot be changed once it is less than 72 hours away.</p>
            ${this.#expiryModeSelect("New expiry", [["date", "On a date"], ["days", "After a number of days"], ["none", "Never (remove the expiry)"]])}
            ${this.#expiryFields()}
            ${this.#error()}
            <div class="dialog-actions">
              ${this.#cancel()}
              <button type="submit" class="primary" ?disabled=${this.busy}>Save expiry</button>
            </div>
          </form>
        `;
      }
      case "edit": {
        const c = dialog.credential;
        return html`
          <form @submit=${(e: SubmitEvent) => this.#submitEdit(e, c)} novalidate>
            <h2 id="dialog-title" tabindex="-1">Edit “${c.name}”</h2>
            <label>Name<input name="name" required maxlength="100" autocomplete="off" autofocus .value=${c.name}></label>
            <label>Description (optional)<textarea name="description" maxlength="500" rows="2" .value=${c.description}></textarea></label>
            ${this.#scopeField(c.scopes.join(", "))}
            <p class="hint">New scopes apply to the next token; tokens already issued keep theirs until they expire.</p>
            ${this.#error()}
            <div class="dialog-actions">
              ${this.#cancel()}
              <button type="submit" class="primary" ?disabled=${this.busy}>Save changes</button>
            </div>
          </form>
        `;
      }
      case "audit":
        return html`
          <div class="audit">
            <h2 id="dialog-title" tabindex="-1" autofocus>Audit trail of “${dialog.credential.name}”</h2>
            ${dialog.loading && dialog.events.length === 0 ? html`<p aria-busy="true">Loading events…</p>` : nothing}
            ${!dialog.loading && dialog.events.length === 0 && this.dialogError === "" ? html`<p>No events recorded.</p>` : nothing}
            <ol class="events" aria-label="Events, newest first">
              ${dialog.events.map((e) => html`
                <li>
                  <strong>${EVENT_WORDS[e.type] ?? e.type}</strong>
                  <span class="when">${localTime(e.at, "")}</span>
                  <span class="who">by ${e.actor.subject} (${e.actor.role})</span>
                  ${this.#details(e.details)}
                </li>`)}
            </ol>
            ${this.#error()}
            <div class="dialog-actions">
              ${dialog.cursor !== null ? html`<button type="button" @click=${() => this.#loadAudit(dialog.credential, dialog.cursor ?? undefined)}>Show older events</button>` : nothing}
              <button type="button" class="primary" @click=${() => this.#closeDialog()}>Close</button>
            </div>
          </div>
        `;
    }
  }

  #details(details: Record<string, unknown>): TemplateResult | typeof nothing {
    const entries = Object.entries(details ?? {});
    if (entries.length === 0) return nothing;
    return html`<dl class="details">${entries.map(([key, value]) => html`<dt>${key.replace(/_/g, " ")}</dt><dd>${this.#detailValue(value)}</dd>`)}</dl>`;
  }

  /** A detail as a person reads it: times in local time, lists joined, before → after. */
  #detailValue(value: unknown): TemplateResult {
    if (value === null || value === undefined) return html`none`;
    if (typeof value === "string") {
      return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) ? localTime(value, "") : html`${value}`;
    }
    if (Array.isArray(value)) return html`${value.map((v) => String(v)).join(", ")}`;
    if (typeof value === "object") {
      const record = value as Record<string, unknown>;
      if ("before" in record && "after" in record) {
        return html`${this.#detailValue(record["before"])} → ${this.#detailValue(record["after"])}`;
      }
      return html`${JSON.stringify(value)}`;
    }
    return html`${String(value)}`;
  }

  #renderSecret(issued: IssuedSecret, rotated: boolean): TemplateResult {
    const c = issued.credential;
    const file = { url: this.#baseUrl, tenant: this.tenant, client_id: c.client_id, client_secret: issued.client_secret };
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
          <button type="button" @click=${() => this.#copy(issued.client_secret)}>Copy</button>
          <button type="button" @click=${() => this.#download(`${base}.env`, envFile(file), "text/plain")}>Download .env</button>
          <button type="button" @click=${() => this.#download(`${base}.json`, jsonFile(file), "application/json")}>Download JSON</button>
        </div>
        <p class="copied" role="status">${this.copied}</p>
        <p class="hint">Keep it in a secret manager or an environment variable; never commit it (add <code>.env</code> to <code>.gitignore</code>).</p>
        <div class="dialog-actions">
          <button type="button" class="primary" @click=${() => this.#closeDialog()}>I have saved the secret</button>
        </div>
      </div>
    `;
  }

  static override styles = css`
    :host {
      display: block;
      font: inherit;
      color: #1f2328;
      --accent: #0b57d0;
      --danger: #b42318;
      --line: #d0d7de;
    }
    * { box-sizing: border-box; }
    h2 { font-size: 1.25rem; margin: 0 0 0.25rem; }
    h3 { font-size: 1.05rem; margin: 0; overflow-wrap: anywhere; }
    .top { display: flex; flex-wrap: wrap; gap: 0.75rem; justify-content: space-between; align-items: flex-start; }
    .lead { margin: 0; color: #57606a; }
    .toolbar { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: end; margin: 1rem 0 0.5rem; }
    .toolbar label { display: flex; gap: 0.5rem; align-items: center; }
    button {
      font: inherit; min-height: 2.5rem; padding: 0.4rem 0.85rem; border-radius: 6px;
      border: 1px solid var(--line); background: #f6f8fa; color: inherit; cursor: pointer;
    }
    button:hover:not(:disabled) { background: #eef1f4; }
    button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, h2:focus-visible {
      outline: 3px solid #5b9dff; outline-offset: 2px;
    }
    button:disabled { opacity: 0.55; cursor: not-allowed; }
    button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
    button.primary:hover:not(:disabled) { background: #0842a0; }
    button.danger { color: var(--danger); border-color: #f1aeb5; background: #fff; }
    button.danger.solid { background: var(--danger); color: #fff; border-color: var(--danger); }
    button.quiet { background: transparent; }
    select, input, textarea { font: inherit; padding: 0.4rem 0.5rem; border: 1px solid #8c959f; border-radius: 6px; max-width: 100%; }
    .notice { padding: 0.6rem 0.8rem; border-radius: 6px; margin: 0.5rem 0; }
    .notice.error { background: #fff0ee; border: 1px solid #f1aeb5; color: #82071e; display: flex; gap: 0.5rem; justify-content: space-between; align-items: start; }
    .notice.error button { min-height: 1.75rem; padding: 0 0.5rem; }
    .notice.info { background: #eef6ff; border: 1px solid #b6d4fe; }
    .empty { border: 1px dashed var(--line); border-radius: 8px; padding: 1.25rem; text-align: center; color: #57606a; }
    .cards { list-style: none; padding: 0; margin: 0.5rem 0; display: grid; gap: 0.75rem; }
    .card { border: 1px solid var(--line); border-radius: 8px; padding: 0.9rem 1rem; background: #fff; min-width: 0; }
    .card-head { display: flex; gap: 0.75rem; align-items: center; justify-content: space-between; }
    .description { margin: 0.35rem 0 0; color: #57606a; overflow-wrap: anywhere; }
    .badge { font-size: 0.85rem; font-weight: 600; padding: 0.15rem 0.6rem; border-radius: 999px; white-space: nowrap; border: 1px solid; }
    .badge.active { background: #dafbe1; color: #116329; border-color: #8ddb9e; }
    .badge.suspended { background: #fff8c5; color: #7d4e00; border-color: #e0c55d; }
    .badge.expired { background: #eaeef2; color: #424a53; border-color: #afb8c1; }
    .badge.revoked { background: #ffebe9; color: #a40e26; border-color: #f1aeb5; }
    .facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: 0.5rem 1rem; margin: 0.75rem 0; }
    .facts div { min-width: 0; }
    .facts dt { font-size: 0.8rem; color: #57606a; }
    .facts dd { margin: 0; overflow-wrap: anywhere; }
    code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; overflow-wrap: anywhere; }
    .scopes { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 0.25rem; }
    .scopes li { background: #f6f8fa; border: 1px solid var(--line); border-radius: 4px; padding: 0 0.3rem; }
    .lock { color: #7d4e00; font-weight: 600; }
    .actions { display: flex; flex-wrap: wrap; gap: 0.4rem; }
    .reason { font-size: 0.9rem; color: #7d4e00; margin: 0.5rem 0 0; }
    .more { text-align: center; }
    dialog {
      width: min(36rem, calc(100vw - 1.5rem)); max-height: calc(100dvh - 1.5rem); border: 1px solid var(--line);
      border-radius: 10px; padding: 1.25rem; color: inherit; overflow-wrap: anywhere;
    }
    dialog::backdrop { background: rgb(15 23 42 / 0.55); }
    dialog form, dialog .secret, dialog .audit { display: grid; gap: 0.6rem; }
    dialog label { display: grid; gap: 0.25rem; font-weight: 500; }
    dialog label.check { display: flex; gap: 0.5rem; align-items: center; }
    dialog h2 { outline: none; }
    .hint { font-size: 0.85rem; color: #57606a; margin: 0; }
    .warning { background: #fff8c5; border: 1px solid #e0c55d; border-radius: 6px; padding: 0.6rem 0.8rem; margin: 0; }
    #secret, #client-id { width: 100%; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; resize: none; }
    .secret-actions, .dialog-actions { display: flex; flex-wrap: wrap; gap: 0.5rem; }
    .dialog-actions { justify-content: flex-end; margin-top: 0.5rem; }
    .copied { margin: 0; min-height: 1.2em; color: #116329; }
    .suggestions { display: flex; flex-wrap: wrap; gap: 0.3rem; }
    .chip { min-height: 2rem; padding: 0.1rem 0.5rem; font-size: 0.85rem; }
    .events { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.5rem; max-height: 55dvh; overflow: auto; }
    .events li { border-left: 3px solid var(--line); padding-left: 0.6rem; display: grid; }
    .events .when, .events .who { font-size: 0.85rem; color: #57606a; }
    .details { display: grid; grid-template-columns: max-content 1fr; gap: 0 0.5rem; font-size: 0.85rem; margin: 0.2rem 0 0; }
    .details dd { margin: 0; min-width: 0; }
    @media (max-width: 480px) {
      .facts { grid-template-columns: 1fr 1fr; }
      .card { padding: 0.75rem; }
      .actions button { flex: 1 1 auto; }
    }
  `;
}

if (!customElements.get("clavis-credentials")) {
  customElements.define("clavis-credentials", ClavisCredentials);
}

declare global {
  interface HTMLElementTagNameMap {
    "clavis-credentials": ClavisCredentials;
  }
}
