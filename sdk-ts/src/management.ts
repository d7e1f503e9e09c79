// The management client: every `/v1` route of infra/openapi.yaml, for admins and advisors
// holding a management token from the platform's identity provider. Request and response types
// come from the generated `schema.ts`, so the client cannot drift from the spec unnoticed.

import { ClavisError, UnexpectedResponseError } from "./errors.js";
import type { components, operations } from "./schema.js";
import { Transport, baseUrl, endpoint, isRecord, newIdempotencyKey, retryAfterMs } from "./transport.js";
import type { TransportOptions } from "./transport.js";

type Schemas = components["schemas"];
type JsonOf<T> = T extends { content: { "application/json": infer Body } } ? Body : never;

export type Credential = Schemas["Credential"];
export type CredentialStatus = Schemas["Status"];
export type AuditEvent = Schemas["AuditEvent"];
export type IssuedSecret = Schemas["IssuedSecret"];
/** The tenant's rules for its credentials, as read: the rules, `version` (0 while never set; also the ETag), who set them and when. */
export type Policy = Schemas["Policy"];
/** The rules to set: every member optional, one left out takes its open default (no limit, any scope, both environments, `revoke`). */
export type PolicyDocument = Schemas["PolicyDocument"];
/** The body of a create: `name`, `scopes`, and optionally `description`, `environment`, `expires_at` or `expires_in_days`. */
export type NewCredential = JsonOf<operations["create-credential"]["requestBody"]>;
type UpdateBody = JsonOf<operations["update-credential"]["requestBody"]>;
/**
 * Name, description or scopes to change (at least one; `null` leaves a member as it is). The
 * spec's `anyOf` alternatives only say "at least one" and would type scopes loosely, so they are
 * left out here.
 */
export type CredentialUpdate = Exclude<UpdateBody, { name: string } | { description: string } | { scopes: unknown[] }>;
export type CredentialPage = JsonOf<operations["list-credentials"]["responses"][200]>;
export type AuditPage = JsonOf<components["responses"]["AuditPage"]>;
/** One scope of the platform's catalogue, with the sentence an admin reads beside it. */
export type ScopeDescription = JsonOf<operations["list-scopes"]["responses"][200]>["items"][number];
/** Why a request naming a credential was refused, as usage counts it (`refused` of a {@link UsageDay}). */
export type RefusalReason = Schemas["RefusalReason"];
/** One UTC day of use: `date` (YYYY-MM-DD), `uses`, and `refused` by reason (only reasons with one or more). */
export type UsageDay = Schemas["UsageDay"];
/** A credential's days of use, every day of the range (zeros included), oldest first, and the totals. */
export type CredentialUsage = Schemas["CredentialUsage"];
/** The tenant's days of use (its credentials summed), the totals, and `top`: its most used credentials (at most 10). */
export type TenantUsage = Schemas["TenantUsage"];
/** A webhook endpoint of the tenant: where events go, which ones, and whether it is enabled (and if not, why). */
export type Webhook = Schemas["Webhook"];
/** An endpoint and its signing secret (`whsec_…`), as registration and rotation answer: the only time the secret can be read. */
export type WebhookWithSecret = Schemas["WebhookWithSecret"];
/** An event type an endpoint can subscribe to (`webhook.test` is not one: the test route sends it whatever the filter). */
export type WebhookEventType = Schemas["WebhookEventType"];
/** One event's delivery to an endpoint: its attempts so far, the last answer, the next try, and its state. */
export type WebhookDelivery = Schemas["Delivery"];
/** A page of deliveries, newest first, and the cursor of the next page (null on the last). */
export type WebhookDeliveryPage = JsonOf<operations["list-webhook-deliveries"]["responses"][200]>;
type CreateWebhookBody = JsonOf<operations["create-webhook"]["requestBody"]>;
type UpdateWebhookBody = JsonOf<operations["update-webhook"]["requestBody"]>;
type DeliveriesQuery = NonNullable<operations["list-webhook-deliveries"]["parameters"]["query"]>;
type ExpiryBody = JsonOf<operations["update-expiry"]["requestBody"]>;
type RotateBody = JsonOf<NonNullable<operations["rotate-secret"]["requestBody"]>>;
type RevokeBody = JsonOf<NonNullable<operations["revoke-credential"]["requestBody"]>>;
type ListQuery = NonNullable<operations["list-credentials"]["parameters"]["query"]>;
type AuditQuery = NonNullable<operations["list-audit-events"]["parameters"]["query"]>;
type UsageQuery = NonNullable<operations["get-credential-usage"]["parameters"]["query"]>;
type ReportLeakBody = JsonOf<operations["report-leak"]["requestBody"]>;
/** Who reported a leak: GitHub secret scanning (`github`) or an admin or advisor of the tenant (`admin`). */
export type LeakSource = Schemas["LeakSource"];
/** What a leak report did to the credential: `revoked`, `suspended` (the tenant's `leak_action`), or `none`. */
export type LeakAction = Schemas["LeakAction"];
/** A credential's `leak`: the latest report that its current secret leaked (null when none). */
export type LeakNotice = Schemas["LeakNotice"];
/**
 * The answer to {@link TenantClient.reportLeak}: the credential the secret was issued to, what was
 * done to it, whether the secret was still accepted, and whether it had been reported before.
 */
