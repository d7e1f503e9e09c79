// Access tokens for integrations: the OAuth 2.0 `client_credentials` grant, cached and
// refreshed before it runs out, one request to the token endpoint however many callers ask.

import { ConfigError, OAuthError, UnexpectedResponseError } from "./errors.js";
import type { operations } from "./schema.js";
import { Transport, baseUrl, endpoint, isRecord, retryAfterMs } from "./transport.js";
import type { TransportOptions } from "./transport.js";

/** The token endpoint's success body, as the spec gives it. */
export type TokenResponse = operations["issue-token"]["responses"][200]["content"]["application/json"];

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");
const REDACTED = "[REDACTED]";

/** When the server does not say how long a token lasts (RFC 6749 makes `expires_in` optional). */
const UNSTATED_LIFETIME_SECONDS = 300;

/** An access token. Its JSON, `util.inspect` and `toString` forms never show the token itself. */
export class AccessToken {
  readonly #value: string;
  /** The scopes granted, space-separated. */
  readonly scope: string | undefined;
  /** The lifetime the server gave it, in seconds. */
  readonly expiresIn: number;
  /** When it stops working, by the token source's clock (ms; counted from when it was asked for, so it errs early). */
  readonly expiresAt: number;
  /** When the token source will fetch another (ms, by its clock). */
  readonly refreshAt: number;

  constructor(value: string, scope: string | undefined, expiresIn: number, expiresAt: number, refreshAt: number) {
    this.#value = value;
    this.scope = scope;
    this.expiresIn = expiresIn;
    this.expiresAt = expiresAt;
    this.refreshAt = refreshAt;
  }

  /** The bearer token itself. */
  secret(): string {
    return this.#value;
  }

  /** `Bearer <token>`, for an `Authorization` header. */
  authorizationHeader(): string {
    return `Bearer ${this.#value}`;
  }

  sameAs(other: AccessToken): boolean {
    return this.#value === other.#value;
  }

  toJSON(): { token: string; scope: string | undefined; expiresIn: number } {
    return { token: REDACTED, scope: this.scope, expiresIn: this.expiresIn };
  }

  toString(): string {
    return `AccessToken(${REDACTED})`;
  }

  [inspectSymbol](): string {
    return `AccessToken { token: ${REDACTED}, scope: ${JSON.stringify(this.scope)}, expiresIn: ${this.expiresIn} }`;
  }
}

export interface TokenSourceOptions extends TransportOptions {
  /**
   * The API's base URL; the token endpoint is `<url>/oauth/token` unless `tokenUrl` is set.
   * Either URL, if `http://` to a host that is not loopback, needs `allowInsecureHttp: true`.
   */
  url: string;
  tokenUrl?: string;
  clientId: string;
  clientSecret: string;
  /** Ask for these scopes only (space-separated, a subset of the credential's); all of them unless set. */
  scope?: string;
  /**
   * Fetch a new token this many seconds before the current one expires (60 unless set). A token
   * is always used for at least half its lifetime, however large the skew.
   */
  skewSeconds?: number;
  /**
   * The clock deciding when a token is due, in ms: the monotonic `performance.now` unless set
   * (tests move time by hand).
   */
  now?: () => number;
}

/**
 * Access tokens for an integration, fetched with its client credentials (`client_secret_basic`)
 * and cached.
 *
 * - {@link token} answers from the cache while the token has more than the skew left, and
 *   fetches a new one otherwise. However many callers ask at once, one request goes to the
 *   token endpoint; the others wait for its answer (or its error).
 * - {@link authorizedFetch} attaches the token to a request to your API and, if the API answers
 *   `401`, fetches a fresh token and sends the request once more. Many requests refused with the
 *   same token cause one refresh.
 *
 * The client secret is held in a private field: JSON, `util.inspect` and error messages never show it.
 */
export class TokenSource {
  readonly clientId: string;
  readonly scope: string | undefined;
  readonly tokenUrl: string;
  readonly #clientSecret: string;
  readonly #skewMs: number;
  readonly #now: () => number;
  readonly #transport: Transport;
  #cached: AccessToken | undefined;
  #inflight: Promise<AccessToken> | undefined;
  #requests = 0;

