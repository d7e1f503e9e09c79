// The management client against a stub fetch: routes and headers, problems as typed errors,
// retries (Retry-After, outcome unknown), paging, and the token kept out of sight.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { inspect } from "node:util";

import { ClavisClient, ClavisError, ConfigError, NetworkError, managementRoutes } from "../src/index.js";
import type { ClavisClientOptions, Fetch, LeakNotice, LeakReport } from "../src/index.js";
import { repoRoot } from "./local-gateway.js";
import { json, problem, recordingSleep, sampleCredential, samplePolicy, sampleUsage, stubFetch } from "./stub.js";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.management-token.signature";
const CID = "cid_abcdefghijklmnopqrstuvwxyz";
const BASE = `/v1/tenants/demo/credentials/${CID}`;

function client(fetch: Fetch, extra: Partial<ClavisClientOptions> = {}): ClavisClient {
  return new ClavisClient({ url: "https://api.example.com", token: TOKEN, fetch, ...extra });
}

const issued = { credential: sampleCredential(), client_secret: "csk_live_x_y", client_secret_notice: "Store it." };

describe("ClavisClient", () => {
  it("serves every /v1 operation of the spec, with the spec's method and path", () => {
    // The generated schema lists each path with `get: operations["…"]` lines: read them back.
    const schema = readFileSync(`${repoRoot()}/sdk-ts/src/schema.ts`, "utf8");
    const paths = schema.slice(schema.indexOf("export interface paths"), schema.indexOf("export type webhooks"));
    const inSpec = new Map<string, string>();
    let path = "";
    for (const line of paths.split("\n")) {
      const opened = /^ {4}"([^"]+)": \{$/.exec(line);
      if (opened?.[1] !== undefined) {
        path = opened[1];
      }
      const operation = /^ {8}(get|put|post|patch|delete): operations\["([^"]+)"\];$/.exec(line);
      if (operation?.[1] !== undefined && operation[2] !== undefined && path.startsWith("/v1/")) {
        inSpec.set(operation[2], `${operation[1].toUpperCase()} ${path}`);
      }
    }
    const served = new Map(Object.entries(managementRoutes).map(([id, [method, route]]) => [id, `${method} ${route}`]));
    assert.ok(inSpec.size >= 12, `found ${inSpec.size} /v1 operations in the schema`);
    // GitHub's secret scanning partner endpoint is under /v1 too, but only GitHub calls it
    // (signed by GitHub, no management token): not a management operation.
    assert.equal(inSpec.get("report-github-leaks"), "POST /v1/leaks/github");
    inSpec.delete("report-github-leaks");
    assert.deepEqual(served, inSpec);
  });

  it("sends each operation to its route with the bearer token, If-Match and JSON bodies", async () => {
    const stub = stubFetch((request) => {
      if (request.url.pathname.endsWith("/rotate") || (request.method === "POST" && request.url.pathname.endsWith("/credentials"))) {
        return json(request.url.pathname.endsWith("/rotate") ? 200 : 201, issued);
      }
      if (request.method === "DELETE") return new Response(null, { status: 204 });
      if (request.url.pathname.endsWith("/audit") || request.url.pathname.endsWith("/credentials")) {
        return json(200, { items: [], next_cursor: null });
      }
      return json(200, sampleCredential(), { etag: '"1"' });
    });
    const demo = client(stub.fetch).tenant("demo");
    await demo.create({ name: "n", scopes: ["a:b"] }, { idempotencyKey: "k".repeat(32) });
    await demo.list({ status: "active", limit: 10, cursor: "c1" });
    const got = await demo.get(CID);
    await demo.update(CID, { name: "m" }, { ifMatch: 3 });
    await demo.setExpiry(CID, new Date("2030-01-02T03:04:05Z"), { ifMatch: "*" });
    await demo.removeExpiry(CID);
    await demo.rotate(CID, { previousSecretValidForSeconds: 3600, ifMatch: 4 });
    await demo.suspend(CID, { ifMatch: 5 });
    await demo.reactivate(CID);
    await demo.revoke(CID, { reason: "retired" });
    await demo.delete(CID, { ifMatch: 6 });
    await demo.credentialAudit(CID, { limit: 5 });
    await demo.audit({ cursor: "c2" });

    // @ts-expect-error scopes are scope strings, as the spec says
    const loose: Parameters<typeof demo.update>[1] = { scopes: [1] };
    assert.ok(loose);
    assert.equal(got.etag, '"1"');
    assert.equal(got.credential.client_id, CID);
    const seen = stub.requests.map((r) => [r.method, r.url.pathname + r.url.search, r.headers.get("if-match"), r.body]);
    assert.deepEqual(seen, [
      ["POST", "/v1/tenants/demo/credentials", null, '{"name":"n","scopes":["a:b"]}'],
      ["GET", "/v1/tenants/demo/credentials?status=active&limit=10&cursor=c1", null, ""],
      ["GET", BASE, null, ""],
      ["PATCH", BASE, '"3"', '{"name":"m"}'],
      ["PUT", `${BASE}/expiry`, "*", '{"expires_at":"2030-01-02T03:04:05.000Z"}'],
      ["PUT", `${BASE}/expiry`, null, '{"expires_at":null}'],
      ["POST", `${BASE}/rotate`, '"4"', '{"previous_secret_valid_for_seconds":3600}'],
      ["POST", `${BASE}/suspend`, '"5"', ""],
      ["POST", `${BASE}/reactivate`, null, ""],
      ["POST", `${BASE}/revoke`, null, '{"reason":"retired"}'],
      ["DELETE", BASE, '"6"', ""],
      ["GET", `${BASE}/audit?limit=5`, null, ""],
      ["GET", "/v1/tenants/demo/audit?cursor=c2", null, ""],
    ]);
    for (const request of stub.requests) {
      assert.equal(request.headers.get("authorization"), `Bearer ${TOKEN}`);
      assert.equal(request.headers.get("content-type"), request.body === "" ? null : "application/json");
    }
    assert.equal(stub.requests[0]?.headers.get("idempotency-key"), "k".repeat(32));
    assert.equal(stub.requests[1]?.headers.get("idempotency-key"), null);
  });

  it("calls fetch as a plain function, as browsers require of the global fetch", async () => {
    // A browser's fetch throws "Illegal invocation" when called with `this` set to another object.
    let receiver: unknown = "not called";
    const strict: Fetch = function (this: unknown) {
      receiver = this;
      return Promise.resolve(json(200, { items: [], next_cursor: null }));
    };
    await client(strict).tenant("demo").list();
    assert.ok(receiver === undefined || receiver === globalThis, `fetch was called on ${String(receiver)}`);
  });

  it("encodes path segments and keeps a base path", async () => {
    const stub = stubFetch(() => json(200, sampleCredential()));
    await client(stub.fetch, { url: "https://api.example.com/prod" }).tenant("a/b c").get("x?y");
    assert.equal(stub.requests[0]?.url.href, "https://api.example.com/prod/v1/tenants/a%2Fb%20c/credentials/x%3Fy");
    assert.throws(() => client(stub.fetch, { url: "api.example.com" }), ConfigError);
    assert.throws(() => client(stub.fetch, { url: "https://x/?a=1" }), ConfigError);
    await assert.rejects(client(stub.fetch).tenant("demo").suspend(CID, { ifMatch: 0 }), RangeError);
  });

  it("asks a token function for the token on each request", async () => {
    const stub = stubFetch(() => json(200, { items: [], next_cursor: null }));
    let asked = 0;
    const supplied = client(stub.fetch, {
      token: () => {
        asked += 1;
        return Promise.resolve(`t${asked}`);
      },
    });
    await supplied.tenant("demo").list();
    await supplied.tenant("demo").audit();
    assert.deepEqual(stub.requests.map((r) => r.headers.get("authorization")), ["Bearer t1", "Bearer t2"]);
  });

  it("turns problems into ClavisError with code, title, detail, field and request id", async () => {
    const stub = stubFetch(() => problem(409, "expiry_locked", { request_id: "req-1", field: "expires_at" }));
    await assert.rejects(client(stub.fetch).tenant("demo").setExpiry(CID, "2030-01-01T00:00:00Z"), (error: unknown) => {
      assert.ok(error instanceof ClavisError);
      assert.equal(error.status, 409);
      assert.equal(error.code, "expiry_locked");
      assert.equal(error.title, "Refused");
      assert.equal(error.detail, "Refused: expiry_locked.");
      assert.equal(error.field, "expires_at");
      assert.equal(error.requestId, "req-1");
      assert.equal(error.message, "Refused: expiry_locked. (expiry_locked, HTTP 409) [request req-1]");
      return true;
    });
  });

  it("carries the current credential on 412", async () => {
    const now = sampleCredential({ version: 7, name: "Changed meanwhile" });
    const stub = stubFetch(() => problem(412, "version_mismatch", { credential: now }));
    await assert.rejects(client(stub.fetch).tenant("demo").suspend(CID, { ifMatch: 6 }), (error: unknown) => {
      assert.ok(error instanceof ClavisError);
      assert.equal(error.status, 412);
      assert.equal(error.code, "version_mismatch");
      assert.deepEqual(error.credential, now);
      return true;
    });
  });

  it("gives API Gateway's own refusals a code too", async () => {
    const stub = stubFetch(() => json(401, { message: "Unauthorized" }, { "www-authenticate": "Bearer" }));
    await assert.rejects(client(stub.fetch).tenant("demo").list(), (error: unknown) => {
      assert.ok(error instanceof ClavisError);
      assert.equal(error.code, "unauthorized");
      assert.equal(error.status, 401);
      assert.equal(error.title, "Unauthorized");
      assert.ok(!error.message.includes(TOKEN));
      return true;
    });
  });

  it("retries a 503 after its Retry-After, and a POST too when nothing was written", async () => {
    let calls = 0;
    const stub = stubFetch(() => {
      calls += 1;
      return calls === 1 ? problem(503, "service_unavailable", {}, { "retry-after": "2" }) : json(201, issued);
    });
    const { sleep, waits } = recordingSleep();
    const result = await client(stub.fetch, { sleep }).tenant("demo").create({ name: "n", scopes: ["a:b"] });
    assert.equal(result.client_secret, "csk_live_x_y");
    assert.deepEqual(waits, [2_000]);
    assert.equal(stub.requests.length, 2);
    assert.equal(stub.requests[1]?.body, '{"name":"n","scopes":["a:b"]}', "the body is sent again");
  });

  it("honours a Retry-After given as an HTTP date, and 429s", async () => {
    const at = new Date(Date.now() + 60_000).toUTCString();
    let calls = 0;
    const stub = stubFetch(() => {
      calls += 1;
      return calls === 1 ? json(429, { message: "Too Many Requests" }, { "retry-after": at }) : json(200, { items: [], next_cursor: null });
    });
    const { sleep, waits } = recordingSleep();
    await client(stub.fetch, { sleep, retry: { maxRetryAfterMs: 120_000 } }).tenant("demo").list();
    assert.equal(waits.length, 1);
    assert.ok((waits[0] ?? 0) > 55_000 && (waits[0] ?? 0) <= 60_000, String(waits[0]));
  });

  it("does not repeat a change without an idempotency key whose outcome is unknown", async () => {
    const stub = stubFetch(() => problem(503, "service_unavailable", { outcome: "unknown" }, { "retry-after": "1" }));
    const { sleep, waits } = recordingSleep();
    await assert.rejects(client(stub.fetch, { sleep }).tenant("demo").suspend(CID), (error: unknown) => {
      assert.ok(error instanceof ClavisError);
      assert.equal(error.code, "service_unavailable");
      assert.equal(error.outcomeUnknown, true);
      assert.equal(error.retryAfterMs, 1_000);
      return true;
    });
    assert.equal(stub.requests.length, 1);
    assert.deepEqual(waits, []);
  });

  it("retries server errors only for requests safe to repeat, and gives up after the policy", async () => {
    const failing = stubFetch(() => problem(500, "internal_error"));
    const { sleep, waits } = recordingSleep();
    const demo = client(failing.fetch, { sleep, retry: { maxRetries: 2, initialBackoffMs: 100, maxBackoffMs: 1_000 } }).tenant("demo");
    await assert.rejects(demo.get(CID), (error: unknown) => error instanceof ClavisError && error.status === 500);
    assert.equal(failing.requests.length, 3);
    assert.equal(waits.length, 2);
    assert.ok((waits[0] ?? 0) >= 50 && (waits[0] ?? 0) <= 100 && (waits[1] ?? 0) >= 100 && (waits[1] ?? 0) <= 200, String(waits));
    await assert.rejects(demo.suspend(CID), ClavisError);
    assert.equal(failing.requests.length, 4, "a POST is not repeated after a 500");
  });

  it("pages through every item with the async iterators", async () => {
    const pages: Record<string, { items: unknown[]; next_cursor: string | null }> = {
      "": { items: [sampleCredential({ name: "a" }), sampleCredential({ name: "b" })], next_cursor: "p2" },
      p2: { items: [sampleCredential({ name: "c" })], next_cursor: "p3" },
      p3: { items: [], next_cursor: null },
    };
    const stub = stubFetch((request) => json(200, pages[request.url.searchParams.get("cursor") ?? ""]));
    const names: string[] = [];
    for await (const credential of client(stub.fetch).tenant("demo").listAll({ status: "active", limit: 2 })) {
      names.push(credential.name);
    }
    assert.deepEqual(names, ["a", "b", "c"]);
    assert.deepEqual(stub.requests.map((r) => r.url.search), [
      "?status=active&limit=2",
      "?status=active&limit=2&cursor=p2",
      "?status=active&limit=2&cursor=p3",
    ]);
    const events = stubFetch(() => json(200, { items: [{ id: "e1" }], next_cursor: null }));
    const seen = [];
    for await (const event of client(events.fetch).tenant("demo").credentialAuditAll(CID)) {
      seen.push(event.id);
    }
    for await (const event of client(events.fetch).tenant("demo").auditAll()) {
      seen.push(event.id);
    }
    assert.deepEqual(seen, ["e1", "e1"]);
  });

  it("reports an unreachable server as a NetworkError, and never shows the token", async () => {
    const stub = stubFetch(() => {
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("getaddrinfo ENOTFOUND api.example.com"), { code: "ENOTFOUND" }) });
    });
    const { sleep } = recordingSleep();
    const unreachable = client(stub.fetch, { sleep });
    await assert.rejects(unreachable.tenant("demo").delete(CID), (error: unknown) => {
      assert.ok(error instanceof NetworkError);
      assert.equal(error.code, "network_error");
      assert.equal(error.timedOut, false);
      assert.match(error.message, /could not reach https:\/\/api\.example\.com: .*ENOTFOUND/);
      for (const text of [error.message, inspect(error, { depth: 10 }), JSON.stringify(error)]) {
        assert.ok(!text.includes(TOKEN), text);
      }
      return true;
    });
    for (const text of [JSON.stringify(unreachable), inspect(unreachable, { showHidden: true }), String(unreachable)]) {
      assert.ok(!text.includes(TOKEN), text);
    }
  });

  it("times an attempt out as a NetworkError", async () => {
    const hanging: Fetch = (input, init) =>
      new Promise((_resolve, reject) => {
        const signal = input instanceof Request ? input.signal : init?.signal;
        signal?.addEventListener("abort", () => reject(signal.reason));
      });
    // A real request's socket keeps the event loop alive while it waits; this stub has none,
    // and AbortSignal.timeout's timer does not keep the loop alive by itself.
    const keepAlive = setInterval(() => undefined, 1_000);
    try {
      await assert.rejects(
        client(hanging, { timeoutMs: 20, retry: { maxRetries: 0 } }).tenant("demo").list(),
        (error: unknown) => error instanceof NetworkError && error.timedOut,
      );
    } finally {
      clearInterval(keepAlive);
    }
  });
});