export type LeakReport = Schemas["LeakReportAnswer"];
/** The `details` of a `credential.leaked` audit event (and of its webhook event). */
export type CredentialLeakedDetails = Schemas["CredentialLeakedDetails"];

/**
 * The operations of the spec that this client serves: every one under `/v1` but GitHub's secret
 * scanning partner endpoint (`report-github-leaks`), which only GitHub calls, signed by GitHub.
 */
export type ManagementOperation = Exclude<
  keyof operations,
  "issue-token" | "introspect-token" | "revoke-token" | `discovery-${string}` | "report-github-leaks"
>;

type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * Which method and path template each management operation uses. The type makes the compiler
 * refuse a spec operation this client does not serve; a test checks the pairs against the spec.
 */
export const managementRoutes = {
  "create-credential": ["POST", "/v1/tenants/{tenant}/credentials"],
  "list-credentials": ["GET", "/v1/tenants/{tenant}/credentials"],
  "get-credential": ["GET", "/v1/tenants/{tenant}/credentials/{client_id}"],
  "update-credential": ["PATCH", "/v1/tenants/{tenant}/credentials/{client_id}"],
  "delete-credential": ["DELETE", "/v1/tenants/{tenant}/credentials/{client_id}"],
  "update-expiry": ["PUT", "/v1/tenants/{tenant}/credentials/{client_id}/expiry"],
  "rotate-secret": ["POST", "/v1/tenants/{tenant}/credentials/{client_id}/rotate"],
  "suspend-credential": ["POST", "/v1/tenants/{tenant}/credentials/{client_id}/suspend"],
  "reactivate-credential": ["POST", "/v1/tenants/{tenant}/credentials/{client_id}/reactivate"],
  "revoke-credential": ["POST", "/v1/tenants/{tenant}/credentials/{client_id}/revoke"],
  "list-audit-events": ["GET", "/v1/tenants/{tenant}/credentials/{client_id}/audit"],
  "list-tenant-audit-events": ["GET", "/v1/tenants/{tenant}/audit"],
  "get-policy": ["GET", "/v1/tenants/{tenant}/policy"],
  "put-policy": ["PUT", "/v1/tenants/{tenant}/policy"],
  "get-credential-usage": ["GET", "/v1/tenants/{tenant}/credentials/{client_id}/usage"],
  "get-tenant-usage": ["GET", "/v1/tenants/{tenant}/usage"],
  "create-webhook": ["POST", "/v1/tenants/{tenant}/webhooks"],
  "list-webhooks": ["GET", "/v1/tenants/{tenant}/webhooks"],
  "get-webhook": ["GET", "/v1/tenants/{tenant}/webhooks/{webhook_id}"],
  "update-webhook": ["PATCH", "/v1/tenants/{tenant}/webhooks/{webhook_id}"],
  "delete-webhook": ["DELETE", "/v1/tenants/{tenant}/webhooks/{webhook_id}"],
  "rotate-webhook-secret": ["POST", "/v1/tenants/{tenant}/webhooks/{webhook_id}/rotate-secret"],
  "test-webhook": ["POST", "/v1/tenants/{tenant}/webhooks/{webhook_id}/test"],
  "list-webhook-deliveries": ["GET", "/v1/tenants/{tenant}/webhooks/{webhook_id}/deliveries"],
  "list-scopes": ["GET", "/v1/scopes"],
  "report-leak": ["POST", "/v1/tenants/{tenant}/leaks"],
} as const satisfies Record<ManagementOperation, readonly [HttpMethod, string]>;

/** A management token, or a function that supplies one for each request (e.g. the console's `getToken`). */
export type TokenProvider = string | (() => Promise<string>);

export interface ClavisClientOptions extends TransportOptions {
  /**
   * The API's base URL, e.g. `https://api.example.com` or `http://127.0.0.1:3000`; `http://` to
   * a host that is not loopback needs `allowInsecureHttp: true`.
   */
  url: string;
  /** The management token (a bearer token from the platform's identity provider). */
  token: TokenProvider;
}

