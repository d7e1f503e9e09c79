// The token source against a stub token endpoint and a stub API: caching, early refresh,
// single flight, the 401 retry, retries of the token request, and secrets kept out of sight.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inspect } from "node:util";

import { NetworkError, OAuthError, TokenSource, UnexpectedResponseError } from "../src/index.js";
import type { Fetch, TokenSourceOptions } from "../src/index.js";
import { gate, json, recordingSleep, stubFetch } from "./stub.js";
import type { Handler, Recorded } from "./stub.js";

// Shaped like a Clavis secret (csk_<env>_<43 characters>_<6>), but assembled here so that no
// secret-shaped string sits in the repository for scanners to flag.
const SECRET = ["csk", "test", "0123456789abcdefghij".repeat(2) + "xyz", "abc123"].join("_");
const TOKEN_PATH = "/oauth/token";
const API = "https://shop.example.com/api/products";

/** A token endpoint that answers tok-1, tok-2, … with the given lifetime. */
function issuing(expiresIn = 3600): Handler {
  let issued = 0;
  return () => {
    issued += 1;
    return json(200, { access_token: `tok-${issued}`, token_type: "Bearer", expires_in: expiresIn, scope: "products:read" });
  };
}

function source(fetch: Fetch, extra: Partial<TokenSourceOptions> = {}): TokenSource {
  return new TokenSource({ url: "https://api.example.com", clientId: "cid_abc", clientSecret: SECRET, fetch, ...extra });
}

/** Routes token requests to `token` and everything else to `api`. */
function routed(token: Handler, api: Handler = () => json(200, {})): Handler {
  return (request: Recorded) => (request.url.pathname === TOKEN_PATH ? token(request) : api(request));
}