describe("the tenant policy", () => {
  const POLICY = "/v1/tenants/demo/policy";

  it("reads the policy with its ETag, and replaces it with If-Match of the version read (0 while never set)", async () => {
    const tightened = samplePolicy({ max_lifetime_days: 90, require_expiry: true, version: 1, updated_at: "2026-01-02T00:00:00Z", updated_by: "alice" });
    const stub = stubFetch((request) =>
      request.method === "GET" ? json(200, samplePolicy(), { etag: '"0"' }) : json(200, tightened, { etag: '"1"' }),
    );
    const demo = client(stub.fetch).tenant("demo");
    const read = await demo.policy();
    assert.equal(read.policy.version, 0);
    assert.equal(read.etag, '"0"');
    assert.equal(read.policy.leak_action, "revoke");
    assert.deepEqual(read.policy.allowed_environments, ["live", "test"]);

    const set = await demo.setPolicy({ max_lifetime_days: 90, require_expiry: true }, { ifMatch: read.policy.version });
    assert.equal(set.policy.version, 1);
    assert.equal(set.etag, '"1"');
    assert.equal(set.policy.updated_by, "alice");
    await demo.setPolicy({ allowed_scopes: null, allowed_environments: ["test"], leak_action: "suspend" }, { ifMatch: "*" });
    await demo.setPolicy({});

    // @ts-expect-error leak_action is one of the spec's three
    const loose: Parameters<typeof demo.setPolicy>[0] = { leak_action: "delete" };
    assert.ok(loose);
    const seen = stub.requests.map((r) => [r.method, r.url.pathname, r.headers.get("if-match"), r.body]);
    assert.deepEqual(seen, [
      ["GET", POLICY, null, ""],
      ["PUT", POLICY, '"0"', '{"max_lifetime_days":90,"require_expiry":true}'],
      ["PUT", POLICY, "*", '{"allowed_scopes":null,"allowed_environments":["test"],"leak_action":"suspend"}'],
      ["PUT", POLICY, null, "{}"],
    ]);
    for (const request of stub.requests) {
      assert.equal(request.headers.get("authorization"), `Bearer ${TOKEN}`);
    }
    await assert.rejects(demo.setPolicy({}, { ifMatch: -1 }), RangeError);
    await assert.rejects(demo.setPolicy({}, { ifMatch: 1.5 }), RangeError);
    assert.equal(stub.requests.length, 4, "a bad If-Match is refused before anything is sent");
  });

  it("carries the current policy on 412, as credential changes carry the credential", async () => {
    const now = samplePolicy({ version: 4, max_lifetime_days: 30, updated_by: "bob" });
    const stub = stubFetch(() => problem(412, "version_mismatch", { policy: now }));
    await assert.rejects(client(stub.fetch).tenant("demo").setPolicy({ max_lifetime_days: 90 }, { ifMatch: 3 }), (error: unknown) => {
      assert.ok(error instanceof ClavisError);
      assert.equal(error.status, 412);
      assert.equal(error.code, "version_mismatch");
      assert.deepEqual(error.policy, now);
      assert.equal(error.credential, undefined);
      return true;
    });
    assert.equal(stub.requests.length, 1, "a 412 is not repeated");
  });

  it("names the rule at fault: invalid_field on the policy, policy_violation on a credential change", async () => {
    const stub = stubFetch((request) =>
      request.url.pathname === POLICY
        ? problem(400, "invalid_field", { field: "max_lifetime_days", detail: "max_lifetime_days must be from 1 to 366." })
        : problem(400, "policy_violation", { field: "expires_at", detail: "This tenant requires credentials to expire within 90 days." }),
    );
    const demo = client(stub.fetch).tenant("demo");
    await assert.rejects(demo.setPolicy({ max_lifetime_days: 400 }), (error: unknown) => {
      assert.ok(error instanceof ClavisError);
      assert.equal(error.code, "invalid_field");
      assert.equal(error.field, "max_lifetime_days");
      assert.equal(error.policy, undefined);
      return true;
    });
    await assert.rejects(demo.create({ name: "n", scopes: ["a:b"], expires_in_days: 365 }), (error: unknown) => {
      assert.ok(error instanceof ClavisError);
      assert.equal(error.status, 400);
      assert.equal(error.code, "policy_violation");
      assert.equal(error.field, "expires_at");
      assert.equal(error.detail, "This tenant requires credentials to expire within 90 days.");
      assert.equal(error.message, "This tenant requires credentials to expire within 90 days. (policy_violation, HTTP 400)");
      return true;
    });
    assert.equal(stub.requests.length, 2, "a 400 is not repeated");
  });

  it("repeats a policy read and a policy PUT after a 502 (both are safe to repeat)", async () => {
    let calls = 0;
    const stub = stubFetch(() => {
      calls += 1;
      return calls % 2 === 1 ? json(502, { message: "Bad Gateway" }) : json(200, samplePolicy({ version: 2 }), { etag: '"2"' });
    });
    const { sleep } = recordingSleep();
    const demo = client(stub.fetch, { sleep }).tenant("demo");
    assert.equal((await demo.policy()).policy.version, 2);
    assert.equal((await demo.setPolicy({ require_expiry: true }, { ifMatch: 1 })).etag, '"2"');
    assert.equal(stub.requests.length, 4);
    assert.equal(stub.requests[3]?.headers.get("if-match"), '"1"');
  });
});

