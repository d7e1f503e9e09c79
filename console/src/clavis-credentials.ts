// <clavis-credentials>: a tenant's API credentials, as a platform's "Settings → Integrations"
// screen shows them. Attributes `api-url` and `tenant`; property `getToken` supplies the admin's
// management token for each request. Every call goes through @clavis/sdk.
//
// The one-time secret lives only in this element's memory while its dialog is open: never in
// storage, the URL or the console, and it is dropped (and its dialog emptied) when the dialog
// closes, so it cannot be shown again.
//
// This element owns the state (state.ts) and the pages of the list; the parts render and act
// through a ConsoleContext: the list (credential-list.ts), the dialogs (dialogs.ts: create,
// secret, rotate, expiry, edit, revoke/delete, audit trail, the tenant's policy, usage, the leak
// report, and the webhook endpoints' dialogs), and the webhooks section below the list (webhooks-section.ts).

import { LitElement, html, nothing } from "lit";
import type { PropertyValues, TemplateResult } from "lit";
import { ClavisClient } from "@clavis/sdk";
import type { Credential, TenantClient } from "@clavis/sdk";

import { renderList, renderToolbar } from "./credential-list.js";
import type { ListView, StatusFilter } from "./credential-list.js";
import { renderDialog } from "./dialogs.js";
import { sentence } from "./format.js";
import { loadScopeCatalogue } from "./form-fields.js";
import { renderReportLeakButton } from "./leak-panel.js";
import { renderPolicyButton } from "./policy-panel.js";
import { CLOSED_WEBHOOKS } from "./state.js";
import type { ConsoleContext, Dialog, ExpiryMode, Notice, ScopeInfo, WebhooksState } from "./state.js";
import { consoleStyles } from "./styles.js";
import { renderTenantUsageButton } from "./usage-panel.js";
import { USAGE_DAYS } from "./usage-series.js";
import { loadWebhooks, renderWebhooksSection } from "./webhooks-section.js";

export { expiryLocked } from "./format.js";