/** `If-Match`: the credential's `version` (also its ETag) the change is based on, or `"*"`. */
export type IfMatch = number | "*";

export interface ChangeOptions {
  /** Apply only if the credential is still at this version; otherwise a `412` {@link ClavisError} carries the current one. */
  ifMatch?: IfMatch;
  /** Cancel the request. */
  signal?: AbortSignal;
}

export interface PolicyChangeOptions {
  /**
   * Apply only if the policy is still at this version (its `version`; `0` for a tenant that never
   * set one), or `"*"`; otherwise a `412` {@link ClavisError} carries the current policy in `policy`.
   */
  ifMatch?: IfMatch;
  /** Cancel the request. */
  signal?: AbortSignal;
}

export interface IssueOptions extends ChangeOptions {
  /**
   * Sent as `Idempotency-Key` (32–255 visible ASCII characters) so that a repeat returns the
   * first answer instead of issuing a second secret. Without it, the client makes a fresh random
   * key for the call; either way, every retry of the call sends the same key.
   */
  idempotencyKey?: string;
}

export interface RotateOptions extends IssueOptions {
  /** Keep the replaced secret working this long (0 to 604800 s); without it, it stops at once. */
  previousSecretValidForSeconds?: number;
  /** End the access tokens issued before the rotation at once (after a leak); by default they work until they expire. */
  endExistingTokens?: boolean;
}

export interface RevokeOptions extends ChangeOptions {
  /** Why, recorded in the credential and its audit trail. */
  reason?: string;
}

export interface ListOptions {
  /** Only credentials with this computed status. */
  status?: CredentialStatus;
  /**
   * Only credentials with no use in the last N days, 1 to 400 (a never-used one counts from its
   * creation): the ones to review and perhaps revoke.
   */
  unusedForDays?: number;
  /** Items per page, 1 to 100 (the API's default is 25). */
  limit?: number;
  /** The `next_cursor` of the page before. */
  cursor?: string;
  signal?: AbortSignal;
}

export type AuditListOptions = Omit<ListOptions, "status" | "unusedForDays">;

/**
 * Every event type an endpoint can subscribe to, in the catalogue's order (the spec's
 * `WebhookEventType`; the compiler refuses a list that misses or adds one).
 */
const EVENT_TYPES: Record<WebhookEventType, true> = {
  "credential.created": true,
  "credential.updated": true,
  "credential.secret_rotated": true,
  "credential.expiry_changed": true,
  "credential.suspended": true,
  "credential.reactivated": true,
  "credential.revoked": true,
  "credential.deleted": true,
  "credential.expired": true,
  "credential.expiring_soon": true,
  "credential.quota_threshold": true,
  "credential.leaked": true,
  "tenant.policy_changed": true,
  "webhook.created": true,
  "webhook.updated": true,
  "webhook.secret_rotated": true,
  "webhook.deleted": true,
  "webhook.disabled": true,
};
export const webhookEventTypes: readonly WebhookEventType[] = Object.freeze(Object.keys(EVENT_TYPES) as WebhookEventType[]);

/** An endpoint to register. */
export interface NewWebhook {
  /** Where events are POSTed: deployed, an `https://` URL of a public host (at most 1 KiB). */
  url: string;
  /** The event types to send; left out or `null`, every type. */
  eventTypes?: readonly WebhookEventType[] | null;
  /** What the endpoint is for (at most 500 characters). */
  description?: string | null;
}

/** What to change of an endpoint (at least one member). */
export interface WebhookUpdate {
  url?: string;
  /** `null` subscribes to every type. */
  eventTypes?: readonly WebhookEventType[] | null;
  /** `null` removes the description. */
  description?: string | null;
  /** `"disabled"` stops deliveries; `"enabled"` resumes them and clears `disabled_reason`. */
  status?: Webhook["status"];
}

export interface DeliveriesOptions {
  /** Deliveries per page, 1 to 100 (the API's default is 25). */
  limit?: number;
  /** The `next_cursor` of the page before. */
  cursor?: string;
  signal?: AbortSignal;
}

/** A secret found where it should not be, to report with {@link TenantClient.reportLeak}. */
export interface LeakedSecret {
  /** The whole secret as found (`csk_live_…` or `csk_test_…`). Sent in the request body only: never in a URL, a log or an error. */
  secret: string;
  /** Where it was found: an `http://` or `https://` URL (at most 2048 characters), kept in the audit event. */
  sourceUrl?: string;
}

/** A day: `YYYY-MM-DD`, or a `Date` (its UTC day). */
export type UsageDate = string | Date;

export interface UsageOptions {
  /** The first UTC day, at most 400 days ago; without it, 29 days before `to`. */
  from?: UsageDate;
  /** The last UTC day, at most today; without it, today. */
  to?: UsageDate;
  signal?: AbortSignal;
}