describe("usage", () => {
  it("reads a credential's and the tenant's days, with the range as UTC days (a Date too), or the server's default", async () => {
    const credentialDays = sampleUsage(30, { "2026-01-30": { uses: 3, refused: { invalid_client: 1 } } });
    const tenantDays = { ...sampleUsage(2), client_id: undefined, tenant: "demo", top: [{ client_id: CID, name: "Inventory sync", uses: 3 }] };
    const stub = stubFetch((request) => json(200, request.url.pathname.endsWith("/credentials/" + CID + "/usage") ? credentialDays : tenantDays));
    const demo = client(stub.fetch).tenant("demo");

    const usage = await demo.credentialUsage(CID);
    assert.equal(usage.days.length, 30);
    assert.equal(usage.total_uses, 3);
    assert.equal(usage.total_refused, 1);
    assert.deepEqual(usage.days.at(-1), { date: "2026-01-30", uses: 3, refused: { invalid_client: 1 } });
    await demo.credentialUsage(CID, { from: "2026-01-01", to: new Date("2026-01-30T23:59:59.999Z") });
    const tenant = await demo.usage({ from: new Date("2026-01-29T00:00:00Z") });
    assert.deepEqual(tenant.top, [{ client_id: CID, name: "Inventory sync", uses: 3 }]);
    await demo.usage({ to: "2026-01-30" });

    assert.deepEqual(stub.requests.map((r) => [r.method, r.url.pathname + r.url.search, r.body]), [
      ["GET", `${BASE}/usage`, ""],
      ["GET", `${BASE}/usage?from=2026-01-01&to=2026-01-30`, ""],
      ["GET", "/v1/tenants/demo/usage?from=2026-01-29", ""],
      ["GET", "/v1/tenants/demo/usage?to=2026-01-30", ""],
    ]);
    for (const request of stub.requests) {
      assert.equal(request.headers.get("authorization"), `Bearer ${TOKEN}`);
    }
    await assert.rejects(demo.usage({ from: new Date("not a day") }), RangeError);
    assert.equal(stub.requests.length, 4, "an invalid Date is refused before anything is sent");
  });

  it("turns a refused range into a ClavisError invalid_range naming the field, not repeated", async () => {
    const stub = stubFetch(() => problem(400, "invalid_range", { field: "from", detail: "from must not be after to." }));
    await assert.rejects(client(stub.fetch).tenant("demo").credentialUsage(CID, { from: "2026-02-01", to: "2026-01-01" }), (error: unknown) => {
      assert.ok(error instanceof ClavisError);
      assert.equal(error.status, 400);
      assert.equal(error.code, "invalid_range");
      assert.equal(error.field, "from");
      return true;
    });
    assert.equal(stub.requests.length, 1);
  });

  it("lists the credentials unused for N days, on every page", async () => {
    const stub = stubFetch((request) =>
      json(200, request.url.searchParams.has("cursor")
        ? { items: [], next_cursor: null }
        : { items: [sampleCredential({ last_used_from: "203.0.113.7", last_used_at: "2025-11-01T00:00:00Z" })], next_cursor: "p2" }),
    );
    const demo = client(stub.fetch).tenant("demo");
    const page = await demo.list({ unusedForDays: 30 });
    assert.equal(page.items[0]?.last_used_from, "203.0.113.7");
    const all = [];
    for await (const credential of demo.listAll({ unusedForDays: 30, status: "active" })) all.push(credential);
    assert.equal(all.length, 1);
    assert.deepEqual(stub.requests.map((r) => r.url.search), [
      "?unused_for_days=30",
      "?status=active&unused_for_days=30",
      "?status=active&unused_for_days=30&cursor=p2",
    ]);
  });
});