describe("TokenSource", () => {
  it("asks with client_secret_basic, form-encoded, and the scope", async () => {
    const stub = stubFetch(issuing());
    const tokens = source(stub.fetch, { scope: "products:read stock:write" });
    const token = await tokens.token();
    assert.equal(token.secret(), "tok-1");
    assert.equal(token.scope, "products:read");
    const [request] = stub.requests;
    assert.ok(request);
    assert.equal(request.method, "POST");
    assert.equal(request.url.href, "https://api.example.com/oauth/token");
    assert.equal(request.headers.get("content-type"), "application/x-www-form-urlencoded");
    const basic = request.headers.get("authorization") ?? "";
    assert.match(basic, /^Basic /);
    assert.equal(Buffer.from(basic.slice(6), "base64").toString(), `cid_abc:${SECRET}`);
    const form = new URLSearchParams(request.body);
    assert.equal(form.get("grant_type"), "client_credentials");
    assert.equal(form.get("scope"), "products:read stock:write");
    assert.equal(form.get("client_secret"), null, "the secret goes in the header only");
  });

  it("form-encodes both halves of the Basic credentials (RFC 6749 §2.3.1)", async () => {
    const stub = stubFetch(issuing());
    await source(stub.fetch, { clientId: "id:with space", clientSecret: "s€cret/+" }).token();
    const basic = stub.requests[0]?.headers.get("authorization") ?? "";
    assert.equal(Buffer.from(basic.slice(6), "base64").toString(), "id%3Awith+space:s%E2%82%ACcret%2F%2B");
  });

  it("sends one token request for 50 concurrent callers", async () => {
    const release = gate();
    const issue = issuing();
    const stub = stubFetch(async (request) => {
      await release.opened;
      return issue(request);
    });
    const tokens = source(stub.fetch);
    const callers = Array.from({ length: 50 }, () => tokens.token());
    release.open();
    const results = await Promise.all(callers);
    assert.equal(stub.requests.length, 1);
    assert.equal(tokens.tokenRequests, 1);
    assert.ok(results.every((token) => token.secret() === "tok-1"));
    await tokens.token();
    assert.equal(stub.requests.length, 1, "later callers are answered from the cache");
  });

  it("hands one failure to every caller that waited for it", async () => {
    const release = gate();
    const stub = stubFetch(async () => {
      await release.opened;
      return json(401, { error: "invalid_client", error_description: "Client authentication failed." });
    });
    const tokens = source(stub.fetch);
    const callers = Array.from({ length: 20 }, () => tokens.token());
    release.open();
    const outcomes = await Promise.allSettled(callers);
    assert.equal(stub.requests.length, 1);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, "rejected");
      assert.ok(outcome.status === "rejected" && outcome.reason instanceof OAuthError);
    }
  });

  it("refreshes the skew ahead of expiry, by the injected clock", async () => {
    let now = 1_000_000;
    const stub = stubFetch(issuing(3600));
    const tokens = source(stub.fetch, { skewSeconds: 60, now: () => now });
    assert.equal((await tokens.token()).secret(), "tok-1");
    now += 3539_000;
    assert.equal((await tokens.token()).secret(), "tok-1", "still more than the skew left");
    now += 1_000;
    assert.equal((await tokens.token()).secret(), "tok-2", "refreshed 60 s before expiry");
    assert.equal(stub.requests.length, 2);
  });

  it("uses a token for at least half its lifetime, however large the skew", async () => {
    let now = 0;
    const stub = stubFetch(issuing(100));
    const tokens = source(stub.fetch, { skewSeconds: 3600, now: () => now });
    await tokens.token();
    now = 49_999;
    assert.equal((await tokens.token()).secret(), "tok-1");
    now = 50_000;
    assert.equal((await tokens.token()).secret(), "tok-2");
  });

  it("falls back on the current token when a refresh fails before it expires", async () => {
    let now = 0;
    let fail = false;
    const issue = issuing(3600);
    const stub = stubFetch((request) =>
      fail ? json(400, { error: "invalid_scope", error_description: "No." }) : issue(request),
    );
    const tokens = source(stub.fetch, { now: () => now });
    await tokens.token();
    fail = true;
    now = 3550_000; // due for refresh, not expired
    assert.equal((await tokens.token()).secret(), "tok-1");
    now = 3600_000; // expired: the failure surfaces
    await assert.rejects(tokens.token(), (error: unknown) => error instanceof OAuthError && error.error === "invalid_scope");
  });

  it("on a 401 from the API, refreshes once and sends the request once more, body included", async () => {
    const api: Recorded[] = [];
    const stub = stubFetch(
      routed(issuing(), (request) => {
        api.push(request);
        return request.headers.get("authorization") === "Bearer tok-1" ? json(401, { message: "Unauthorized" }) : json(200, { ok: true });
      }),
    );
    const tokens = source(stub.fetch);
    await tokens.token();
    const response = await tokens.authorizedFetch(API, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sku: 7 }),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { ok: true });
    assert.equal(tokens.tokenRequests, 2, "one refresh");
    assert.deepEqual(api.map((r) => r.headers.get("authorization")), ["Bearer tok-1", "Bearer tok-2"]);
    assert.deepEqual(api.map((r) => r.body), ['{"sku":7}', '{"sku":7}']);
    assert.equal(api[1]?.headers.get("content-type"), "application/json");
  });

  it("retries a 401 only once, and leaves other statuses alone", async () => {
    let calls = 0;
    const stub = stubFetch(
      routed(issuing(), () => {
        calls += 1;
        return json(calls <= 2 ? 401 : 503, {});
      }),
    );
    const tokens = source(stub.fetch);
    assert.equal((await tokens.authorizedFetch(API)).status, 401);
    assert.equal(calls, 2);
    assert.equal((await tokens.authorizedFetch(API)).status, 503);
    assert.equal(calls, 3, "a 503 from the API is the caller's to handle");
  });

  it("refreshes once for 30 callers refused with the same token", async () => {
    const stub = stubFetch(
      routed(issuing(), (request) =>
        request.headers.get("authorization") === "Bearer tok-1" ? json(401, {}) : json(200, {}),
      ),
    );
    const tokens = source(stub.fetch);
    await tokens.token();
    const responses = await Promise.all(Array.from({ length: 30 }, () => tokens.authorizedFetch(API)));
    assert.ok(responses.every((response) => response.status === 200));
    assert.equal(tokens.tokenRequests, 2, "the first token and one refresh");
    assert.equal(stub.to("/api/products").length, 60);
  });

  it("does not repeat a request whose body is a stream", async () => {
    const stub = stubFetch(routed(issuing(), () => json(401, {})));
    const tokens = source(stub.fetch);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("x"));
        controller.close();
      },
    });
    const init: RequestInit & { duplex: "half" } = { method: "POST", body, duplex: "half" };
    assert.equal((await tokens.authorizedFetch(API, init)).status, 401);
    assert.equal(stub.to("/api/products").length, 1);
  });

  it("honours Retry-After on a throttled token request", async () => {
    const issue = issuing();
    let throttled = false;
    const stub = stubFetch((request) => {
      if (!throttled) {
        throttled = true;
        return json(429, { error: "slow_down" }, { "retry-after": "7" });
      }
      return issue(request);
    });
    const { sleep, waits } = recordingSleep();
    const tokens = source(stub.fetch, { sleep });
    assert.equal((await tokens.token()).secret(), "tok-1");
    assert.deepEqual(waits, [7_000]);
    assert.equal(tokens.tokenRequests, 2);
  });

  it("does not wait for a Retry-After beyond the limit, and reports it", async () => {
    const stub = stubFetch(() =>
      json(503, { error: "temporarily_unavailable" }, { "retry-after": "120" }),
    );
    const { sleep, waits } = recordingSleep();
    const tokens = source(stub.fetch, { sleep });
    await assert.rejects(tokens.token(), (error: unknown) => {
      assert.ok(error instanceof OAuthError);
      assert.equal(error.error, "temporarily_unavailable");
      assert.equal(error.status, 503);
      assert.equal(error.retryAfterMs, 120_000);
      return true;
    });
    assert.deepEqual(waits, []);
    assert.equal(stub.requests.length, 1);
  });

  it("reports refusals as OAuthError with error, description and status", async () => {
    const stub = stubFetch(() =>
      json(401, { error: "invalid_client", error_description: "Client authentication failed." }, { "www-authenticate": "Basic" }),
    );
    await assert.rejects(source(stub.fetch).token(), (error: unknown) => {
      assert.ok(error instanceof OAuthError);
      assert.equal(error.status, 401);
      assert.equal(error.error, "invalid_client");
      assert.equal(error.code, "invalid_client");
      assert.equal(error.error_description, "Client authentication failed.");
      assert.ok(!error.message.includes(SECRET));
      return true;
    });
  });

  it("reports what is not an OAuth answer as an unexpected response", async () => {
    const stub = stubFetch(() => new Response("<html>bad gateway</html>", { status: 400 }));
    await assert.rejects(source(stub.fetch).token(), UnexpectedResponseError);
    const notBearer = stubFetch(() => json(200, { access_token: "x", token_type: "mac", expires_in: 60 }));
    await assert.rejects(source(notBearer.fetch).token(), UnexpectedResponseError);
  });

  it("keeps the client secret and the token out of JSON, inspect, strings and errors", async () => {
    const unreachable = stubFetch(() => {
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }) });
    });
    const { sleep } = recordingSleep();
    const tokens = source(unreachable.fetch, { sleep });
    const shown = [JSON.stringify(tokens), inspect(tokens, { showHidden: true, depth: 5 }), String(tokens), JSON.stringify(Object.entries(tokens))];
    for (const text of shown) {
      assert.ok(!text.includes(SECRET), text);
    }
    assert.ok(inspect(tokens).includes("cid_abc"));
    await assert.rejects(tokens.token(), (error: unknown) => {
      assert.ok(error instanceof NetworkError);
      assert.equal(error.code, "network_error");
      assert.equal(error.origin, "https://api.example.com");
      for (const text of [error.message, String(error), inspect(error, { depth: 10 }), JSON.stringify(error)]) {
        assert.ok(!text.includes(SECRET), text);
        assert.ok(!text.includes(Buffer.from(`cid_abc:${SECRET}`).toString("base64")), text);
      }
      return true;
    });
    assert.equal(unreachable.requests.length, 4, "a connection never made is retried");

    const stub = stubFetch(issuing());
    const token = await source(stub.fetch).token();
    for (const text of [JSON.stringify(token), inspect(token, { showHidden: true }), String(token), `${token}`]) {
      assert.ok(!text.includes("tok-1"), text);
    }
  });

  it("reads its settings from the environment", () => {
    const tokens = TokenSource.fromEnv({ CLAVIS_URL: "http://127.0.0.1:3000", CLAVIS_CLIENT_ID: "cid_x", CLAVIS_CLIENT_SECRET: SECRET });
    assert.equal(tokens.tokenUrl, "http://127.0.0.1:3000/oauth/token");
    assert.equal(tokens.clientId, "cid_x");
    assert.throws(() => TokenSource.fromEnv({ CLAVIS_URL: "http://x" }), /CLAVIS_CLIENT_ID is not set/);
  });
});