/** A credential as read, and its ETag (`"<version>"`). */
export interface CredentialWithETag {
  credential: Credential;
  etag: string | undefined;
}

/** The tenant's policy as read or just set, and its ETag (`"<version>"`, `"0"` while never set). */
export interface PolicyWithETag {
  policy: Policy;
  etag: string | undefined;
}

interface Call {
  method: HttpMethod;
  segments: readonly string[];
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  ifMatch?: IfMatch | undefined;
  /** The lowest version If-Match may name: 1 for a credential (the default), 0 for the policy. */
  ifMatchMinimum?: 0 | 1;
  idempotencyKey?: string | undefined;
  signal?: AbortSignal | undefined;
}

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/**
 * A client of the management API. Its JSON and `util.inspect` forms show the URL, never the token.
 *
 * ```ts
 * const client = new ClavisClient({ url: "http://127.0.0.1:3000", token: process.env.TOKEN! });
 * const demo = client.tenant("demo");
 * const issued = await demo.create({ name: "Inventory sync", scopes: ["products:read"] });
 * ```
 */
export class ClavisClient {
  readonly url: string;
  readonly #base: URL;
  readonly #token: TokenProvider;
  readonly #transport: Transport;

  constructor(options: ClavisClientOptions) {
    this.#base = baseUrl(options.url, options);
    this.url = this.#base.href;
    this.#token = options.token;
    this.#transport = new Transport(options);
  }

  /** The credentials and audit trail of one tenant. */
  tenant(tenant: string): TenantClient {
    return new TenantClient(this, tenant);
  }

  /**
   * The scopes the platform offers (its scope catalogue), in scope order; empty when it
   * accepts any well-formed `resource:action` scope.
   */
  async scopes(options: { signal?: AbortSignal } = {}): Promise<ScopeDescription[]> {
    const page = await this.callJson<JsonOf<operations["list-scopes"]["responses"][200]>>({
      method: "GET",
      segments: ["v1", "scopes"],
      signal: options.signal,
    });
    return page.items;
  }

  toJSON(): { url: string } {
    return { url: this.url };
  }

  [inspectSymbol](): string {
    return `ClavisClient { url: ${JSON.stringify(this.url)}, token: [REDACTED] }`;
  }

  /** @internal Sends one management request; returns the response if it succeeded, or throws the problem. */
  async call(call: Call): Promise<Response> {
    const url = endpoint(this.#base, call.segments);
    for (const [name, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined) {
        url.searchParams.set(name, String(value));
      }
    }
    const token = typeof this.#token === "string" ? this.#token : await this.#token();
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    const response = await this.#transport.send(() => {
      const headers = new Headers({ accept: "application/json", authorization: `Bearer ${token}` });
      if (body !== undefined) {
        headers.set("content-type", "application/json");
      }
      if (call.ifMatch !== undefined) {
        headers.set("if-match", ifMatchHeader(call.ifMatch, call.ifMatchMinimum ?? 1));
      }
      if (call.idempotencyKey !== undefined) {
        headers.set("idempotency-key", call.idempotencyKey);
      }
      const init: RequestInit = { method: call.method, headers };
      if (body !== undefined) {
        init.body = body;
      }
      if (call.signal !== undefined) {
        init.signal = call.signal;
      }
      return new Request(url, init);
    });
    if (response.ok) {
      return response;
    }
    throw await problem(url, response);
  }

  /** @internal */
  async callJson<T>(call: Call): Promise<T> {
    const response = await this.call(call);
    return readJson<T>(new URL(response.url || this.url), response);
  }
}

function ifMatchHeader(ifMatch: IfMatch, minimum: 0 | 1): string {
  if (ifMatch === "*") {
    return "*";
  }
  if (!Number.isSafeInteger(ifMatch) || ifMatch < minimum) {
    const what = minimum === 0 ? "a policy version (0 or more)" : "a credential version (a positive integer)";
    throw new RangeError(`ifMatch must be ${what} or "*", not ${String(ifMatch)}`);
  }
  return `"${ifMatch}"`;
}

/** Reads a successful response's JSON body. */
async function readJson<T>(url: URL, response: Response): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UnexpectedResponseError(url, response.status, "the body is not JSON");
  }
}

