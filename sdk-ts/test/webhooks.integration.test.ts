// Webhooks through the SDK against the real local gateway on DynamoDB Local, delivering to a
// receiver on a loopback port (the gateway's `serve` allows private destinations and delivers in
// process): register (the secret once, `whsec_` + base64 of 32 bytes; no event from before it),
// list, read, a test event that arrives signed per Standard Webhooks and shows as delivered, the
// event-type filter (a suspension in between does not stall the feed), a
// failing delivery retried on a short schedule (WEBHOOK_RETRY_SCHEDULE), disable (a test is then
// refused) and enable, a rotation that signs with both secrets, refusals (a bad URL, an unknown
// event type, another tenant), the audit trail, and delete. Its own gateway, so that no other
// suite's events reach the receiver. Needs CLAVIS_LOCAL_BIN; skipped, with a note, without it.

import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";

import { ClavisClient } from "../src/index.js";
import type { TenantClient, Webhook, WebhookDelivery, WebhookEventType, WebhookWithSecret } from "../src/index.js";
import { binary, refusal, skip, startLocalGateway } from "./local-gateway.js";
import type { LocalGateway } from "./local-gateway.js";

/** How long a delivery may take to arrive and to show: the gateway reads the stream every second or so. */
const DEADLINE_MS = 30_000;
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;
const WEBHOOK_ID = /^wh_[a-z2-7]{26}$/;
/** A ULID: the event's audit event id. */
const EVENT_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: { type: string; timestamp: string; data: Record<string, unknown> };
}

/** A receiver on 127.0.0.1: records every POST and answers what `answer` says (204 unless told). */
class Receiver {
  readonly received: Received[] = [];
  answer: (request: Received) => number = () => 204;
  #server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let json: Received["json"];
        try {
          json = JSON.parse(body) as Received["json"];
        } catch {
          json = { type: "(not JSON)", timestamp: "", data: {} };
        }
        const received = { path: request.url ?? "", headers: request.headers, body, json };
        this.received.push(received);
        response.statusCode = this.answer(received);
        response.end();
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (this.#server === undefined) return;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server!.close(() => resolve()));
  }

  /** The requests for event `id` (its `webhook-id`). */
  of(id: string): Received[] {
    return this.received.filter((r) => r.headers["webhook-id"] === id);
  }
}

/** Whether one of the `v1,` signatures of `webhook-signature` is the HMAC of `{id}.{timestamp}.{body}` under `secret`. */
function signedBy(secret: string, request: Received): boolean {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const id = String(request.headers["webhook-id"]);
  const timestamp = String(request.headers["webhook-timestamp"]);
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${request.body}`).digest();
  return signatures(request).some((signature) => {
    const given = Buffer.from(signature, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

function signatures(request: Received): string[] {
  return String(request.headers["webhook-signature"] ?? "")
    .split(" ")
    .filter((part) => part !== "")
    .map((part) => {
      assert.match(part, /^v1,[A-Za-z0-9+/]+={0,2}$/, "each signature is v1,<base64>");
      return part.slice(3);
    });
}

/** Reads `read` until `done` holds of what it returns, or fails at the deadline with the last value. */
async function until<T>(read: () => T | Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline) {
      assert.fail(`${what} did not happen within ${DEADLINE_MS / 1000} s; last read: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    value = await read();
  }
  return value;
}

if (skip !== false) {
  it("webhooks through the SDK against the local gateway", { skip }, () => undefined);
}

