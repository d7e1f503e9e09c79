// What can go wrong, typed: a refusal from the management API (with its problem `code`), a
// refusal from the token endpoint (with its OAuth `error`), or no usable answer at all.
//
// No message, property or `toString` of these errors ever holds a secret or a token: messages
// are built from the server's problem documents and the URL's origin only.

import type { components } from "./schema.js";

export type Credential = components["schemas"]["Credential"];
export type Policy = components["schemas"]["Policy"];
export type Problem = components["schemas"]["Problem"];
export type OAuthErrorBody = components["schemas"]["OAuthError"];

/** An OAuth error as received: the spec's `error` values, or one a newer server added. */
export interface ReceivedOAuthError {
  error: OAuthErrorBody["error"] | (string & {});
  error_description?: string;
}

/** The common base of every error this SDK throws; `code` is always machine-readable. */
export abstract class ClavisSdkError extends Error {
  abstract readonly code: string;
}

/** What a management API refusal carries besides its problem document. */
export interface ProblemExtras {
  /** On `412 version_mismatch`: the credential as it is now, to refresh from. */
  credential?: Credential;
  /** On a `412` to a policy change: the tenant's policy as it is now, to refresh from. */
  policy?: Policy;
  /** On `503 service_unavailable`: `"unknown"` when a change may or may not have been applied. */
  outcome?: string;
}

/**
 * The management API (`/v1`) answered with an RFC 9457 problem document, or API Gateway refused
 * the request before it reached Clavis (then `code` is derived from the status).
 */
export class ClavisError extends ClavisSdkError {
  override readonly name = "ClavisError";
  /** The HTTP status. */
  readonly status: number;
  /** Stable and machine-readable: `credential_revoked`, `expiry_locked`, `version_mismatch`, `policy_violation`, … */
  readonly code: string;
  readonly title: string;
  /** A sentence a person understands. */
  readonly detail: string;
  /** The request field at fault, when there is one. */
  readonly field: string | undefined;
  /** Quote it to whoever runs the service. */
  readonly requestId: string | undefined;
  /** On `412`: the credential as it is now, so that a view can refresh to it. */
  readonly credential: Credential | undefined;
  /** On `412` to `setPolicy`: the tenant's policy as it is now, so that a view can refresh to it. */
  readonly policy: Policy | undefined;
  /** On `503`: `"unknown"` when the change may or may not have been applied. */
  readonly outcome: string | undefined;
  /** How long the server asked to wait before trying again (`Retry-After`), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(problem: Problem & ProblemExtras, retryAfterMs?: number) {
    const text = problem.detail || problem.title;
    const request = problem.request_id === undefined ? "" : ` [request ${problem.request_id}]`;
    super(`${text} (${problem.code}, HTTP ${problem.status})${request}`);
    this.status = problem.status;
    this.code = problem.code;
    this.title = problem.title;
    this.detail = problem.detail;
    this.field = problem.field;
    this.requestId = problem.request_id;
    this.credential = problem.credential;
    this.policy = problem.policy;
    this.outcome = problem.outcome;
    this.retryAfterMs = retryAfterMs;
  }

  /**
   * The credential store stopped answering while the change was being saved: it may or may not
   * have been applied (entirely or not at all). Creates and rotations carry an idempotency key,
   * which the client repeats them with by itself (bounded by the retry policy); when the error
   * still comes back, repeat the call with the same `idempotencyKey` to get the first answer, or
   * read the credential before repeating any other change. The client never repeats other
   * changes by itself.
   */
  get outcomeUnknown(): boolean {
    return this.outcome === "unknown";
  }

  /**
   * API Gateway answers some requests itself, before any function runs, with
   * `{"message": "…"}` rather than a problem document; this gives them a code too.
   */
  static fromGateway(status: number, message: string | undefined, retryAfterMs?: number): ClavisError {
    const [code, detail] = gatewayRefusal(status);
    return new ClavisError(
      { type: "about:blank", title: message ?? "", status, detail, code },
      retryAfterMs,
    );
  }
}

function gatewayRefusal(status: number): [string, string] {
  switch (status) {
    case 401:
      return [
        "unauthorized",
        "The management token is missing, expired, or not signed by the identity provider the API trusts.",
      ];
    case 403:
      return ["forbidden", "The API refused this request."];
    case 404:
      return ["not_found", "There is no such route on this API."];
    case 413:
      return ["payload_too_large", "The request body is too large."];
    case 429:
      return ["too_many_requests", "The API is throttling requests; retry later."];
    case 503:
      return ["service_unavailable", "The API is temporarily unavailable; retry shortly."];
    default:
      return status >= 500
        ? ["server_error", "The API failed to answer."]
        : ["http_error", "The API refused the request."];
  }
}

/** The token endpoint answered with an RFC 6749 §5.2 error (`invalid_client`, `invalid_scope`, …). */
export class OAuthError extends ClavisSdkError {
  override readonly name = "OAuthError";
  readonly status: number;
  /** The OAuth `error`: `invalid_client`, `invalid_scope`, `slow_down`, … */
  readonly error: string;
  readonly error_description: string | undefined;
  /** From the `Retry-After` header (`slow_down`, `temporarily_unavailable`), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, body: ReceivedOAuthError, retryAfterMs?: number) {
    const description = body.error_description === undefined ? "" : `: ${body.error_description}`;
    super(`the token endpoint refused the request${description} (${body.error}, HTTP ${status})`);
    this.status = status;
    this.error = body.error;
    this.error_description = body.error_description;
    this.retryAfterMs = retryAfterMs;
  }

  /** The same as `error`, so that every SDK error has a `code`. */
  get code(): string {
    return this.error;
  }
}

/** The server could not be reached, or did not answer in time. No HTTP status exists. */
export class NetworkError extends ClavisSdkError {
  override readonly name = "NetworkError";
  readonly code = "network_error";
  /** The scheme, host and port of the server: never a path or a query. */
  readonly origin: string;
  /** The attempt ran out of time (the request may have reached the server). */
  readonly timedOut: boolean;

  constructor(url: URL, cause: unknown, timedOut: boolean) {
    const reason = timedOut ? "no answer in time" : describeCause(cause);
    super(`could not reach ${url.origin}: ${reason}`, { cause });
    this.origin = url.origin;
    this.timedOut = timedOut;
  }
}

/** The server answered something this client does not understand. */
export class UnexpectedResponseError extends ClavisSdkError {
  override readonly name = "UnexpectedResponseError";
  readonly code = "unexpected_response";
  readonly status: number;
  readonly origin: string;

  constructor(url: URL, status: number, reason: string) {
    super(`unexpected response from ${url.origin} (HTTP ${status}): ${reason}`);
    this.status = status;
    this.origin = url.origin;
  }
}

/** The client was given something unusable (e.g. a malformed URL). */
export class ConfigError extends ClavisSdkError {
  override readonly name = "ConfigError";
  readonly code = "invalid_configuration";
}

/** fetch's own message rarely says what happened ("fetch failed"); its cause does. */
function describeCause(cause: unknown): string {
  const parts: string[] = [];
  let current: unknown = cause;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const message = current.message;
    const code = (current as Error & { code?: unknown }).code;
    if (!parts.some((part) => part.includes(message))) {
      parts.push(typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message);
    }
    current = current.cause;
  }
  return parts.length > 0 ? parts.join(": ") : "the request failed";
}