describe("leak reports", () => {
  const LEAKS = "/v1/tenants/demo/leaks";
  // Shaped like a Clavis secret; what a test must never find in a URL, an error or a log.
  const SECRET = `csk_live_${"A1b2C3d4E5".repeat(4)}xyz_Q9w8E7`;
  const revoked = { client_id: CID, action: "revoked", secret_current: true, already_reported: false };

  it("posts the secret and where it was found in the body, never the URL, and answers which credential and what was done", async () => {
    const stub = stubFetch(() => json(200, revoked, { "cache-control": "no-store" }));
    const demo = client(stub.fetch).tenant("demo");
    const report = await demo.reportLeak({ secret: SECRET, sourceUrl: "https://github.com/acme/app/blob/main/.env" });
    assert.deepEqual(report, revoked);
    const again = await demo.reportLeak({ secret: SECRET });
    assert.equal(again.client_id, CID);

    assert.deepEqual(stub.requests.map((r) => [r.method, r.url.pathname + r.url.search, r.body]), [
      ["POST", LEAKS, JSON.stringify({ secret: SECRET, source_url: "https://github.com/acme/app/blob/main/.env" })],
      ["POST", LEAKS, JSON.stringify({ secret: SECRET })],
    ]);
    for (const request of stub.requests) {
      assert.equal(request.headers.get("authorization"), `Bearer ${TOKEN}`);
      assert.equal(request.headers.get("content-type"), "application/json");
      assert.equal(request.headers.get("idempotency-key"), null);
      assert.ok(!request.url.href.includes(SECRET));
    }
    // The answer's members, typed from the spec.
    const action: LeakReport["action"] = report.action;
    assert.ok(["revoked", "suspended", "none"].includes(action));
  });

  it("reads a repeat as already reported, with no second action", async () => {
    const stub = stubFetch(() => json(200, { client_id: CID, action: "none", secret_current: true, already_reported: true }));
    const report = await client(stub.fetch).tenant("demo").reportLeak({ secret: SECRET });
    assert.equal(report.already_reported, true);
    assert.equal(report.action, "none");
  });

  it("turns secret_not_found, invalid_secret and a bad source_url into ClavisErrors that never carry the secret", async () => {
    const refusals = [
      problem(404, "secret_not_found", { detail: "No credential of this tenant was issued this secret." }),
      problem(400, "invalid_secret", { detail: "This is not a Clavis secret." }),
      problem(400, "invalid_field", { field: "source_url", detail: "source_url must be an http or https URL." }),
    ];
    const stub = stubFetch(() => refusals.shift() ?? json(500, {}));
    const demo = client(stub.fetch).tenant("demo");
    const expected: [number, string, string | undefined][] = [
      [404, "secret_not_found", undefined],
      [400, "invalid_secret", undefined],
      [400, "invalid_field", "source_url"],
    ];
    for (const [status, code, field] of expected) {
      await assert.rejects(demo.reportLeak({ secret: SECRET, sourceUrl: "ftp://example.com/x" }), (error: unknown) => {
        assert.ok(error instanceof ClavisError);
        assert.equal(error.status, status);
        assert.equal(error.code, code);
        assert.equal(error.field, field);
        for (const text of [error.message, String(error), inspect(error, { depth: 10 }), JSON.stringify(error), error.stack ?? ""]) {
          assert.ok(!text.includes(SECRET), text);
        }
        return true;
      });
    }
    assert.equal(stub.requests.length, 3, "a refusal is not repeated");
  });

  it("does not repeat a report after a 500 (a POST without an idempotency key), and an unreachable server's error has no secret", async () => {
    const failing = stubFetch(() => problem(500, "internal_error"));
    const { sleep } = recordingSleep();
    await assert.rejects(client(failing.fetch, { sleep }).tenant("demo").reportLeak({ secret: SECRET }), ClavisError);
    assert.equal(failing.requests.length, 1);

    const unreachable = stubFetch(() => {
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:3000"), { code: "ECONNREFUSED" }) });
    });
    await assert.rejects(client(unreachable.fetch, { sleep, retry: { maxRetries: 0 } }).tenant("demo").reportLeak({ secret: SECRET }), (error: unknown) => {
      assert.ok(error instanceof NetworkError);
      for (const text of [error.message, inspect(error, { depth: 10 }), JSON.stringify(error)]) {
        assert.ok(!text.includes(SECRET), text);
      }
      return true;
    });
  });

  it("reads a credential's leak notice: null, or when, by whom, what was done and where", async () => {
    const notice = { reported_at: "2026-01-05T10:00:00Z", source: "github", action: "suspended", url: "https://github.com/acme/app/commit/abc" };
    const stub = stubFetch(() => json(200, { items: [sampleCredential(), sampleCredential({ leak: notice })], next_cursor: null }));
    const page = await client(stub.fetch).tenant("demo").list();
    assert.equal(page.items[0]?.leak, null);
    const leak: LeakNotice | null | undefined = page.items[1]?.leak;
    assert.deepEqual(leak, notice);
  });
});
