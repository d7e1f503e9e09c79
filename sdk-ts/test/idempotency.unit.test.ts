// Idempotency keys: a fresh random key with every create and rotate, and repeats after a lost
// answer (503 outcome unknown, timeout, dropped connection, 409 in progress) with the SAME key,
// bounded by the retry policy.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ClavisClient, ClavisError, NetworkError, newIdempotencyKey } from "../src/index.js";
import type { ClavisClientOptions, Fetch } from "../src/index.js";
import { json, problem, recordingSleep, sampleCredential, stubFetch } from "./stub.js";

const CID = "cid_abcdefghijklmnopqrstuvwxyz";
const issued = { credential: sampleCredential(), client_secret: "csk_live_x_y", client_secret_notice: "Store it." };
const KEY_SHAPE = /^[\x21-\x7e]{32,255}$/;

function client(fetch: Fetch, extra: Partial<ClavisClientOptions> = {}): ClavisClient {
  return new ClavisClient({ url: "https://api.example.com", token: "t", fetch, ...extra });
}

function keys(stub: { requests: { headers: Headers }[] }): (string | null)[] {
  return stub.requests.map((r) => r.headers.get("idempotency-key"));
}

describe("idempotency keys", () => {
  it("makes a fresh valid key for every create and rotate, and none for other requests", async () => {
    const stub = stubFetch((request) =>
      request.method === "POST" && (request.url.pathname.endsWith("/rotate") || request.url.pathname.endsWith("/credentials"))
        ? json(201, issued)
        : json(200, sampleCredential()),
    );
    const demo = client(stub.fetch).tenant("demo");
    await demo.create({ name: "a", scopes: ["a:b"] });
    await demo.create({ name: "a", scopes: ["a:b"] });
    await demo.rotate(CID);
    await demo.rotate(CID, { idempotencyKey: "mine".repeat(10) });
    await demo.suspend(CID);
    const [first, second, third, fourth, fifth] = keys(stub);
    for (const key of [first, second, third]) {
      assert.match(key ?? "", KEY_SHAPE);
    }
    assert.equal(new Set([first, second, third]).size, 3, "each call has its own key");
    assert.equal(fourth, "mine".repeat(10), "the caller's key is sent as given");
    assert.equal(fifth, null);
    assert.match(newIdempotencyKey(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("repeats a create after a 503 with outcome unknown, with the same key, honouring Retry-After", async () => {
    let calls = 0;
    const stub = stubFetch(() => {
      calls += 1;
      return calls === 1 ? problem(503, "service_unavailable", { outcome: "unknown" }, { "retry-after": "1" }) : json(201, issued, { "idempotent-replayed": "true" });
    });
    const { sleep, waits } = recordingSleep();
    const result = await client(stub.fetch, { sleep }).tenant("demo").create({ name: "n", scopes: ["a:b"] });
    assert.equal(result.client_secret, "csk_live_x_y");
    assert.deepEqual(waits, [1_000]);
    const [first, second] = keys(stub);
    assert.match(first ?? "", KEY_SHAPE);
    assert.equal(second, first, "the repeat carries the same key");
    assert.equal(stub.requests[1]?.body, stub.requests[0]?.body, "and the same body");
  });

  it("repeats a rotate after a dropped connection and after a timeout, with the same key", async () => {
    let calls = 0;
    const stub = stubFetch(() => {
      calls += 1;
      if (calls === 1) {
        throw new TypeError("fetch failed", { cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }) });
      }
      return json(200, issued);
    });
    const { sleep, waits } = recordingSleep();
    await client(stub.fetch, { sleep }).tenant("demo").rotate(CID, { ifMatch: 3 });
    assert.equal(waits.length, 1);
    assert.equal(keys(stub)[1], keys(stub)[0]);
    assert.equal(stub.requests[1]?.headers.get("if-match"), '"3"');

    // A timeout: the first attempt hangs until aborted, the second answers.
    const seen: (string | null)[] = [];
    const hangingOnce: Fetch = (input, init) => {
      const request = new Request(input, init);
      seen.push(request.headers.get("idempotency-key"));
      if (seen.length === 1) {
        return new Promise((_resolve, reject) => {
          request.signal.addEventListener("abort", () => reject(request.signal.reason));
        });
      }
      return Promise.resolve(json(200, issued));
    };
    const keepAlive = setInterval(() => undefined, 1_000);
    try {
      const result = await client(hangingOnce, { sleep, timeoutMs: 20 }).tenant("demo").rotate(CID);
      assert.equal(result.client_secret, "csk_live_x_y");
    } finally {
      clearInterval(keepAlive);
    }
    assert.equal(seen.length, 2);
    assert.equal(seen[1], seen[0]);
    assert.match(seen[0] ?? "", KEY_SHAPE);
  });

  it("waits out a 409 idempotency_in_progress, then gets the first answer", async () => {
    let calls = 0;
    const stub = stubFetch(() => {
      calls += 1;
      return calls === 1 ? problem(409, "idempotency_in_progress", {}, { "retry-after": "2" }) : json(201, issued);
    });
    const { sleep, waits } = recordingSleep();
    await client(stub.fetch, { sleep }).tenant("demo").create({ name: "n", scopes: ["a:b"] });
    assert.deepEqual(waits, [2_000]);
    assert.equal(keys(stub)[1], keys(stub)[0]);
  });

  it("does not repeat other refusals of a keyed request: 409 credential_expired, 422 key reused", async () => {
    for (const [status, code] of [[409, "credential_expired"], [422, "idempotency_key_reused"], [400, "invalid_idempotency_key"]] as const) {
      const stub = stubFetch(() => problem(status, code));
      const { sleep, waits } = recordingSleep();
      await assert.rejects(client(stub.fetch, { sleep }).tenant("demo").rotate(CID), (error: unknown) => error instanceof ClavisError && error.code === code);
      assert.equal(stub.requests.length, 1, code);
      assert.deepEqual(waits, []);
    }
  });

  it("gives up after the retry policy, every attempt with the same key, and a new call gets a new key", async () => {
    const stub = stubFetch(() => problem(503, "service_unavailable", { outcome: "unknown" }));
    const { sleep, waits } = recordingSleep();
    const demo = client(stub.fetch, { sleep, retry: { maxRetries: 2, initialBackoffMs: 100, maxBackoffMs: 1_000 } }).tenant("demo");
    await assert.rejects(demo.create({ name: "n", scopes: ["a:b"] }), (error: unknown) => error instanceof ClavisError && error.outcomeUnknown);
    assert.equal(stub.requests.length, 3, "one attempt and two retries");
    assert.equal(waits.length, 2);
    assert.equal(new Set(keys(stub)).size, 1);
    await assert.rejects(demo.create({ name: "n", scopes: ["a:b"] }), ClavisError);
    assert.equal(stub.requests.length, 6);
    assert.notEqual(keys(stub)[3], keys(stub)[0]);

    const dropping = stubFetch(() => {
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }) });
    });
    await assert.rejects(
      client(dropping.fetch, { sleep, retry: { maxRetries: 2 } }).tenant("demo").rotate(CID),
      (error: unknown) => error instanceof NetworkError,
    );
    assert.equal(dropping.requests.length, 3);
    assert.equal(new Set(keys(dropping)).size, 1);
  });

  it("still does not repeat a keyless POST after a dropped connection", async () => {
    const dropping = stubFetch(() => {
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }) });
    });
    const { sleep } = recordingSleep();
    await assert.rejects(client(dropping.fetch, { sleep }).tenant("demo").revoke(CID), NetworkError);
    assert.equal(dropping.requests.length, 1);
  });
});
