// Sending requests: a timeout per attempt, and retries with backoff on throttling and server
// errors that honour `Retry-After`. Shared by the management client and the token source.

import { ConfigError, NetworkError } from "./errors.js";

/** The `fetch` this SDK calls: the global one unless another is given. */
export type Fetch = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

/**
 * When and how often a request is tried again.
 *
 * A request is retried when the server answers `429` or `503` (both mean it was not carried
 * out) and when it could not be sent at all; requests that are safe to repeat (`GET`, `PUT`,
 * `DELETE` and token requests) also on `500`, `502`, `504` and timeouts. The one `503` that does
 * not mean "not carried out" is a problem with `outcome: "unknown"`: a request that is not safe
 * to repeat is then not retried, since repeating an applied create or rotation would apply it
 * twice. `Retry-After` sets the wait; otherwise it grows exponentially with jitter from
 * `initialBackoffMs` to `maxBackoffMs`. A `Retry-After` longer than `maxRetryAfterMs` is not
 * waited for: the error comes back at once, carrying it.
 *
 * A request carrying an `Idempotency-Key` (every create and rotation) is safe to repeat with the
 * same key: the server answers a repeat with the first answer, secret included, and changes
 * nothing. Such a request is therefore also repeated, with the same key, after a `503` whose
 * outcome is unknown, a timeout, a dropped connection, any server error and a `409
 * idempotency_in_progress` (its twin is still being carried out), so that the caller receives its
 * one secret exactly once and no credential is left orphaned.
 */
export interface RetryPolicy {
  /** Retries after the first attempt (0 turns retrying off). */
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  maxRetryAfterMs: number;
}

export const defaultRetryPolicy: Readonly<RetryPolicy> = Object.freeze({
  maxRetries: 3,
  initialBackoffMs: 200,
  maxBackoffMs: 5_000,
  maxRetryAfterMs: 30_000,
});

/** Transport settings the management client and the token source both take. */
export interface TransportOptions {
  /** The `fetch` to send with (the global one unless set). */
  fetch?: Fetch;
  /** Retries (see {@link RetryPolicy}); fields left out keep their defaults. */
  retry?: Partial<RetryPolicy>;
  /** How long one attempt may take, in milliseconds (30 s unless set). */
  timeoutMs?: number;
  /** How the client waits between retries (tests record the waits instead of sleeping). */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Accept an `http://` base URL whose host is not loopback. Tokens and secrets then cross the
   * network in cleartext, so this is off unless set: without it such a URL is a {@link ConfigError}.
   * `https://` URLs and `http://` to `127.0.0.0/8`, `[::1]` and `localhost` never need it.
   */
  allowInsecureHttp?: boolean;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

/** Error codes of connections that were never made: the request did not reach the server. */
const NOT_CONNECTED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

export class Transport {
  readonly #fetch: Fetch;
  readonly #retry: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: TransportOptions) {
    const fetchFunction = options.fetch ?? globalThis.fetch;
    if (typeof fetchFunction !== "function") {
      throw new ConfigError("no fetch: this runtime has no global fetch, so pass one as `fetch`");
    }
    // A method call `this.#fetch(…)` would run the global fetch with `this` set to the
    // transport, which browsers refuse ("Illegal invocation"): call it as a plain function (a `fetch` passed in may be the global one too).
    this.#fetch = (input, init) => fetchFunction(input, init);
    this.#retry = { ...defaultRetryPolicy, ...options.retry };
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** One attempt, with the timeout, and network failures as {@link NetworkError}. */
  async once(request: Request): Promise<Response> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = AbortSignal.any([request.signal, timeout]);
    try {
      return await this.#fetch(new Request(request, { signal }));
    } catch (error) {
      if (request.signal.aborted) {
        throw error; // the caller cancelled: their own abort reason, unchanged
      }
      throw new NetworkError(new URL(request.url), error, timeout.aborted);
    }
  }