  constructor(options: TokenSourceOptions) {
    if (options.clientId === "" || options.clientSecret === "") {
      throw new ConfigError("a token source needs a client ID and a client secret");
    }
    const skewSeconds = options.skewSeconds ?? 60;
    if (!Number.isFinite(skewSeconds) || skewSeconds < 0) {
      throw new ConfigError("skewSeconds must be a number of seconds, 0 or more");
    }
    this.tokenUrl = (options.tokenUrl === undefined
      ? endpoint(baseUrl(options.url, options), ["oauth", "token"])
      : new URL(baseUrl(options.tokenUrl, options).href.replace(/\/$/, ""))
    ).href;
    this.clientId = options.clientId;
    this.scope = options.scope;
    this.#clientSecret = options.clientSecret;
    this.#skewMs = skewSeconds * 1000;
    this.#now = options.now ?? (() => performance.now());
    this.#transport = new Transport(options);
  }

  /**
   * From the variables `clavis create --save-env` writes: `CLAVIS_URL`, `CLAVIS_CLIENT_ID`,
   * `CLAVIS_CLIENT_SECRET` (pass `process.env`).
   */
  static fromEnv(
    env: Record<string, string | undefined>,
    options: Omit<TokenSourceOptions, "url" | "clientId" | "clientSecret"> = {},
  ): TokenSource {
    const read = (name: string): string => {
      const value = env[name];
      if (value === undefined || value === "") {
        throw new ConfigError(`${name} is not set`);
      }
      return value;
    };
    return new TokenSource({
      ...options,
      url: read("CLAVIS_URL"),
      clientId: read("CLAVIS_CLIENT_ID"),
      clientSecret: read("CLAVIS_CLIENT_SECRET"),
    });
  }

  /** How many requests this source has sent to the token endpoint (retries included). */
  get tokenRequests(): number {
    return this.#requests;
  }

