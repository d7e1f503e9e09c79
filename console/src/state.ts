// The console's typed state: which dialog is open (a small state machine, one variant per dialog),
// the page's notice, the expiry picker's mode, the scope catalogue, and the context the parts
// (list, dialogs, audit trail) use to read and change the element's state.

import type { AuditEvent, Credential, CredentialUsage, IssuedSecret, LeakReport, Policy, TenantClient, TenantUsage, Webhook, WebhookDelivery, WebhookWithSecret } from "@clavis/sdk";

/** No dialog is open: `dialog` is null. Each variant is one dialog and what it needs. */
export interface CreateDialog {
  kind: "create";
}

/** The one-time secret, just issued (created, or rotated). Dropped when the dialog closes. */
export interface SecretDialog {
  kind: "secret";
  issued: IssuedSecret;
  rotated: boolean;
}

/** A dialog about one credential as this page last saw it (its version is the If-Match). */
export interface CredentialDialog<K extends "rotate" | "revoke" | "delete" | "expiry" | "edit"> {
  kind: K;
  credential: Credential;
}

/** The audit trail of one credential, read page by page. */
export interface AuditDialog {
  kind: "audit";
  credential: Credential;
  events: AuditEvent[];
  cursor: string | null;
  loading: boolean;
}

/** The tenant's policy as loaded (its version is the If-Match); null while it loads. */
export interface PolicyDialog {
  kind: "policy";
  policy: Policy | null;
}

/** One credential's last 30 days of use (null while it loads), as a chart or also a table. */
export interface UsageDialog {
  kind: "usage";
  credential: Credential;
  usage: CredentialUsage | null;
  table: boolean;
}

/** The tenant's last 30 days of use and its most used credentials (null while it loads). */
export interface TenantUsageDialog {
  kind: "tenant-usage";
  usage: TenantUsage | null;
  table: boolean;
}

/** Add a webhook endpoint (no `webhook`), or edit one as this page last saw it. */
export interface WebhookFormDialog {
  kind: "webhook-form";
  webhook?: Webhook;
  /** "All events" is ticked: the single event types are hidden. */
  allEvents: boolean;
}

/** An endpoint's one-time signing secret, just issued (added, or rotated). Dropped when the dialog closes. */
export interface WebhookSecretDialog {
  kind: "webhook-secret";
  issued: WebhookWithSecret;
  rotated: boolean;
}

/** A confirmation about one endpoint: rotate its secret, or delete it. */
export interface WebhookConfirmDialog<K extends "webhook-rotate" | "webhook-delete"> {
  kind: K;
  webhook: Webhook;
}

/** An endpoint's deliveries, newest first (null while the first page loads). */
export interface WebhookDeliveriesDialog {
  kind: "webhook-deliveries";
  webhook: Webhook;
  deliveries: WebhookDelivery[] | null;
  cursor: string | null;
  loading: boolean;
  /** Which opening of the dialog this is: a read that comes back after it closed or reopened is dropped. */
  opened: number;
}

/**
 * Report a leaked secret: the form (no `outcome`), then the answer, with the credential it named
 * as read afterwards (when it could be). The secret itself is never part of this state.
 */
export interface LeakReportDialog {
  kind: "leak-report";
  outcome: { report: LeakReport; credential?: Credential } | null;
}

export type RotateDialog = CredentialDialog<"rotate">;
export type RevokeDialog = CredentialDialog<"revoke">;
export type DeleteDialog = CredentialDialog<"delete">;
export type ExpiryDialog = CredentialDialog<"expiry">;
export type EditDialog = CredentialDialog<"edit">;

/**
 * The open dialog. Moves: none → any (a button; the opener gets focus back on close);
 * create → secret and rotate → secret (in place, on success); audit → audit (more events);
 * policy → policy (loaded, or reloaded after a 412); usage → usage and tenant-usage →
 * tenant-usage (loaded, table shown or hidden); webhook-form → webhook-form ("All events"
 * ticked or not) and → webhook-secret (added); webhook-rotate → webhook-secret;
 * webhook-deliveries → webhook-deliveries (loaded, more, reloaded); leak-report → leak-report
 * (answered, or "Report another secret"); any → none (close, Escape, success, or a 404/409/412 that the page notice explains).
 */
export type Dialog =
  | CreateDialog | SecretDialog | RotateDialog | RevokeDialog | DeleteDialog | ExpiryDialog | EditDialog | AuditDialog | PolicyDialog | UsageDialog | TenantUsageDialog
  | WebhookFormDialog | WebhookSecretDialog | WebhookConfirmDialog<"webhook-rotate"> | WebhookConfirmDialog<"webhook-delete"> | WebhookDeliveriesDialog
  | LeakReportDialog;

export type DialogKind = Dialog["kind"];

/** How an expiry is chosen in the create and expiry dialogs. */
export type ExpiryMode = "none" | "date" | "days";

/** The page's message: info is announced politely (role=status), an error assertively (role=alert). */
export interface Notice {
  kind: "info" | "error";
  text: string;
}

/** One entry of the platform's scope catalogue (`GET /v1/scopes`): a suggestion, not a rule. */
export interface ScopeInfo {
  scope: string;
  description: string;
}

/**
 * The webhooks section: folded until the admin opens it (its endpoints are read then), the
 * endpoints as last read (null before), and the section's own message.
 */
export interface WebhooksState {
  open: boolean;
  webhooks: Webhook[] | null;
  loading: boolean;
  /** Why the endpoints could not be read. */
  error: string;
  notice: Notice | null;
}

export const CLOSED_WEBHOOKS: WebhooksState = Object.freeze({ open: false, webhooks: null, loading: false, error: "", notice: null });

/** What a change returns: the credential as it is now, a new secret, or nothing (delete). */
export type ChangeResult = Credential | IssuedSecret | void;

/**
 * What the parts of the console see of <clavis-credentials>: its reactive state (reading and
 * writing these re-renders the element) and the few operations they share.
 */
export interface ConsoleContext {
  busy: boolean;
  dialog: Dialog | null;
  dialogError: string;
  expiryMode: ExpiryMode;
  copied: string;
  notice: Notice | null;
  /** The webhooks section's state; replace it whole to re-render. */
  webhooks: WebhooksState;
  readonly catalogue: readonly ScopeInfo[];
  /** The api-url without a trailing slash. */
  readonly baseUrl: string;
  readonly tenant: string;
  /** The element's shadow root: the one place the parts look for their fields. */
  readonly root: HTMLElement | DocumentFragment;
  /** The SDK client for the tenant, or undefined while the attributes do not make one. */
  client(): TenantClient | undefined;
  /** Shows this credential as it is now (added at the top if the list does not have it). */
  replace(credential: Credential): void;
  remove(clientId: string): void;
  /** Reads the list's first page again (after a change that may alter every credential, e.g. the policy). */
  reload(): void;
  /** Opens a dialog; the element that was clicked gets focus back when it closes. */
  open(dialog: Dialog, event?: Event): void;
  /** Replaces the open dialog (create → secret, rotate → secret) and moves focus into it. */
  show(dialog: Dialog): void;
  /**
   * Closes the dialog, dropping its state (and any secret) and returning focus to its opener,
   * or, when the opener is gone, to the element `fallback` selects (Create credential otherwise).
   */
  close(fallback?: string): void;
}