/** The error a failed management response stands for. */
async function problem(url: URL, response: Response): Promise<ClavisError | UnexpectedResponseError> {
  const wait = retryAfterMs(response.headers, Date.now());
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch {
    body = undefined;
  }
  if (
    isRecord(body) &&
    typeof body["code"] === "string" &&
    typeof body["status"] === "number" &&
    typeof body["title"] === "string" &&
    typeof body["detail"] === "string"
  ) {
    const credential = body["credential"];
    const policy = body["policy"];
    const outcome = body["outcome"];
    return new ClavisError(
      {
        type: typeof body["type"] === "string" ? body["type"] : "about:blank",
        title: body["title"],
        status: body["status"],
        detail: body["detail"],
        code: body["code"],
        ...(typeof body["field"] === "string" ? { field: body["field"] } : {}),
        ...(typeof body["request_id"] === "string" ? { request_id: body["request_id"] } : {}),
        ...(isRecord(credential) ? { credential: credential as Credential } : {}),
        ...(isRecord(policy) ? { policy: policy as Policy } : {}),
        ...(typeof outcome === "string" ? { outcome } : {}),
      },
      wait,
    );
  }
  const message = isRecord(body) && typeof body["message"] === "string" ? body["message"] : undefined;
  return ClavisError.fromGateway(response.status, message, wait);
}

/** The credentials, policy, audit trail, usage, leak reports and webhook endpoints of one tenant. Every method maps to one `/v1` route. */
export class TenantClient {
  readonly #client: ClavisClient;
  readonly tenant: string;

  constructor(client: ClavisClient, tenant: string) {
    this.#client = client;
    this.tenant = tenant;
  }

