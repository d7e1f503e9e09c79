// The webhook routes of the management client against a stub fetch: each method's route, body
// (camelCase options sent as the API's snake_case) and answer, refusals as typed errors, which
// calls are repeated after a server error, paging of deliveries, and the catalogue of event types.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { ClavisClient, ClavisError, webhookEventTypes } from "../src/index.js";
import type { ClavisClientOptions, Fetch, WebhookEventType } from "../src/index.js";
import { repoRoot } from "./local-gateway.js";
import { json, problem, recordingSleep, sampleDelivery, sampleWebhook, stubFetch } from "./stub.js";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.management-token.signature";
const WH = "wh_abcdefghijklmnopqrstuvwxyz";
const HOOKS = "/v1/tenants/demo/webhooks";
const SECRET = `whsec_${"A".repeat(43)}=`;

function client(fetch: Fetch, extra: Partial<ClavisClientOptions> = {}): ClavisClient {
  return new ClavisClient({ url: "https://api.example.com", token: TOKEN, fetch, ...extra });
}

describe("webhooks", () => {
  it("sends each webhook operation to its route, with the API's member names, and unwraps the answers", async () => {
    const stub = stubFetch((request) => {
      const path = request.url.pathname;
      if (request.method === "POST" && path === HOOKS) return json(201, { webhook: sampleWebhook(), secret: SECRET }, { "cache-control": "no-store" });
      if (path.endsWith("/rotate-secret")) return json(200, { webhook: sampleWebhook({ secret_rotated_at: "2026-01-02T00:00:00Z" }), secret: SECRET });
      if (path.endsWith("/test")) return json(202, { event_id: "01M968Q8HN3R1PXATWAND4D85K" });
      if (path.endsWith("/deliveries")) return json(200, { deliveries: [sampleDelivery()], next_cursor: null });
      if (request.method === "DELETE") return new Response(null, { status: 204 });
      if (request.method === "GET" && path === HOOKS) return json(200, { webhooks: [sampleWebhook(), sampleWebhook({ id: "wh_second" })] });
      return json(200, { webhook: sampleWebhook(request.method === "PATCH" ? { status: "disabled", disabled_reason: "admin" } : {}) });
    });
    const demo = client(stub.fetch).tenant("demo");

    const created = await demo.createWebhook({ url: "https://hooks.example.com/clavis", eventTypes: ["credential.revoked", "credential.expiring_soon"], description: "Pager" });
    assert.equal(created.secret, SECRET);
    assert.equal(created.webhook.id, WH);
    await demo.createWebhook({ url: "https://hooks.example.com/all" });
    await demo.createWebhook({ url: "https://hooks.example.com/null", eventTypes: null, description: null });
    const listed = await demo.webhooks();
    assert.deepEqual(listed.map((w) => w.id), [WH, "wh_second"]);
    assert.equal((await demo.webhook(WH)).url, "https://hooks.example.com/clavis");
    const disabled = await demo.updateWebhook(WH, { status: "disabled" });
    assert.equal(disabled.status, "disabled");
    assert.equal(disabled.disabled_reason, "admin");
    await demo.updateWebhook(WH, { url: "https://hooks.example.com/v2", eventTypes: null, description: null });
    await demo.updateWebhook(WH, { eventTypes: ["webhook.disabled"], description: "Ops", status: "enabled" });
    const rotated = await demo.rotateWebhookSecret(WH);
    assert.equal(rotated.secret, SECRET);
    assert.equal(rotated.webhook.secret_rotated_at, "2026-01-02T00:00:00Z");
    assert.deepEqual(await demo.testWebhook(WH), { eventId: "01M968Q8HN3R1PXATWAND4D85K" });
    const page = await demo.webhookDeliveries(WH, { limit: 10, cursor: "c1" });
    assert.equal(page.deliveries[0]?.state, "delivered");
    assert.equal(page.next_cursor, null);
    await demo.webhookDeliveries(WH);
    assert.equal(await demo.deleteWebhook(WH), undefined);

    // @ts-expect-error an event type outside the catalogue
    const loose: Parameters<typeof demo.createWebhook>[0] = { url: "https://x", eventTypes: ["webhook.test"] };
    assert.ok(loose);
    const seen = stub.requests.map((r) => [r.method, r.url.pathname + r.url.search, r.body]);
    assert.deepEqual(seen, [
      ["POST", HOOKS, '{"url":"https://hooks.example.com/clavis","event_types":["credential.revoked","credential.expiring_soon"],"description":"Pager"}'],
      ["POST", HOOKS, '{"url":"https://hooks.example.com/all"}'],
      ["POST", HOOKS, '{"url":"https://hooks.example.com/null","event_types":null,"description":null}'],
      ["GET", HOOKS, ""],
      ["GET", `${HOOKS}/${WH}`, ""],
      ["PATCH", `${HOOKS}/${WH}`, '{"status":"disabled"}'],
      ["PATCH", `${HOOKS}/${WH}`, '{"url":"https://hooks.example.com/v2","event_types":null,"description":null}'],
      ["PATCH", `${HOOKS}/${WH}`, '{"event_types":["webhook.disabled"],"description":"Ops","status":"enabled"}'],
      ["POST", `${HOOKS}/${WH}/rotate-secret`, ""],
      ["POST", `${HOOKS}/${WH}/test`, ""],
      ["GET", `${HOOKS}/${WH}/deliveries?limit=10&cursor=c1`, ""],
      ["GET", `${HOOKS}/${WH}/deliveries`, ""],
      ["DELETE", `${HOOKS}/${WH}`, ""],
    ]);
    for (const request of stub.requests) {
      assert.equal(request.headers.get("authorization"), `Bearer ${TOKEN}`);
      assert.equal(request.headers.get("content-type"), request.body === "" ? null : "application/json");
      assert.equal(request.headers.get("if-match"), null);
      assert.equal(request.headers.get("idempotency-key"), null, "the webhook routes take no idempotency key");
    }
  });

  it("encodes the endpoint id as one path segment", async () => {
    const stub = stubFetch(() => json(200, { webhook: sampleWebhook() }));
    await client(stub.fetch).tenant("demo").webhook("wh_x/../../credentials");
    assert.equal(stub.requests[0]?.url.pathname, `${HOOKS}/wh_x%2F..%2F..%2Fcredentials`);
  });

  it("turns refusals into ClavisError: a refused URL names the field, an unknown endpoint, the limit, a disabled endpoint's test", async () => {
    const stub = stubFetch((request) => {
      const path = request.url.pathname;
      if (path.endsWith("/test")) return problem(409, "webhook_disabled");
      if (request.method === "GET") return problem(404, "webhook_not_found");
      if (request.method === "PATCH") return problem(400, "invalid_field", { field: "event_types", detail: "Unknown event type." });
      return request.body.includes("10.0.0.1") ? problem(400, "invalid_webhook_url", { field: "url", detail: "The URL points to a private address." }) : problem(409, "webhook_limit_reached");
    });
    const demo = client(stub.fetch).tenant("demo");
    const refused = async (promise: Promise<unknown>, status: number, code: string): Promise<ClavisError> => {
      try {
        await promise;
      } catch (error) {
        assert.ok(error instanceof ClavisError, String(error));
        assert.equal(error.status, status);
        assert.equal(error.code, code);
        return error;
      }
      assert.fail(`expected ${code}`);
    };
    const url = await refused(demo.createWebhook({ url: "https://10.0.0.1/hook" }), 400, "invalid_webhook_url");
    assert.equal(url.field, "url");
    assert.equal(url.detail, "The URL points to a private address.");
    await refused(demo.createWebhook({ url: "https://hooks.example.com/11th" }), 409, "webhook_limit_reached");
    await refused(demo.webhook(WH), 404, "webhook_not_found");
    await refused(demo.webhookDeliveries(WH), 404, "webhook_not_found");
    const field = await refused(demo.updateWebhook(WH, { eventTypes: ["credential.revoked"] }), 400, "invalid_field");
    assert.equal(field.field, "event_types");
    await refused(demo.testWebhook(WH), 409, "webhook_disabled");
    assert.equal(stub.requests.length, 6, "no refusal is repeated");
  });

  it("repeats reads and deletes after a server error, but not a registration, rotation or test, which could happen twice", async () => {
    const stub = stubFetch(() => problem(500, "internal_error"));
    const { sleep } = recordingSleep();
    const demo = client(stub.fetch, { sleep, retry: { maxRetries: 1 } }).tenant("demo");
    const calls: [string, () => Promise<unknown>, number][] = [
      ["list", () => demo.webhooks(), 2],
      ["get", () => demo.webhook(WH), 2],
      ["deliveries", () => demo.webhookDeliveries(WH), 2],
      ["delete", () => demo.deleteWebhook(WH), 2],
      ["create", () => demo.createWebhook({ url: "https://hooks.example.com/x" }), 1],
      ["rotate", () => demo.rotateWebhookSecret(WH), 1],
      ["test", () => demo.testWebhook(WH), 1],
      ["update", () => demo.updateWebhook(WH, { status: "disabled" }), 1],
    ];
    for (const [what, call, tries] of calls) {
      const before = stub.requests.length;
      await assert.rejects(call(), ClavisError);
      assert.equal(stub.requests.length - before, tries, what);
    }
  });

  it("repeats a registration that a 503 says was not carried out", async () => {
    let calls = 0;
    const stub = stubFetch(() => {
      calls += 1;
      return calls === 1 ? problem(503, "service_unavailable", {}, { "retry-after": "1" }) : json(201, { webhook: sampleWebhook(), secret: SECRET });
    });
    const { sleep, waits } = recordingSleep();
    const made = await client(stub.fetch, { sleep }).tenant("demo").createWebhook({ url: "https://hooks.example.com/clavis" });
    assert.equal(made.secret, SECRET);
    assert.deepEqual(waits, [1_000]);
    const unknown = stubFetch(() => problem(503, "service_unavailable", { outcome: "unknown" }));
    await assert.rejects(client(unknown.fetch, { sleep }).tenant("demo").createWebhook({ url: "https://hooks.example.com/clavis" }), (error: unknown) => {
      assert.ok(error instanceof ClavisError);
      assert.equal(error.outcomeUnknown, true);
      return true;
    });
    assert.equal(unknown.requests.length, 1, "a registration that may have happened is not repeated");
  });

  it("pages through every delivery with the async iterator", async () => {
    const pages: Record<string, { deliveries: unknown[]; next_cursor: string | null }> = {
      "": { deliveries: [sampleDelivery({ event_id: "01M968Q8HN3R1PXATWAND4D853", state: "pending", attempts: 2, last_status: 500, next_attempt_at: "2026-01-01T00:05:00Z" }), sampleDelivery({ event_id: "01M968Q8HN3R1PXATWAND4D852" })], next_cursor: "p2" },
      p2: { deliveries: [sampleDelivery({ event_id: "01M968Q8HN3R1PXATWAND4D851", state: "failed", attempts: 8, last_status: null, last_error: "timeout" })], next_cursor: null },
    };
    const stub = stubFetch((request) => json(200, pages[request.url.searchParams.get("cursor") ?? ""]));
    const seen = [];
    for await (const delivery of client(stub.fetch).tenant("demo").webhookDeliveriesAll(WH, { limit: 2 })) {
      seen.push(`${delivery.event_id} ${delivery.state} ${delivery.attempts} ${delivery.last_status ?? delivery.last_error}`);
    }
    assert.deepEqual(seen, ["01M968Q8HN3R1PXATWAND4D853 pending 2 500", "01M968Q8HN3R1PXATWAND4D852 delivered 1 204", "01M968Q8HN3R1PXATWAND4D851 failed 8 timeout"]);
    assert.deepEqual(stub.requests.map((r) => r.url.search), ["?limit=2", "?limit=2&cursor=p2"]);
  });

  it("lists every event type of the spec's catalogue, in its order, and not webhook.test", () => {
    const spec = readFileSync(`${repoRoot()}/infra/openapi.yaml`, "utf8");
    const block = /\n {4}WebhookEventType:\n[\s\S]*?enum: \[([^\]]*)\]/.exec(spec)?.[1];
    assert.ok(block !== undefined, "WebhookEventType in infra/openapi.yaml");
    const inSpec = block.split(",").map((type) => type.trim());
    assert.deepEqual([...webhookEventTypes], inSpec);
    assert.equal(inSpec.length, 18);
    assert.ok(!(webhookEventTypes as readonly string[]).includes("webhook.test"));
    assert.ok(Object.isFrozen(webhookEventTypes));
    const typed: readonly WebhookEventType[] = webhookEventTypes;
    assert.ok(typed);
  });
});