const PAGE_SIZE = 20;

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
    unusedOnly: { state: true },
    notice: { state: true },
    dialog: { state: true },
    dialogError: { state: true },
    busy: { state: true },
    expiryMode: { state: true },
    copied: { state: true },
    catalogue: { state: true },
    webhooks: { state: true },
  };

  static override styles = consoleStyles;

  declare apiUrl: string;
  declare tenant: string;
  declare pageSize: number;
  declare getToken: (() => Promise<string>) | undefined;
  declare credentials: Credential[];
  declare cursor: string | null;
  declare loading: boolean;
  declare listError: string;
  declare statusFilter: StatusFilter;
  declare unusedOnly: boolean;
  declare notice: Notice | null;
  declare dialog: Dialog | null;
  declare dialogError: string;
  declare busy: boolean;
  declare expiryMode: ExpiryMode;
  declare copied: string;
  declare catalogue: ScopeInfo[];
  declare webhooks: WebhooksState;

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
    this.unusedOnly = false;
    this.notice = null;
    this.dialog = null;
    this.dialogError = "";
    this.busy = false;
    this.expiryMode = "none";
    this.copied = "";
    this.catalogue = [];
    this.webhooks = CLOSED_WEBHOOKS;
  }

  /** What the parts see: this element's state, read and written through, and its shared operations. */
  readonly #ctx: ConsoleContext = ((el: ClavisCredentials): ConsoleContext => ({
    get busy() { return el.busy; },
    set busy(value) { el.busy = value; },
    get dialog() { return el.dialog; },
    set dialog(value) { el.dialog = value; },
    get dialogError() { return el.dialogError; },
    set dialogError(value) { el.dialogError = value; },
    get expiryMode() { return el.expiryMode; },
    set expiryMode(value) { el.expiryMode = value; },
    get copied() { return el.copied; },
    set copied(value) { el.copied = value; },
    get notice() { return el.notice; },
    set notice(value) { el.notice = value; },
    get webhooks() { return el.webhooks; },
    set webhooks(value) { el.webhooks = value; },
    get catalogue() { return el.catalogue; },
    get baseUrl() { return el.#baseUrl; },
    get tenant() { return el.tenant; },
    get root() { return el.renderRoot; },
    client: () => el.#tenantClient(),
    replace: (credential) => el.#replace(credential),
    remove: (clientId) => el.#remove(clientId),
    reload: () => void el.reload(),
    open: (dialog, event) => el.#open(dialog, event),
    show: (dialog) => el.#show(dialog),
    close: (fallback) => el.#closeDialog(fallback),
  }))(this);

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
      // Another tenant or token: the endpoints read before are not this one's.
      this.webhooks = this.webhooks.open ? { ...CLOSED_WEBHOOKS, open: true } : CLOSED_WEBHOOKS;
      if (this.webhooks.open) void loadWebhooks(this.#ctx);
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
      const page = await client.list({ limit: this.#limit(), ...this.#filters() });
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
      const page = await client.list({ limit: this.#limit(), cursor: this.cursor, ...this.#filters() });
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

  /** The list's filters as the API takes them: status, and no use in 30 days. */
  #filters(): { status?: Exclude<StatusFilter, "">; unusedForDays?: number } {
    return {
      ...(this.statusFilter ? { status: this.statusFilter } : {}),
      ...(this.unusedOnly ? { unusedForDays: USAGE_DAYS } : {}),
    };
  }

  #limit(): number {
    const size = Math.trunc(Number(this.pageSize));
    return Number.isFinite(size) && size >= 1 ? Math.min(size, 100) : PAGE_SIZE;
  }

  async #loadCatalogue(): Promise<void> {
    this.catalogue = [];
    // Only where the SDK would send the token too (never cleartext to a host that is not loopback).
    const getToken = this.getToken;
    if (getToken === undefined || this.#tenantClient() === undefined) return;
    const catalogue = await loadScopeCatalogue(this.#baseUrl, () => getToken.call(this));
    if (catalogue !== undefined) this.catalogue = catalogue;
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

  // ---- the dialog ----

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

  #show(dialog: Dialog): void {
    this.dialog = dialog;
    this.copied = "";
    this.#focusDialog = true;
  }

  #closeDialog(fallback?: string): void {
    // Dropping the dialog state drops any secret with it; the element is emptied on render.
    this.dialog = null;
    this.dialogError = "";
    this.copied = "";
    const dialog = this.renderRoot.querySelector<HTMLDialogElement>("dialog");
    if (dialog?.open) dialog.close();
    void this.updateComplete.then(() => this.#restoreFocus(fallback));
  }

  #restoreFocus(fallback = "#create"): void {
    const opener = this.#opener;
    this.#opener = null;
    if (opener !== null && opener.isConnected && !(opener as HTMLButtonElement).disabled) {
      opener.focus();
      return;
    }
    this.renderRoot.querySelector<HTMLElement>(fallback)?.focus();
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

  // ---- rendering ----

  #listView(): ListView {
    return {
      credentials: this.credentials,
      cursor: this.cursor,
      loading: this.loading,
      listError: this.listError,
      statusFilter: this.statusFilter,
      unusedOnly: this.unusedOnly,
      filter: (status) => {
        this.statusFilter = status;
        void this.reload();
      },
      filterUnused: (only) => {
        this.unusedOnly = only;
        void this.reload();
      },
      refresh: () => {
        this.notice = null;
        void this.reload();
      },
      more: () => void this.#loadMore(),
    };
  }

  protected override render(): TemplateResult {
    const view = this.#listView();
    return html`
      <section class="console" aria-labelledby="title">
        <div class="top">
          <div>
            <h2 id="title">API credentials</h2>
            <p class="lead">Each integration gets a Client ID and a Client Secret to call the API${this.tenant ? html` for <strong>${this.tenant}</strong>` : nothing}.</p>
          </div>
          <div class="top-actions">
            ${renderTenantUsageButton(this.#ctx)}
            ${renderPolicyButton(this.#ctx)}
            ${renderReportLeakButton(this.#ctx)}
            <button id="create" class="primary" type="button" ?disabled=${this.#tenantClient() === undefined} @click=${(e: Event) => this.#open({ kind: "create" }, e)}>Create credential</button>
          </div>
        </div>
        ${renderToolbar(view)}
        <div class="live" role="status">${this.notice?.kind === "info" ? html`<p class="notice info">${this.notice.text}</p>` : nothing}</div>
        <div class="live" role="alert">${this.notice?.kind === "error"
          ? html`<div class="notice error"><span>${this.notice.text}</span><button type="button" class="quiet" aria-label="Dismiss message" @click=${() => { this.notice = null; }}>×</button></div>`
          : nothing}</div>
        ${renderList(this.#ctx, view)}
        ${renderWebhooksSection(this.#ctx)}
      </section>
      ${this.dialog === null ? nothing : renderDialog(this.#ctx, this.dialog, this.#onDialogClose, this.#onDialogCancel)}
    `;
  }
}

if (!customElements.get("clavis-credentials")) {
  customElements.define("clavis-credentials", ClavisCredentials);
}

declare global {
  interface HTMLElementTagNameMap {
    "clavis-credentials": ClavisCredentials;
  }
}