  #path(...rest: string[]): string[] {
    return ["v1", "tenants", this.tenant, ...rest];
  }

  #credential(clientId: string, action?: string): string[] {
    return action === undefined
      ? this.#path("credentials", clientId)
      : this.#path("credentials", clientId, action);
  }

  #change(clientId: string, action: string | undefined, method: HttpMethod, body: unknown, options: ChangeOptions): Promise<Credential> {
    return this.#client.callJson<Credential>({
      method,
      segments: this.#credential(clientId, action),
      body,
      ifMatch: options.ifMatch,
      signal: options.signal,
    });
  }

  /** `POST /v1/tenants/{tenant}/credentials`: creates a credential. The answer carries its secret, the only time it can be read. */
  create(credential: NewCredential, options: Omit<IssueOptions, "ifMatch"> = {}): Promise<IssuedSecret> {
    return this.#client.callJson<IssuedSecret>({
      method: "POST",
      segments: this.#path("credentials"),
      body: credential,
      idempotencyKey: options.idempotencyKey ?? newIdempotencyKey(),
      signal: options.signal,
    });
  }

  /** `GET /v1/tenants/{tenant}/credentials`: one page of the tenant's credentials, newest first. */
  list(options: ListOptions = {}): Promise<CredentialPage> {
    const query: ListQuery = {};
    if (options.status !== undefined) query.status = options.status;
    if (options.unusedForDays !== undefined) query.unused_for_days = options.unusedForDays;
    if (options.limit !== undefined) query.limit = options.limit;
    if (options.cursor !== undefined) query.cursor = options.cursor;
    return this.#client.callJson<CredentialPage>({
      method: "GET",
      segments: this.#path("credentials"),
      query: { ...query },
      signal: options.signal,
    });
  }

  /** Every credential (matching `status` and `unusedForDays`), newest first, reading page after page as iterated. */
  listAll(options: Omit<ListOptions, "cursor"> = {}): AsyncIterableIterator<Credential> {
    return paginate((cursor) => this.list(withCursor(options, cursor)));
  }

  /** `GET …/credentials/{client_id}`: the credential, its status computed now, and its ETag. */
  async get(clientId: string, options: { signal?: AbortSignal } = {}): Promise<CredentialWithETag> {
    const response = await this.#client.call({
      method: "GET",
      segments: this.#credential(clientId),
      signal: options.signal,
    });
    const credential = await readJson<Credential>(new URL(this.#client.url), response);
    return { credential, etag: response.headers.get("etag") ?? undefined };
  }

  /** `PATCH …/credentials/{client_id}`: changes name, description or scopes (not of a revoked credential). */
  update(clientId: string, changes: CredentialUpdate, options: ChangeOptions = {}): Promise<Credential> {
    return this.#change(clientId, undefined, "PATCH", changes, options);
  }

  /** `PUT …/expiry`: moves the expiry (active credentials, outside the 72-hour lock window). */
  setExpiry(clientId: string, expiresAt: Date | string, options: ChangeOptions = {}): Promise<Credential> {
    const body: ExpiryBody = { expires_at: expiresAt instanceof Date ? expiresAt.toISOString() : expiresAt };
    return this.#change(clientId, "expiry", "PUT", body, options);
  }

  /** `PUT …/expiry` with `null`: removes the expiry (same conditions as {@link setExpiry}). */
  removeExpiry(clientId: string, options: ChangeOptions = {}): Promise<Credential> {
    const body: ExpiryBody = { expires_at: null };
    return this.#change(clientId, "expiry", "PUT", body, options);
  }

  /** `POST …/rotate`: a new secret for the same client ID, returned this once; the expiry is unchanged. */
  rotate(clientId: string, options: RotateOptions = {}): Promise<IssuedSecret> {
    const body: RotateBody = {};
    if (options.previousSecretValidForSeconds !== undefined) {
      body.previous_secret_valid_for_seconds = options.previousSecretValidForSeconds;
    }
    if (options.endExistingTokens) {
      body.end_existing_tokens = true;
    }
    return this.#client.callJson<IssuedSecret>({
      method: "POST",
      segments: this.#credential(clientId, "rotate"),
      body,
      ifMatch: options.ifMatch,
      idempotencyKey: options.idempotencyKey ?? newIdempotencyKey(),
      signal: options.signal,
    });
  }

  /** `POST …/suspend`: stops an active credential getting tokens until reactivated. */
  suspend(clientId: string, options: ChangeOptions = {}): Promise<Credential> {
    return this.#change(clientId, "suspend", "POST", undefined, options);
  }

  /** `POST …/reactivate`: makes a suspended, unexpired credential active again. */
  reactivate(clientId: string, options: ChangeOptions = {}): Promise<Credential> {
    return this.#change(clientId, "reactivate", "POST", undefined, options);
  }

  /** `POST …/revoke`: revokes permanently (expired credentials too), recording `reason`. */
  revoke(clientId: string, options: RevokeOptions = {}): Promise<Credential> {
    const body: RevokeBody = {};
    if (options.reason !== undefined) {
      body.reason = options.reason;
    }
    return this.#change(clientId, "revoke", "POST", body, options);
  }

  /** `DELETE …/credentials/{client_id}`: deletes it; the audit trail keeps a `credential.deleted` event. */
  async delete(clientId: string, options: ChangeOptions = {}): Promise<void> {
    const response = await this.#client.call({
      method: "DELETE",
      segments: this.#credential(clientId),
      ifMatch: options.ifMatch,
      signal: options.signal,
    });
    await response.body?.cancel();
  }

  /** `GET …/credentials/{client_id}/audit`: one page of a credential's audit trail, newest first (kept after deletion). */
  credentialAudit(clientId: string, options: AuditListOptions = {}): Promise<AuditPage> {
    return this.#client.callJson<AuditPage>({
      method: "GET",
      segments: this.#credential(clientId, "audit"),
      query: { ...auditQuery(options) },
      signal: options.signal,
    });
  }

  /** Every audit event of a credential, newest first, page after page as iterated. */
  credentialAuditAll(clientId: string, options: Omit<AuditListOptions, "cursor"> = {}): AsyncIterableIterator<AuditEvent> {
    return paginate((cursor) => this.credentialAudit(clientId, withCursor(options, cursor)));
  }

  /** `GET /v1/tenants/{tenant}/audit`: one page of the tenant's audit trail, newest first. */
  audit(options: AuditListOptions = {}): Promise<AuditPage> {
    return this.#client.callJson<AuditPage>({
      method: "GET",
      segments: this.#path("audit"),
      query: { ...auditQuery(options) },
      signal: options.signal,
    });
  }

  /** Every audit event of the tenant, newest first, page after page as iterated. */
  auditAll(options: Omit<AuditListOptions, "cursor"> = {}): AsyncIterableIterator<AuditEvent> {
    return paginate((cursor) => this.audit(withCursor(options, cursor)));
  }

  /**
   * `GET …/credentials/{client_id}/usage`: the credential's uses and refusals (by reason) per UTC
   * day, one entry for every day from `from` to `to` (the last 30 days by default), oldest first,
   * zeros included. A range the server refuses (from after to, a day in the future, more than
   * 400 days) is a `400 invalid_range` {@link ClavisError} naming `from` or `to` in `field`.
   */
  async credentialUsage(clientId: string, options: UsageOptions = {}): Promise<CredentialUsage> {
    return this.#client.callJson<CredentialUsage>({
      method: "GET",
      segments: this.#credential(clientId, "usage"),
      query: { ...usageQuery(options) },
      signal: options.signal,
    });
  }

  /**
   * `GET /v1/tenants/{tenant}/usage`: the tenant's uses and refusals per UTC day (its credentials
   * summed; the same days as {@link credentialUsage}) and `top`, its ten most used credentials of
   * the range, most first.
   */
  async usage(options: UsageOptions = {}): Promise<TenantUsage> {
    return this.#client.callJson<TenantUsage>({
      method: "GET",
      segments: this.#path("usage"),
      query: { ...usageQuery(options) },
      signal: options.signal,
    });
  }

  /**
   * `GET /v1/tenants/{tenant}/policy`: the tenant's rules for its credentials and its ETag. A
   * tenant that never set one has the open policy at version 0.
   */
  policy(options: { signal?: AbortSignal } = {}): Promise<PolicyWithETag> {
    return this.#policyCall({ method: "GET", segments: this.#path("policy"), signal: options.signal });
  }

  /**
   * `PUT /v1/tenants/{tenant}/policy`: replaces the whole policy (a rule left out takes its open
   * default). Pass the `version` read as `ifMatch` so that a change made meanwhile is not
   * overwritten: a `412` {@link ClavisError} then carries the current policy in `policy`. A rule
   * the server refuses is a `400 invalid_field` naming it in `field`. Credentials that no longer
   * comply are blocked (not revoked) and list why in `policy_violations`.
   */
  setPolicy(document: PolicyDocument, options: PolicyChangeOptions = {}): Promise<PolicyWithETag> {
    return this.#policyCall({
      method: "PUT",
      segments: this.#path("policy"),
      body: document,
      ifMatch: options.ifMatch,
      ifMatchMinimum: 0,
      signal: options.signal,
    });
  }

  /**
   * `POST /v1/tenants/{tenant}/leaks`: reports a secret of this tenant found where it should not
   * be. The credential it was issued to gets the tenant's `leak_action` (revoked, suspended, or
   * nothing for `notify`) when the secret is still accepted; an older secret leads to no action.
   * The answer names the credential and the action; a repeat of the same secret changes nothing
   * and answers `already_reported: true`, `action: "none"`. A secret no credential of this tenant
   * was issued (unknown, or another tenant's) is a `404 secret_not_found` {@link ClavisError};
   * one not shaped like a Clavis secret a `400 invalid_secret`; a bad `sourceUrl` a `400
   * invalid_field` naming `source_url`. The secret goes in the request body only, and no error
   * this throws carries it.
   */
  reportLeak(leaked: LeakedSecret, options: { signal?: AbortSignal } = {}): Promise<LeakReport> {
    const body: ReportLeakBody = { secret: leaked.secret };
    if (leaked.sourceUrl !== undefined) body.source_url = leaked.sourceUrl;
    return this.#client.callJson<LeakReport>({
      method: "POST",
      segments: this.#path("leaks"),
      body,
      signal: options.signal,
    });
  }

  /** `GET /v1/tenants/{tenant}/webhooks`: the tenant's webhook endpoints, oldest first (at most 10). */
  async webhooks(options: { signal?: AbortSignal } = {}): Promise<Webhook[]> {
    const answer = await this.#client.callJson<JsonOf<operations["list-webhooks"]["responses"][200]>>({
      method: "GET",
      segments: this.#path("webhooks"),
      signal: options.signal,
    });
    return answer.webhooks;
  }

  /** `GET …/webhooks/{webhook_id}`: one endpoint; an unknown one is a `404 webhook_not_found` {@link ClavisError}. */
  async webhook(webhookId: string, options: { signal?: AbortSignal } = {}): Promise<Webhook> {
    const answer = await this.#client.callJson<{ webhook: Webhook }>({
      method: "GET",
      segments: this.#path("webhooks", webhookId),
      signal: options.signal,
    });
    return answer.webhook;
  }

  /**
   * `POST /v1/tenants/{tenant}/webhooks`: registers an endpoint. The answer carries its signing
   * secret (`whsec_…`), the only time it can be read. A URL the server refuses is a `400
   * invalid_webhook_url` {@link ClavisError} (`field` url); an eleventh endpoint is a `409
   * webhook_limit_reached`. Not repeated after an answer is lost (the API takes no idempotency
   * key here): list the endpoints before registering again.
   */
  createWebhook(webhook: NewWebhook, options: { signal?: AbortSignal } = {}): Promise<WebhookWithSecret> {
    const body: CreateWebhookBody = { url: webhook.url };
    if (webhook.eventTypes !== undefined) body.event_types = webhook.eventTypes === null ? null : [...webhook.eventTypes];
    if (webhook.description !== undefined) body.description = webhook.description;
    return this.#client.callJson<WebhookWithSecret>({
      method: "POST",
      segments: this.#path("webhooks"),
      body,
      signal: options.signal,
    });
  }

  /** `PATCH …/webhooks/{webhook_id}`: changes the URL, event types or description, or disables or enables the endpoint. */
  async updateWebhook(webhookId: string, changes: WebhookUpdate, options: { signal?: AbortSignal } = {}): Promise<Webhook> {
    const body: UpdateWebhookBody = {};
    if (changes.url !== undefined) body.url = changes.url;
    if (changes.eventTypes !== undefined) body.event_types = changes.eventTypes === null ? null : [...changes.eventTypes];
    if (changes.description !== undefined) body.description = changes.description;
    if (changes.status !== undefined) body.status = changes.status;
    const answer = await this.#client.callJson<{ webhook: Webhook }>({
      method: "PATCH",
      segments: this.#path("webhooks", webhookId),
      body,
      signal: options.signal,
    });
    return answer.webhook;
  }

  /** `DELETE …/webhooks/{webhook_id}`: removes the endpoint; nothing more is sent to it. */
  async deleteWebhook(webhookId: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const response = await this.#client.call({
      method: "DELETE",
      segments: this.#path("webhooks", webhookId),
      signal: options.signal,
    });
    await response.body?.cancel();
  }

  /**
   * `POST …/webhooks/{webhook_id}/rotate-secret`: a new signing secret, returned this once. The
   * old one keeps signing beside it until `webhook.previous_secret_valid_until` (24 hours).
   */
  rotateWebhookSecret(webhookId: string, options: { signal?: AbortSignal } = {}): Promise<WebhookWithSecret> {
    return this.#client.callJson<WebhookWithSecret>({
      method: "POST",
      segments: this.#path("webhooks", webhookId, "rotate-secret"),
      signal: options.signal,
    });
  }

  /**
   * `POST …/webhooks/{webhook_id}/test`: sends a `webhook.test` event to this endpoint only
   * (whatever its event types); follow it in {@link webhookDeliveries}. A disabled endpoint is a
   * `409 webhook_disabled` {@link ClavisError}.
   */
  async testWebhook(webhookId: string, options: { signal?: AbortSignal } = {}): Promise<{ eventId: string }> {
    const answer = await this.#client.callJson<JsonOf<operations["test-webhook"]["responses"][202]>>({
      method: "POST",
      segments: this.#path("webhooks", webhookId, "test"),
      signal: options.signal,
    });
    return { eventId: answer.event_id };
  }

  /** `GET …/webhooks/{webhook_id}/deliveries`: one page of the endpoint's deliveries, newest first. */
  webhookDeliveries(webhookId: string, options: DeliveriesOptions = {}): Promise<WebhookDeliveryPage> {
    const query: DeliveriesQuery = {};
    if (options.limit !== undefined) query.limit = options.limit;
    if (options.cursor !== undefined) query.cursor = options.cursor;
    return this.#client.callJson<WebhookDeliveryPage>({
      method: "GET",
      segments: this.#path("webhooks", webhookId, "deliveries"),
      query: { ...query },
      signal: options.signal,
    });
  }

  /** Every delivery of an endpoint, newest first, page after page as iterated. */
  webhookDeliveriesAll(webhookId: string, options: Omit<DeliveriesOptions, "cursor"> = {}): AsyncIterableIterator<WebhookDelivery> {
    return paginate(async (cursor) => {
      const page = await this.webhookDeliveries(webhookId, withCursor(options, cursor));
      return { items: page.deliveries, next_cursor: page.next_cursor };
    });
  }

  async #policyCall(call: Call): Promise<PolicyWithETag> {
    const response = await this.#client.call(call);
    const policy = await readJson<Policy>(new URL(this.#client.url), response);
    return { policy, etag: response.headers.get("etag") ?? undefined };
  }
}

