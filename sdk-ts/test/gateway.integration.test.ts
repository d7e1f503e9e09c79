// Every /v1 route through the SDK against the real local gateway on DynamoDB Local, and the
// token source against its real token endpoint. Needs CLAVIS_LOCAL_BIN (the prebuilt
// `clavis-local` binary); skipped, with a note, without it.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ClavisClient, OAuthError, TokenSource } from "../src/index.js";
import type { Credential, IssuedSecret, TenantClient } from "../src/index.js";
import { binary, refusal, skip, startLocalGateway } from "./local-gateway.js";
import type { LocalGateway } from "./local-gateway.js";



async function tokenRefused(tokens: TokenSource): Promise<OAuthError> {
  try {
    await tokens.token();
  } catch (error) {
    assert.ok(error instanceof OAuthError, `expected an OAuthError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the token endpoint to refuse the credential");
}

if (skip !== false) {
  // A skipped test, rather than a skipped suite, so that the runner's summary counts it.
  it("the SDK against the local gateway", { skip }, () => undefined);
}

describe("the SDK against the local gateway", { skip, timeout: 180_000 }, () => {
  let gateway: LocalGateway;
  let client: ClavisClient;
  let demo: TenantClient;
  let issued: IssuedSecret;
  let current: Credential;
  let secret: string;

  const tokenSource = (clientSecret: string): TokenSource =>
    new TokenSource({ url: gateway.url, clientId: current.client_id, clientSecret, retry: { maxRetries: 0 } });

  before(async () => {
    gateway = await startLocalGateway(binary ?? "");
    client = new ClavisClient({ url: gateway.url, token: gateway.token });
    demo = client.tenant("demo");
    assert.deepEqual(await client.scopes(), [], "make run configures no scope catalogue");
  });

  after(async () => {
    await gateway?.stop();
  });

  it("creates a credential and returns its secret once", async () => {
    issued = await demo.create({
      name: "Inventory sync",
      description: "Nightly stock import",
      scopes: ["products:read", "stock:write"],
      expires_in_days: 90,
    });
    current = issued.credential;
    secret = issued.client_secret;
    assert.match(current.client_id, /^cid_[a-z2-7]{26}$/);
    assert.match(secret, /^csk_live_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/);
    assert.equal(current.status, "active");
    assert.equal(current.version, 1);
    assert.deepEqual(current.scopes, ["products:read", "stock:write"]);
    assert.ok(issued.client_secret_notice.length > 0);
  });

  it("gets it with its ETag", async () => {
    const { credential, etag } = await demo.get(current.client_id);
    assert.equal(etag, `"${credential.version}"`);
    assert.deepEqual(credential, current);
    assert.equal(JSON.stringify(credential).includes(secret), false, "the secret is never shown again");
  });

  it("lists page by page, newest first, filtered by status", async () => {
    const others = [];
    for (const name of ["Second", "Third"]) {
      others.push((await demo.create({ name, scopes: ["products:read"], environment: "test" })).credential);
    }
    const first = await demo.list({ limit: 1 });
    assert.equal(first.items.length, 1);
    assert.equal(typeof first.next_cursor, "string");
    const second = await demo.list({ limit: 1, cursor: first.next_cursor ?? "" });
    assert.equal(second.items.length, 1);
    assert.notEqual(second.items[0]?.client_id, first.items[0]?.client_id);

    const all: Credential[] = [];
    for await (const credential of demo.listAll({ limit: 1 })) {
      all.push(credential);
    }
    const ids = all.map((c) => c.client_id);
    assert.deepEqual([...ids].sort(), [current.client_id, ...others.map((c) => c.client_id)].sort());
    assert.deepEqual(ids.slice(0, 2), [first.items[0]?.client_id, second.items[0]?.client_id]);
    const times = all.map((c) => Date.parse(c.created_at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), "newest first (same-second ties in any order)");

    await demo.suspend(others[0]?.client_id ?? "");
    const suspended = await demo.list({ status: "suspended" });
    assert.deepEqual(suspended.items.map((c) => c.client_id), [others[0]?.client_id]);
    await refusal(demo.list({ limit: 1000 }), 400, "invalid_limit");
    for (const other of others) {
      await demo.delete(other.client_id);
    }
  });

  it("updates with If-Match; a stale version answers 412 carrying the current credential", async () => {
    const stale = current.version;
    current = await demo.update(current.client_id, { name: "Inventory sync (EU)" }, { ifMatch: stale });
    assert.equal(current.name, "Inventory sync (EU)");
    assert.equal(current.version, stale + 1);

    const error = await refusal(
      demo.update(current.client_id, { description: "a change based on an old read" }, { ifMatch: stale }),
      412,
      "version_mismatch",
    );
    assert.deepEqual(error.credential, current, "the view can refresh to the current state");
    await refusal(demo.update(current.client_id, { name: "x\n" }), 400, "invalid_name");
  });

  it("sets and removes the expiry", async () => {
    const at = new Date(Date.now() + 30 * 86_400_000);
    at.setUTCMilliseconds(0);
    current = await demo.setExpiry(current.client_id, at, { ifMatch: current.version });
    assert.equal(Date.parse(current.expires_at ?? ""), at.getTime());
    assert.equal(current.expiry_locked, false);
    current = await demo.removeExpiry(current.client_id, { ifMatch: current.version });
    assert.equal(current.expires_at, null);
    current = await demo.setExpiry(current.client_id, at.toISOString());
    const soon = await demo.create({ name: "Ends soon", scopes: ["products:read"], expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    assert.equal(soon.credential.expiry_locked, true);
    await refusal(demo.removeExpiry(soon.credential.client_id), 409, "expiry_locked");
    await demo.delete(soon.credential.client_id);
  });

  it("issues tokens to the integration, and rotates its secret", async () => {
    const before = tokenSource(secret);
    const token = await before.token();
    assert.equal(token.scope, "products:read stock:write");
    assert.equal(token.expiresIn, 3600);

    const rotated = await demo.rotate(current.client_id, { ifMatch: current.version });
    assert.notEqual(rotated.client_secret, secret);
    assert.equal(rotated.credential.client_id, current.client_id);
    assert.equal(rotated.credential.secret_version, 2);
    assert.equal(rotated.credential.expires_at, current.expires_at, "rotation never moves the expiry");
    const old = await tokenRefused(tokenSource(secret));
    assert.equal(old.error, "invalid_client");
    assert.equal(old.status, 401);

    const graced = await demo.rotate(current.client_id, { previousSecretValidForSeconds: 3600 });
    assert.notEqual(graced.credential.previous_secret_valid_until, null);
    await tokenSource(rotated.client_secret).token();
    await tokenSource(graced.client_secret).token();
    secret = graced.client_secret;
    current = graced.credential;

    const narrowed = new TokenSource({ url: gateway.url, clientId: current.client_id, clientSecret: secret, scope: "products:read" });
    assert.equal((await narrowed.token()).scope, "products:read");
    const tooWide = new TokenSource({ url: gateway.url, clientId: current.client_id, clientSecret: secret, scope: "orders:write" });
    assert.equal((await tokenRefused(tooWide)).error, "invalid_scope");

    // After a leak: the rotation also ends the tokens issued before it, and says so.
    const ended = await demo.rotate(current.client_id, { endExistingTokens: true });
    const { items: [event] } = await demo.credentialAudit(current.client_id, { limit: 1 });
    assert.equal(event?.type, "credential.secret_rotated");
    assert.equal((event?.details as Record<string, unknown>).end_existing_tokens, true);
    secret = ended.client_secret;
    current = ended.credential;
  });

  it("suspends and reactivates", async () => {
    current = await demo.suspend(current.client_id, { ifMatch: current.version });
    assert.equal(current.status, "suspended");
    assert.equal((await tokenRefused(tokenSource(secret))).error, "invalid_client");
    await refusal(demo.suspend(current.client_id), 409, "credential_suspended");

    current = await demo.reactivate(current.client_id, { ifMatch: current.version });
    assert.equal(current.status, "active");
    const tokens = tokenSource(secret);
    assert.ok((await tokens.token()).secret().length > 0, "the newest secret works again");
  });

  it("revokes permanently; the token endpoint then refuses the credential", async () => {
    current = await demo.revoke(current.client_id, { reason: "Integration retired", ifMatch: current.version });
    assert.equal(current.status, "revoked");
    assert.equal(current.revocation_reason, "Integration retired");
    const refused = await tokenRefused(tokenSource(secret));
    assert.equal(refused.error, "invalid_client");
    assert.equal(refused.status, 401);
    assert.equal(refused.message.includes(secret), false);
    await refusal(demo.rotate(current.client_id), 409, "credential_revoked");
    await refusal(demo.reactivate(current.client_id), 409, "credential_revoked");
  });

  it("lists the audit trail per credential and per tenant, newest first", async () => {
    const types: string[] = [];
    for await (const event of demo.credentialAuditAll(current.client_id, { limit: 2 })) {
      assert.equal(event.client_id, current.client_id);
      types.push(event.type);
    }
    assert.equal(types[0], "credential.revoked");
    assert.equal(types.at(-1), "credential.created");
    for (const type of [
      "credential.updated",
      "credential.expiry_changed",
      "credential.secret_rotated",
      "credential.suspended",
      "credential.reactivated",
    ]) {
      assert.ok(types.includes(type), `${type} in ${types.join(", ")}`);
    }
    const page = await demo.audit({ limit: 5 });
    assert.equal(page.items.length, 5);
    assert.equal(typeof page.next_cursor, "string");
    const tenantEvents = [];
    for await (const event of demo.auditAll({ limit: 50 })) {
      tenantEvents.push(event);
    }
    assert.ok(tenantEvents.filter((e) => e.client_id === current.client_id).length === types.length);
    assert.ok(tenantEvents.every((e) => e.tenant === "demo"));
  });

  it("deletes; the credential is then 404 and the audit trail keeps the deletion", async () => {
    await refusal(demo.delete(current.client_id, { ifMatch: current.version - 1 }), 412, "version_mismatch");
    await demo.delete(current.client_id, { ifMatch: current.version });
    const gone = await refusal(demo.get(current.client_id), 404, "credential_not_found");
    assert.ok(gone.detail.length > 0);
    await refusal(demo.update(current.client_id, { name: "again" }), 404, "credential_not_found");
    const latest = await demo.credentialAudit(current.client_id, { limit: 1 });
    assert.equal(latest.items[0]?.type, "credential.deleted");
  });

  it("reports a bad management token and another tenant as typed errors", async () => {
    const stranger = new ClavisClient({ url: gateway.url, token: "not-a-jwt" });
    const error = await refusal(stranger.tenant("demo").list(), 401, "unauthorized");
    assert.equal(error.message.includes("not-a-jwt"), false);
    const supplied = new ClavisClient({ url: gateway.url, token: () => Promise.resolve(gateway.token) });
    await refusal(supplied.tenant("acme").list(), 403, "forbidden");
  });
  it("answers a create repeated with the same idempotency key with the first answer: one credential, one secret", async () => {
    const key = `console-test-${"k".repeat(24)}`;
    const body = { name: "Idempotent", scopes: ["products:read"] };
    const first = await demo.create(body, { idempotencyKey: key });
    const again = await demo.create(body, { idempotencyKey: key });
    assert.equal(again.credential.client_id, first.credential.client_id);
    assert.equal(again.client_secret, first.client_secret);
    const named: Credential[] = [];
    for await (const credential of demo.listAll()) {
      if (credential.name === "Idempotent") named.push(credential);
    }
    assert.equal(named.length, 1, "only one credential was made");
    await refusal(demo.create({ ...body, name: "Other" }, { idempotencyKey: key }), 422, "idempotency_key_reused");
    await refusal(demo.create(body, { idempotencyKey: "short" }), 400, "invalid_idempotency_key");

    // The answer to a rotation is lost on the way back: the SDK repeats it with the same key and
    // receives the secret the server issued, which is the one that works.
    let dropped = 0;
    const sentKeys: (string | null)[] = [];
    const losing = new ClavisClient({
      url: gateway.url,
      token: gateway.token,
      sleep: () => Promise.resolve(),
      fetch: async (input, init) => {
        const request = new Request(input, init);
        const response = await fetch(request);
        if (request.url.endsWith("/rotate")) {
          sentKeys.push(request.headers.get("idempotency-key"));
          if (dropped === 0) {
            dropped += 1;
            await response.body?.cancel();
            throw new TypeError("fetch failed", { cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }) });
          }
        }
        return response;
      },
    }).tenant("demo");
    const rotated = await losing.rotate(first.credential.client_id);
    assert.equal(sentKeys.length, 2);
    assert.equal(sentKeys[1], sentKeys[0]);
    assert.equal(rotated.credential.secret_version, first.credential.secret_version + 1, "rotated once, not twice");
    const tokens = new TokenSource({ url: gateway.url, clientId: first.credential.client_id, clientSecret: rotated.client_secret, retry: { maxRetries: 0 } });
    assert.ok((await tokens.token()).expiresIn > 0, "the secret received works");
    await demo.delete(first.credential.client_id);
  });
});