  /** A token with more than the skew left: the cached one, or a new one (one fetch for all callers). */
  token(): Promise<AccessToken> {
    const cached = this.#cached;
    if (cached !== undefined && this.#now() < cached.refreshAt) {
      return Promise.resolve(cached);
    }
    if (this.#inflight === undefined) {
      const inflight = this.#fetch().then(
        (fresh) => {
          this.#cached = fresh;
          return fresh;
        },
        (error: unknown) => {
          // A failed refresh falls back on the current token while it has not expired.
          const current = this.#cached;
          if (current !== undefined && this.#now() < current.expiresAt) {
            return current;
          }
          throw error;
        },
      );
      this.#inflight = inflight;
      const clear = (): void => {
        if (this.#inflight === inflight) {
          this.#inflight = undefined;
        }
      };
      inflight.then(clear, clear);
    }
    return this.#inflight;
  }

  /** Fetches a new token now, whatever the cache holds (joining a fetch already under way). */
  refresh(): Promise<AccessToken> {
    this.#cached = undefined;
    return this.token();
  }

  /**
   * Drops `rejected` from the cache if it is still the cached token, so that the next
   * {@link token} fetches another. Many callers rejected with the same token cause one refresh.
   */
  invalidate(rejected: AccessToken): void {
    if (this.#cached !== undefined && this.#cached.sameAs(rejected)) {
      this.#cached = undefined;
    }
  }

  /**
   * `fetch` with `Authorization: Bearer <token>`. If the server answers `401` (the token was
   * revoked, or the server's keys changed), fetches a fresh token and sends the request once
   * more, answering with whatever that second attempt gets. A request whose body is a stream
   * cannot be repeated, so its `401` is returned as it is. Other statuses are returned as they
   * are: whether your own API's requests are safe to repeat is yours to decide.
   */
  async authorizedFetch(input: Request | string | URL, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init);
    const repeatable = !(init?.body instanceof ReadableStream);
    const spare = repeatable ? request.clone() : undefined;
    const token = await this.token();
    const response = await this.#send(request, token);
    if (response.status !== 401 || spare === undefined) {
      return response;
    }
    await response.body?.cancel();
    this.invalidate(token);
    const fresh = await this.token();
    return this.#send(spare, fresh);
  }

  toJSON(): { tokenUrl: string; clientId: string; clientSecret: string; scope: string | undefined } {
    return { tokenUrl: this.tokenUrl, clientId: this.clientId, clientSecret: REDACTED, scope: this.scope };
  }

  toString(): string {
    return `TokenSource(${this.clientId})`;
  }

  [inspectSymbol](): string {
    return `TokenSource { tokenUrl: ${JSON.stringify(this.tokenUrl)}, clientId: ${JSON.stringify(this.clientId)}, clientSecret: ${REDACTED}, scope: ${JSON.stringify(this.scope)} }`;
  }

  #send(request: Request, token: AccessToken): Promise<Response> {
    request.headers.set("authorization", token.authorizationHeader());
    return this.#transport.once(request);
  }

  /** One request to the token endpoint (with the transport's retries: always safe to repeat). */
  async #fetch(): Promise<AccessToken> {
    const url = new URL(this.tokenUrl);
    const form = new URLSearchParams({ grant_type: "client_credentials" });
    if (this.scope !== undefined) {
      form.set("scope", this.scope);
    }
    const body = form.toString();
    // RFC 6749 §2.3.1: both halves are form-urlencoded before the Basic encoding.
    const basic = btoa(`${formEncode(this.clientId)}:${formEncode(this.#clientSecret)}`); // ASCII once form-encoded
    const askedAt = this.#now();
    const response = await this.#transport.send(
      () => {
        this.#requests += 1;
        return new Request(url, {
          method: "POST",
          headers: {
            accept: "application/json",
            authorization: `Basic ${basic}`,
            "content-type": "application/x-www-form-urlencoded",
          },
          body,
        });
      },
      { idempotent: true },
    );
    if (!response.ok) {
      throw await oauthError(url, response);
    }
    let parsed: unknown;
    try {
      parsed = await response.json();
    } catch {
      throw new UnexpectedResponseError(url, response.status, "the token response is not JSON");
    }
    if (!isRecord(parsed) || typeof parsed["access_token"] !== "string" || typeof parsed["token_type"] !== "string") {
      throw new UnexpectedResponseError(url, response.status, "the token response has no access_token or token_type");
    }
    if (parsed["token_type"].toLowerCase() !== "bearer") {
      throw new UnexpectedResponseError(url, response.status, `token_type is ${JSON.stringify(parsed["token_type"])}, not Bearer`);
    }
    const stated = parsed["expires_in"];
    const expiresIn = typeof stated === "number" && stated > 0 ? stated : UNSTATED_LIFETIME_SECONDS;
    const lifetimeMs = expiresIn * 1000;
    const useForMs = Math.max(lifetimeMs - this.#skewMs, lifetimeMs / 2);
    const scope = typeof parsed["scope"] === "string" ? parsed["scope"] : undefined;
    return new AccessToken(parsed["access_token"], scope, expiresIn, askedAt + lifetimeMs, askedAt + useForMs);
  }
}

/** application/x-www-form-urlencoded (RFC 6749 Appendix B): ASCII only, so `btoa` can take it. */
function formEncode(text: string): string {
  return new URLSearchParams({ x: text }).toString().slice(2);
}

async function oauthError(url: URL, response: Response): Promise<OAuthError | UnexpectedResponseError> {
  const wait = retryAfterMs(response.headers, Date.now());
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (isRecord(body) && typeof body["error"] === "string") {
    const description = body["error_description"];
    return new OAuthError(
      response.status,
      {
        error: body["error"],
        ...(typeof description === "string" ? { error_description: description } : {}),
      },
      wait,
    );
  }
  return new UnexpectedResponseError(url, response.status, "the token endpoint did not answer with an OAuth error");
}