function auditQuery(options: AuditListOptions): AuditQuery {
  const query: AuditQuery = {};
  if (options.limit !== undefined) query.limit = options.limit;
  if (options.cursor !== undefined) query.cursor = options.cursor;
  return query;
}

function usageQuery(options: UsageOptions): UsageQuery {
  const query: UsageQuery = {};
  if (options.from !== undefined) query.from = utcDay(options.from);
  if (options.to !== undefined) query.to = utcDay(options.to);
  return query;
}

/** `YYYY-MM-DD`: a Date's UTC day, or the string as given (the server checks it). */
function utcDay(day: UsageDate): string {
  if (typeof day === "string") {
    return day;
  }
  if (Number.isNaN(day.getTime())) {
    throw new RangeError("a usage day must be a valid Date or a YYYY-MM-DD string");
  }
  return day.toISOString().slice(0, 10);
}

function withCursor<T extends object>(options: T, cursor: string | undefined): T & { cursor?: string } {
  return cursor === undefined ? options : { ...options, cursor };
}

/** Items of page after page, following `next_cursor` until it is null. */
async function* paginate<T>(
  page: (cursor: string | undefined) => Promise<{ items: T[]; next_cursor: string | null }>,
): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  do {
    const current = await page(cursor);
    yield* current.items;
    cursor = current.next_cursor ?? undefined;
  } while (cursor !== undefined);
}
