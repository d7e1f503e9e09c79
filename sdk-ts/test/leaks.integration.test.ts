// Leak reports through the SDK against the real local gateway on DynamoDB Local: a current
// secret gets the tenant's leak action (revoke, suspend, notify) and the credential shows its
// leak until a rotation; a repeat acts once; a secret replaced without grace leads to no action,
// one within its grace period to the action; another tenant's secret is 404; a malformed one 400.
// Its own gateway, since the tenant's leak action changes here. Needs CLAVIS_LOCAL_BIN; skipped,
// with a note, without it.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ClavisClient } from "../src/index.js";
import type { Credential, TenantClient } from "../src/index.js";
import { binary, refusal, skip, startLocalGateway } from "./local-gateway.js";
import type { LocalGateway } from "./local-gateway.js";

if (skip !== false) {
  it("leak reports through the SDK against the local gateway", { skip }, () => undefined);
}

describe("leak reports through the SDK against the local gateway", { skip, timeout: 180_000 }, () => {
  let gateway: LocalGateway;
  let demo: TenantClient;

  /** A new credential of the demo tenant, created under the leak action `action`, and its secret. */
  async function leakable(name: string, action: "revoke" | "suspend" | "notify"): Promise<{ credential: Credential; secret: string }> {
    await demo.setPolicy({ leak_action: action }, { ifMatch: "*" });
    const issued = await demo.create({ name, scopes: ["products:read"] });
    return { credential: issued.credential, secret: issued.client_secret };
  }

  before(async () => {
    gateway = await startLocalGateway(binary ?? "");
    demo = new ClavisClient({ url: gateway.url, token: gateway.token }).tenant("demo");
  });

  after(async () => {
    await gateway?.stop();
  });

  for (const [policy, action, status] of [
    ["revoke", "revoked", "revoked"],
    ["suspend", "suspended", "suspended"],
    ["notify", "none", "active"],
  ] as const) {
    it(`applies leak_action ${policy} to a credential whose current secret is reported, once`, async () => {
      const { credential, secret } = await leakable(`Leaked under ${policy}`, policy);
      assert.equal(credential.leak, null);
      const report = await demo.reportLeak({ secret, sourceUrl: "https://github.com/acme/app/blob/main/.env" });
      assert.deepEqual(report, { client_id: credential.client_id, action, secret_current: true, already_reported: false });

      const { credential: now } = await demo.get(credential.client_id);
      assert.equal(now.status, status);
      assert.equal(now.leak?.source, "admin");
      assert.equal(now.leak?.action, action);
      assert.equal(now.leak?.url, "https://github.com/acme/app/blob/main/.env");
      assert.ok(Date.parse(now.leak?.reported_at ?? "") > 0);
      const listed = (await demo.list({ limit: 100 })).items.find((c) => c.client_id === credential.client_id);
      assert.deepEqual(listed?.leak, now.leak);

      const { items } = await demo.credentialAudit(credential.client_id);
      const leaked = items.filter((e) => e.type === "credential.leaked");
      assert.equal(leaked.length, 1);
      assert.deepEqual(leaked[0]?.details, { source: "admin", url: "https://github.com/acme/app/blob/main/.env", secret_current: true, action });
      assert.ok(!JSON.stringify(items).includes(secret), "no audit event carries the secret");

      // A revoked credential accepts no secret any more, so the repeat finds it no longer current.
      const again = await demo.reportLeak({ secret });
      assert.deepEqual(again, { client_id: credential.client_id, action: "none", secret_current: action !== "revoked", already_reported: true });
      const { credential: after } = await demo.get(credential.client_id);
      assert.equal(after.version, now.version, "a repeat changes nothing");
      assert.equal((await demo.credentialAudit(credential.client_id)).items.filter((e) => e.type === "credential.leaked").length, 1);
    });
  }

  it("clears the credential's leak when a rotation replaces the secret", async () => {
    const { credential, secret } = await leakable("Rotated after the leak", "suspend");
    await demo.reportLeak({ secret });
    const { credential: suspended } = await demo.get(credential.client_id);
    assert.notEqual(suspended.leak, null);
    const rotated = await demo.rotate(credential.client_id, { ifMatch: suspended.version, endExistingTokens: true });
    assert.equal(rotated.credential.leak, null);
    assert.equal((await demo.get(credential.client_id)).credential.leak, null);
  });

  it("takes no action for a secret already replaced, and acts on one still in its grace period", async () => {
    const { credential, secret: first } = await leakable("Rotated before the leak", "revoke");
    const second = (await demo.rotate(credential.client_id)).client_secret;
    const older = await demo.reportLeak({ secret: first });
    assert.deepEqual(older, { client_id: credential.client_id, action: "none", secret_current: false, already_reported: false });
    const { credential: untouched } = await demo.get(credential.client_id);
    assert.equal(untouched.status, "active");
    assert.equal(untouched.leak, null, "the leak of a replaced secret is not the current secret's");
    const events = (await demo.credentialAudit(credential.client_id)).items.filter((e) => e.type === "credential.leaked");
    assert.deepEqual(events[0]?.details, { source: "admin", url: null, secret_current: false, action: "none" });

    await demo.rotate(credential.client_id, { previousSecretValidForSeconds: 3600 });
    const inGrace = await demo.reportLeak({ secret: second });
    assert.deepEqual(inGrace, { client_id: credential.client_id, action: "revoked", secret_current: true, already_reported: false });
    assert.equal((await demo.get(credential.client_id)).credential.status, "revoked");
  });

  it("answers 404 secret_not_found for another tenant's secret, and changes nothing there", async () => {
    const acme = new ClavisClient({ url: gateway.url, token: gateway.devToken({ tenant: "acme" }) }).tenant("acme");
    const { credential, client_secret: secret } = await acme.create({ name: "Acme's own", scopes: ["products:read"] });
    const error = await refusal(demo.reportLeak({ secret }), 404, "secret_not_found");
    assert.ok(!error.message.includes(secret));
    const { credential: untouched } = await acme.get(credential.client_id);
    assert.equal(untouched.status, "active");
    assert.equal(untouched.leak, null);
    assert.equal(untouched.version, credential.version);
  });

  it("refuses what is not a Clavis secret (400 invalid_secret) and a source_url that is not http(s) (400 naming it)", async () => {
    const { secret } = await leakable("Never reported", "revoke");
    const badChecksum = secret.slice(0, -1) + (secret.endsWith("A") ? "B" : "A");
    for (const notASecret of ["ghp_0123456789abcdef", badChecksum]) {
      const error = await refusal(demo.reportLeak({ secret: notASecret }), 400, "invalid_secret");
      assert.ok(!error.message.includes(notASecret));
    }
    const bad = await refusal(demo.reportLeak({ secret, sourceUrl: "javascript:alert(1)" }), 400, "invalid_field");
    assert.equal(bad.field, "source_url");
    assert.ok(!bad.message.includes(secret));
    const listed = (await demo.list({ limit: 100 })).items.find((c) => c.name === "Never reported");
    assert.equal(listed?.status, "active", "a refused report changes nothing");
  });

  it("refuses a caller who is neither admin nor advisor (403)", async () => {
    const viewer = new ClavisClient({ url: gateway.url, token: gateway.devToken({ tenant: "demo", role: "viewer" }) }).tenant("demo");
    await refusal(viewer.reportLeak({ secret: `csk_live_${"A".repeat(43)}_AAAAAA` }), 403, "forbidden");
  });
});