describe("webhooks through the SDK against the local gateway", { skip, timeout: 300_000 }, () => {
  let gateway: LocalGateway;
  let demo: TenantClient;
  const receiver = new Receiver();
  let made: WebhookWithSecret;
  let hook: Webhook;

  const delivery = async (eventId: string): Promise<WebhookDelivery | undefined> =>
    (await demo.webhookDeliveries(hook.id)).deliveries.find((d) => d.event_id === eventId);

  before(async () => {
    // Retries after 1 s, then 1 s: a failing delivery is tried three times in seconds.
    process.env["WEBHOOK_RETRY_SCHEDULE"] = "1,1";
    await receiver.start();
    gateway = await startLocalGateway(binary ?? "");
    demo = new ClavisClient({ url: gateway.url, token: gateway.token }).tenant("demo");
  });

  after(async () => {
    await gateway?.stop();
    await receiver.stop();
  });

  it("has no endpoints at first", async () => {
    assert.deepEqual(await demo.webhooks(), []);
  });

  it("registers an endpoint and answers its signing secret once", async () => {
    // An event from before the endpoint existed, which it must never receive (checked below).
    const before = await demo.create({ name: "Before the endpoint", scopes: ["products:read"] });
    await demo.revoke(before.credential.client_id);
    // Times are whole seconds: an event of the same second as the registration may count as after it.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    made = await demo.createWebhook({ url: `${receiver.url}/hook`, eventTypes: ["credential.revoked", "webhook.disabled"], description: "Pager" });
    hook = made.webhook;
    assert.match(made.secret, SECRET);
    assert.equal(Buffer.from(made.secret.slice(6), "base64").length, 32);
    assert.match(hook.id, WEBHOOK_ID);
    assert.deepEqual(
      { ...hook, id: "", created_at: "", updated_at: "" },
      {
        id: "",
        url: `${receiver.url}/hook`,
        event_types: ["credential.revoked", "webhook.disabled"],
        description: "Pager",
        status: "enabled",
        disabled_reason: null,
        created_at: "",
        updated_at: "",
        secret_rotated_at: null,
        previous_secret_valid_until: null,
      },
    );
    assert.ok(Math.abs(Date.parse(hook.created_at) - Date.now()) < 60_000, hook.created_at);
    assert.ok(!JSON.stringify(await demo.webhooks()).includes(made.secret), "the list never shows the secret");
    assert.ok(!JSON.stringify(await demo.webhook(hook.id)).includes(made.secret), "nor does a read");
  });

  it("lists and reads it", async () => {
    assert.deepEqual(await demo.webhooks(), [hook]);
    assert.deepEqual(await demo.webhook(hook.id), hook);
  });

  it("sends a test event, signed per Standard Webhooks, that shows as delivered", async () => {
    const { eventId } = await demo.testWebhook(hook.id);
    const [request] = await until(() => receiver.of(eventId), (r) => r.length >= 1, "the test event's arrival");
    assert.ok(request !== undefined);
    assert.equal(request.path, "/hook");
    assert.equal(request.headers["content-type"], "application/json");
    assert.equal(request.headers["user-agent"], "Clavis-Webhooks/1");
    const timestamp = Number(request.headers["webhook-timestamp"]);
    assert.ok(Number.isInteger(timestamp) && Math.abs(timestamp - Date.now() / 1000) < 120, String(timestamp));
    assert.equal(signatures(request).length, 1, "one secret signs");
    assert.ok(signedBy(made.secret, request), "signed with the endpoint's secret");
    assert.equal(request.json.type, "webhook.test", "sent whatever the endpoint's event types");
    assert.ok(!Number.isNaN(Date.parse(request.json.timestamp)));
    assert.equal(request.json.data["tenant"], "demo");
    assert.ok(!request.body.includes(made.secret));
    assert.deepEqual(receiver.received.filter((r) => r.json.type === "credential.revoked"), [], "no event from before the endpoint was registered");

    const delivered = await until(() => delivery(eventId), (d) => d?.state === "delivered", "the delivery's state delivered");
    assert.deepEqual(
      { ...delivered, created_at: "" },
      { event_id: eventId, type: "webhook.test", attempts: 1, last_status: 204, last_error: null, next_attempt_at: null, state: "delivered", created_at: "" },
    );
    assert.match(eventId, EVENT_ID, "an event id is a ULID");
  });

  it("sends only the event types the endpoint asked for, a suspension in between notwithstanding", async () => {
    const issued = await demo.create({ name: "Watched", scopes: ["products:read"] });
    // Events with empty details (suspend, reactivate) once stalled the local event feed.
    await demo.suspend(issued.credential.client_id);
    await demo.reactivate(issued.credential.client_id);
    await demo.revoke(issued.credential.client_id, { reason: "test" });
    const [revoked] = await until(
      () => receiver.received.filter((r) => r.json.type === "credential.revoked" && r.json.data["client_id"] === issued.credential.client_id),
      (r) => r.length >= 1,
      "the credential.revoked event",
    );
    assert.equal(revoked?.json.data["client_id"], issued.credential.client_id);
    assert.equal(revoked?.json.data["name"], "Watched");
    assert.ok(signedBy(made.secret, revoked!));
    const id = String(revoked?.headers["webhook-id"]);
    const listed = await until(() => delivery(id), (d) => d?.state === "delivered", "its delivery");
    assert.equal(listed?.type, "credential.revoked");
    for (const type of ["credential.created", "credential.suspended", "credential.reactivated"]) {
      assert.equal(receiver.received.filter((r) => r.json.type === type).length, 0, `${type} is not subscribed`);
    }
  });

  it("retries a failing delivery on the schedule and counts every attempt", async () => {
    // Only test events fail: a late delivery of another event must not take a failure.
    let failures = 2;
    receiver.answer = (r) => (r.json.type === "webhook.test" && failures-- > 0 ? 500 : 204);
    try {
      const { eventId } = await demo.testWebhook(hook.id);
      const tries = await until(() => receiver.of(eventId), (r) => r.length >= 3, "three tries");
      assert.equal(new Set(tries.map((t) => t.headers["webhook-id"])).size, 1, "the same webhook-id on every retry");
      const done = await until(() => delivery(eventId), (d) => d?.state === "delivered", "delivered at the third try");
      assert.equal(done?.attempts, 3);
      assert.equal(done?.last_status, 204);
    } finally {
      receiver.answer = () => 204;
    }
  });

  it("marks a delivery failed after the last retry (schedule 1,1: three attempts)", async () => {
    receiver.answer = (r) => (r.json.type === "webhook.test" ? 503 : 204);
    try {
      const { eventId } = await demo.testWebhook(hook.id);
      const pending = await until(() => delivery(eventId), (d) => d !== undefined && d.attempts >= 1, "the first attempt");
      if (pending?.state === "pending") assert.equal(typeof pending.next_attempt_at, "string", "a pending delivery says when it is tried next");
      const failed = await until(() => delivery(eventId), (d) => d?.state === "failed", "the delivery failed");
      assert.equal(failed?.attempts, 3);
      assert.equal(failed?.last_status, 503);
      assert.equal(failed?.next_attempt_at, null);
      assert.equal(receiver.of(eventId).length, 3);
    } finally {
      receiver.answer = () => 204;
    }
  });

  it("disables the endpoint (a test is then refused) and enables it again", async () => {
    const disabled = await demo.updateWebhook(hook.id, { status: "disabled" });
    assert.equal(disabled.status, "disabled");
    assert.equal(disabled.disabled_reason, "admin");
    await refusal(demo.testWebhook(hook.id), 409, "webhook_disabled");
    const enabled = await demo.updateWebhook(hook.id, { status: "enabled" });
    assert.equal(enabled.status, "enabled");
    assert.equal(enabled.disabled_reason, null);
    hook = enabled;
  });

  it("changes event types and description; null means every type and no description", async () => {
    const all = await demo.updateWebhook(hook.id, { eventTypes: null, description: null });
    assert.equal(all.event_types, null);
    assert.equal(all.description, null);
    assert.equal(all.url, hook.url);
    const some = await demo.updateWebhook(hook.id, { eventTypes: ["credential.created"], description: "Audit feed" });
    assert.deepEqual(some.event_types, ["credential.created"]);
    assert.equal(some.description, "Audit feed");
    hook = some;
  });

  it("rotates the secret: the new one shown once, and both sign until the old one's 24 hours are up", async () => {
    const rotated = await demo.rotateWebhookSecret(hook.id);
    assert.match(rotated.secret, SECRET);
    assert.notEqual(rotated.secret, made.secret);
    assert.equal(rotated.webhook.id, hook.id);
    assert.equal(typeof rotated.webhook.secret_rotated_at, "string");
    const until24h = Date.parse(rotated.webhook.previous_secret_valid_until ?? "") - Date.parse(rotated.webhook.secret_rotated_at ?? "");
    assert.ok(Math.abs(until24h - 24 * 3600_000) < 60_000, `the old secret signs for 24 h, not ${until24h} ms`);

    const { eventId } = await demo.testWebhook(hook.id);
    const [request] = await until(() => receiver.of(eventId), (r) => r.length >= 1, "the test event after the rotation");
    assert.equal(signatures(request!).length, 2, "two signatures during the rotation");
    assert.ok(signedBy(rotated.secret, request!), "the new secret signs");
    assert.ok(signedBy(made.secret, request!), "the old secret still signs");
    made = rotated;
    hook = rotated.webhook;
  });

  it("refuses a bad URL (naming the field), an unknown event type and an unknown endpoint; an empty change changes nothing", async () => {
    const url = await refusal(demo.createWebhook({ url: "not a url" }), 400, "invalid_webhook_url");
    assert.equal(url.field, "url");
    const ftp = await refusal(demo.createWebhook({ url: "ftp://127.0.0.1/hook" }), 400, "invalid_webhook_url");
    assert.equal(ftp.field, "url");
    const patchUrl = await refusal(demo.updateWebhook(hook.id, { url: "nope" }), 400, "invalid_webhook_url");
    assert.equal(patchUrl.field, "url");
    const type = await refusal(demo.createWebhook({ url: `${receiver.url}/x`, eventTypes: ["webhook.test" as WebhookEventType] }), 400, "invalid_field");
    assert.equal(type.field, "event_types");
    await refusal(demo.webhook("wh_aaaaaaaaaaaaaaaaaaaaaaaaaa"), 404, "webhook_not_found");
    await refusal(demo.webhook("not-an-id"), 404, "webhook_not_found");
    assert.deepEqual(await demo.updateWebhook(hook.id, {}), hook, "{} changes nothing");
    assert.deepEqual((await demo.webhooks()).map((w) => w.id), [hook.id], "nothing was registered");
  });

  it("keeps another tenant's admin out: 403 on the tenant, 404 for the endpoint through their own tenant", async () => {
    const other = new ClavisClient({ url: gateway.url, token: gateway.devToken({ tenant: "acme", subject: "mallory" }) });
    await refusal(other.tenant("demo").webhooks(), 403, "forbidden");
    await refusal(other.tenant("demo").webhook(hook.id), 403, "forbidden");
    await refusal(other.tenant("acme").webhook(hook.id), 404, "webhook_not_found");
    await refusal(other.tenant("acme").deleteWebhook(hook.id), 404, "webhook_not_found");
    assert.deepEqual(await other.tenant("acme").webhooks(), []);
  });

  it("records every change in the tenant's audit trail", async () => {
    const types: string[] = [];
    for await (const event of demo.auditAll()) {
      if (event.type.startsWith("webhook.")) {
        types.push(event.type);
        assert.equal(event.client_id, null, "an event about the tenant names no credential");
        assert.ok(!JSON.stringify(event).includes(made.secret), "no secret in the trail");
      }
    }
    assert.ok(types.includes("webhook.created"), types.join(" "));
    assert.ok(types.includes("webhook.updated"), types.join(" "));
    assert.ok(types.includes("webhook.secret_rotated"), types.join(" "));
  });

  it("allows at most 10 endpoints", async () => {
    const extra: string[] = [];
    for (let i = (await demo.webhooks()).length; i < 10; i += 1) {
      extra.push((await demo.createWebhook({ url: `${receiver.url}/extra-${i}` })).webhook.id);
    }
    await refusal(demo.createWebhook({ url: `${receiver.url}/eleventh` }), 409, "webhook_limit_reached");
    const listed = await demo.webhooks();
    assert.equal(listed.length, 10);
    assert.equal(listed[0]?.id, hook.id, "oldest first");
    for (const id of extra) await demo.deleteWebhook(id);
  });

  it("deletes the endpoint: it is gone, and the trail says so", async () => {
    await demo.deleteWebhook(hook.id);
    await refusal(demo.webhook(hook.id), 404, "webhook_not_found");
    await refusal(demo.deleteWebhook(hook.id), 404, "webhook_not_found");
    await refusal(demo.webhookDeliveries(hook.id), 404, "webhook_not_found");
    assert.deepEqual(await demo.webhooks(), []);
    const { items } = await demo.audit({ limit: 20 });
    assert.ok(items.some((event) => event.type === "webhook.deleted"), items.map((e) => e.type).join(" "));
  });
});
