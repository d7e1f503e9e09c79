// The tenant policy through the SDK against the real local gateway on DynamoDB Local: read (the
// open policy, version 0), set with If-Match, a stale If-Match (412 carrying the current policy),
// a create that breaks the policy (400 policy_violation naming the field), and a credential
// made before a tightening that is then blocked until the policy is relaxed. Its own gateway, so
// that the tightened policy cannot touch the other suite's credentials. Needs CLAVIS_LOCAL_BIN;
// skipped, with a note, without it.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ClavisClient } from "../src/index.js";
import type { Credential, Policy, TenantClient } from "../src/index.js";
import { binary, refusal, skip, startLocalGateway } from "./local-gateway.js";
import type { LocalGateway } from "./local-gateway.js";



if (skip !== false) {
  it("the tenant policy through the SDK against the local gateway", { skip }, () => undefined);
}

describe("the tenant policy through the SDK against the local gateway", { skip, timeout: 180_000 }, () => {
  let gateway: LocalGateway;
  let demo: TenantClient;
  let policy: Policy;
  let forever: Credential;

  before(async () => {
    gateway = await startLocalGateway(binary ?? "");
    demo = new ClavisClient({ url: gateway.url, token: gateway.token }).tenant("demo");
  });

  after(async () => {
    await gateway?.stop();
  });

  it("reads the open policy, version 0, of a tenant that never set one", async () => {
    const read = await demo.policy();
    policy = read.policy;
    assert.equal(read.etag, '"0"');
    assert.deepEqual(
      { ...policy },
      {
        tenant: "demo",
        max_lifetime_days: null,
        require_expiry: false,
        max_grace_seconds: null,
        allowed_scopes: null,
        allowed_environments: ["live", "test"],
        leak_action: "revoke",
        version: 0,
        updated_at: null,
        updated_by: null,
      },
    );
  });

  it("sets a policy with If-Match of the version read; a credential made before it is then blocked", async () => {
    forever = (await demo.create({ name: "Made before the policy", scopes: ["products:read"] })).credential;
    assert.deepEqual(forever.policy_violations, []);

    const set = await demo.setPolicy({ max_lifetime_days: 90, max_grace_seconds: 3600, leak_action: "suspend" }, { ifMatch: policy.version });
    policy = set.policy;
    assert.equal(policy.version, 1);
    assert.equal(set.etag, '"1"');
    assert.equal(policy.max_lifetime_days, 90);
    assert.equal(policy.max_grace_seconds, 3600);
    assert.equal(policy.leak_action, "suspend");
    assert.equal(policy.require_expiry, false, "left out: its open default");
    assert.equal(policy.allowed_scopes, null);
    assert.deepEqual(policy.allowed_environments, ["live", "test"]);
    assert.equal(typeof policy.updated_at, "string");
    assert.equal(typeof policy.updated_by, "string");
    assert.deepEqual(await demo.policy(), set, "a read gives what the PUT answered");

    const { credential } = await demo.get(forever.client_id);
    assert.ok(credential.policy_violations.length > 0, "a credential without an expiry breaks a maximum lifetime");
    for (const reason of credential.policy_violations) assert.match(reason, /^[A-Z].*\.$/, reason);
    assert.equal(credential.status, "active", "blocked, not revoked or suspended");
  });

  it("answers a stale If-Match with 412 carrying the current policy, and changes nothing", async () => {
    const error = await refusal(demo.setPolicy({}, { ifMatch: 0 }), 412, "version_mismatch");
    assert.deepEqual(error.policy, policy, "the view can refresh to the current policy");
    assert.equal(error.credential, undefined);
    assert.deepEqual((await demo.policy()).policy, policy);
  });

  it("refuses a bad rule with invalid_field naming it", async () => {
    const error = await refusal(demo.setPolicy({ max_lifetime_days: 400 }, { ifMatch: policy.version }), 400, "invalid_field");
    assert.equal(error.field, "max_lifetime_days");
    await refusal(demo.setPolicy({ allowed_environments: [] }), 400, "invalid_field");
  });

  it("refuses a create that breaks the policy with policy_violation, the field and the rule's sentence", async () => {
    const noExpiry = await refusal(demo.create({ name: "No expiry", scopes: ["products:read"] }), 400, "policy_violation");
    assert.equal(noExpiry.field, "expires_at");
    assert.match(noExpiry.detail, /90 days/, noExpiry.detail);
    const tooLong = await refusal(demo.create({ name: "Too long", scopes: ["products:read"], expires_in_days: 91 }), 400, "policy_violation");
    assert.equal(tooLong.field, "expires_at");
    const fits = await demo.create({ name: "Fits", scopes: ["products:read"], expires_in_days: 90 });
    assert.deepEqual(fits.credential.policy_violations, [], "exactly the maximum is allowed");
    const grace = await refusal(demo.rotate(fits.credential.client_id, { previousSecretValidForSeconds: 86_400 }), 400, "policy_violation");
    assert.equal(grace.field, "previous_secret_valid_for_seconds");
    const noGrace = await refusal(demo.removeExpiry(fits.credential.client_id), 400, "policy_violation");
    assert.equal(noGrace.field, "expires_at");
  });

  it("refuses scopes and environments the policy does not allow", async () => {
    policy = (await demo.setPolicy({ allowed_scopes: ["products:read"], allowed_environments: ["test"] }, { ifMatch: policy.version })).policy;
    assert.deepEqual(policy.allowed_scopes, ["products:read"]);
    assert.equal(policy.max_lifetime_days, null, "the whole document is replaced");
    const scope = await refusal(demo.create({ name: "Wide", scopes: ["orders:write"], environment: "test" }), 400, "policy_violation");
    assert.equal(scope.field, "scopes");
    const live = await refusal(demo.create({ name: "Live", scopes: ["products:read"], environment: "live" }), 400, "policy_violation");
    assert.equal(live.field, "environment");
    const ok = await demo.create({ name: "Allowed", scopes: ["products:read"], environment: "test" });
    const update = await refusal(demo.update(ok.credential.client_id, { scopes: ["products:read", "orders:write"] }), 400, "policy_violation");
    assert.equal(update.field, "scopes");
  });

  it("clears a credential's block when the policy is relaxed, and audits every change with before and after", async () => {
    policy = (await demo.setPolicy({}, { ifMatch: policy.version })).policy;
    assert.equal(policy.version, 3);
    const { credential } = await demo.get(forever.client_id);
    assert.deepEqual(credential.policy_violations, []);

    const changes = [];
    for await (const event of demo.auditAll()) {
      if (event.type === "tenant.policy_changed") changes.push(event);
    }
    assert.equal(changes.length, 3);
    const [latest] = changes;
    assert.equal(latest?.client_id, null, "an event about the tenant names no credential");
    const details = latest?.details as { before?: Record<string, unknown>; after?: Record<string, unknown> };
    assert.deepEqual(details.before?.["allowed_scopes"], ["products:read"]);
    assert.equal(details.after?.["allowed_scopes"], null);
  });
});