  /**
   * Sends the request `build` makes (once per attempt), retrying as {@link RetryPolicy} says,
   * and returns the last response, whatever its status.
   */
  async send(build: () => Request, options: { idempotent?: boolean } = {}): Promise<Response> {
    for (let retry = 0; ; retry += 1) {
      const request = build();
      // With an Idempotency-Key, a repeat replays the first answer: safe whatever happened.
      const keyed = request.headers.has("idempotency-key");
      const idempotent = keyed || options.idempotent === true || SAFE_METHODS.has(request.method);
      const more = retry < this.#retry.maxRetries;
      let wait: number;
      try {
        const response = await this.once(request);
        const inProgress = keyed && response.status === 409 && (await problemCode(response)) === "idempotency_in_progress";
        if (!more || !(inProgress || retryableStatus(response.status, idempotent))) {
          return response;
        }
        if (response.status === 503 && !idempotent && (await outcomeUnknown(response))) {
          return response;
        }
        const after = retryAfterMs(response.headers, Date.now());
        if (after !== undefined && after > this.#retry.maxRetryAfterMs) {
          return response;
        }
        wait = after ?? backoffMs(this.#retry, retry);
        await response.body?.cancel();
      } catch (error) {
        // A connection that dropped mid-request may or may not have carried it out: only a keyed
        // request is repeated then; a timeout is repeated for any request safe to repeat.
        if (!(error instanceof NetworkError) || !more || !(keyed || notConnected(error) || (idempotent && error.timedOut))) {
          throw error;
        }
        wait = backoffMs(this.#retry, retry);
      }
      await this.#sleep(wait);
    }
  }
}

function retryableStatus(status: number, idempotent: boolean): boolean {
  return status === 429 || status === 503 || (idempotent && (status === 500 || status === 502 || status === 504));
}

function notConnected(error: NetworkError): boolean {
  let cause: unknown = error.cause;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth += 1) {
    const code = (cause as Error & { code?: unknown }).code;
    if (typeof code === "string" && NOT_CONNECTED.has(code)) {
      return true;
    }
    cause = cause.cause;
  }
  return false;
}

/** Whether a `503` problem says its change may or may not have been applied. */
async function outcomeUnknown(response: Response): Promise<boolean> {
  try {
    const body: unknown = await response.clone().json();
    return isRecord(body) && body["outcome"] === "unknown";
  } catch {
    return false;
  }
}

/** The `code` of a problem document, if the body is one. */
async function problemCode(response: Response): Promise<string | undefined> {
  try {
    const body: unknown = await response.clone().json();
    return isRecord(body) && typeof body["code"] === "string" ? body["code"] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A fresh random idempotency key: a UUID (36 characters, within the 32–255 the API takes), from
 * `crypto.randomUUID` where the runtime has it, else from `crypto.getRandomValues` (which pages
 * served over plain http, outside a secure context, still have).
 */
export function newIdempotencyKey(): string {
  const crypto = globalThis.crypto;
  if (typeof crypto?.randomUUID === "function") {
    return crypto.randomUUID();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `Retry-After` as delay-seconds or as an HTTP date (RFC 9110 §10.2.3), in ms from `nowMs`. */
export function retryAfterMs(headers: Headers, nowMs: number): number | undefined {
  const value = headers.get("retry-after")?.trim();
  if (value === undefined || value === "") {
    return undefined;
  }
  if (/^[0-9]+$/.test(value)) {
    return Number(value) * 1000;
  }
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Exponential, capped, with "equal jitter" so that clients failing together spread out. */
function backoffMs(policy: RetryPolicy, retry: number): number {
  const ceiling = Math.min(policy.initialBackoffMs * 2 ** retry, policy.maxBackoffMs);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses the API's base URL (e.g. `https://api.example.com` or `http://127.0.0.1:3000`).
 * An `http://` URL must name a loopback host unless `allowInsecureHttp` is set: management
 * tokens, client secrets and access tokens must not cross a network in cleartext.
 */
export function baseUrl(text: string, options: { allowInsecureHttp?: boolean | undefined } = {}): URL {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new ConfigError(`the API URL ${JSON.stringify(text)} is not a URL; give one like https://api.example.com`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`the API URL ${JSON.stringify(text)} must be an http:// or https:// URL`);
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new ConfigError(`the API URL ${JSON.stringify(text)} must not have a query, fragment or user info`);
  }
  if (url.protocol === "http:" && options.allowInsecureHttp !== true && !isLoopback(url)) {
    throw new ConfigError(
      `the API URL ${url.origin} is cleartext http:// to ${url.hostname}, which is not a loopback host: ` +
        "tokens and secrets would cross the network unencrypted. Use https://, or opt in with `allowInsecureHttp: true`",
    );
  }
  if (!url.pathname.endsWith("/")) {
    url.pathname += "/";
  }
  return url;
}

/**
 * Whether the URL's host is this machine: `localhost`, `127.0.0.0/8` or `[::1]`. The WHATWG
 * parser has already normalised the host (IPv4 in dotted decimal, IPv6 compressed in brackets,
 * names in lower case), so exact forms suffice.
 */
function isLoopback(url: URL): boolean {
  const host = url.hostname;
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `base` with path segments appended, each percent-encoded as one segment. */
export function endpoint(base: URL, segments: readonly string[]): URL {
  return new URL(segments.map(encodeURIComponent).join("/"), base);
}
