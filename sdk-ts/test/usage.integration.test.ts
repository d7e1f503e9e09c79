// Usage through the SDK against the real local gateway on DynamoDB Local: tokens issued counted as
// the day's uses, a wrong secret and a suspended credential's refusals by reason, every day of
// the default 30 (zeros included, oldest first) and of an explicit range, the tenant's sum and
// top credentials, last_used_from, a refused range (400 invalid_range naming the field), and the
// listing's unused_for_days. The gateway flushes usage every second: the test polls the usage
// route until the counts show, with a deadline, rather than sleeping. Its own gateway, so that no
// other suite's tokens are counted. Needs CLAVIS_LOCAL_BIN; skipped, with a note, without it.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { ClavisClient, OAuthError, TokenSource } from "../src/index.js";
import type { Credential, CredentialUsage, IssuedSecret, TenantClient, UsageDay } from "../src/index.js";
import { binary, refusal, skip, startLocalGateway } from "./local-gateway.js";
import type { LocalGateway } from "./local-gateway.js";


const DAY_MS = 86_400_000;
/** How long the counts may take to show: the gateway flushes every second. */
const FLUSH_DEADLINE_MS = 20_000;

/** A UTC day `offset` days from today, as YYYY-MM-DD. */
function utcDay(offset = 0): string {
  return new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);
}


/** Reads `read` until `done` holds of what it returns, or fails at the deadline with the last value. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + FLUSH_DEADLINE_MS;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline) {
      assert.fail(`${what} did not show within ${FLUSH_DEADLINE_MS / 1000} s; last read: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
    value = await read();
  }
  return value;
}

const today = (usage: { days: UsageDay[] }): UsageDay | undefined => usage.days.at(-1);

if (skip !== false) {
  it("usage through the SDK against the local gateway", { skip }, () => undefined);
}

describe("usage through the SDK against the local gateway", { skip, timeout: 180_000 }, () => {
  let gateway: LocalGateway;
  let demo: TenantClient;
  let used: IssuedSecret;
  let idle: Credential;
  let usage: CredentialUsage;

  const tokens = (issued: IssuedSecret, secret = issued.client_secret): TokenSource =>
    new TokenSource({ url: gateway.url, clientId: issued.credential.client_id, clientSecret: secret, retry: { maxRetries: 0 } });

  before(async () => {
    gateway = await startLocalGateway(binary ?? "");
    demo = new ClavisClient({ url: gateway.url, token: gateway.token }).tenant("demo");
    used = await demo.create({ name: "Used daily", scopes: ["products:read"] });
    idle = (await demo.create({ name: "Never used", scopes: ["products:read"] })).credential;
  });

  after(async () => {
    await gateway?.stop();
  });

  it("reads a new credential's last 30 days: every day, oldest first, all zeros", async () => {
    const fresh = await demo.credentialUsage(idle.client_id);
    assert.equal(fresh.client_id, idle.client_id);
    assert.equal(fresh.to, utcDay());
    assert.equal(fresh.from, utcDay(-29));
    assert.deepEqual(fresh.days.map((d) => d.date), Array.from({ length: 30 }, (_, i) => utcDay(i - 29)));
    for (const day of fresh.days) assert.deepEqual({ uses: day.uses, refused: day.refused }, { uses: 0, refused: {} }, day.date);
    assert.equal(fresh.total_uses, 0);
    assert.equal(fresh.total_refused, 0);
  });

  it("counts three tokens issued as today's uses, and a wrong secret under refused.invalid_client", async () => {
    for (let i = 0; i < 3; i += 1) {
      assert.ok((await tokens(used).token()).secret().length > 0);
    }
    const wrong = `${used.client_secret.slice(0, -1)}${used.client_secret.endsWith("A") ? "B" : "A"}`;
    await assert.rejects(tokens(used, wrong).token(), (error: unknown) => error instanceof OAuthError && error.error === "invalid_client");

    usage = await until(
      () => demo.credentialUsage(used.credential.client_id),
      (u) => u.total_uses >= 3 && u.total_refused >= 1,
      "three uses and one refusal",
    );
    assert.deepEqual(today(usage), { date: utcDay(), uses: 3, refused: { invalid_client: 1 } });
    assert.equal(usage.total_uses, 3);
    assert.equal(usage.total_refused, 1);
    assert.equal(usage.days.length, 30);
    for (const day of usage.days.slice(0, -1)) assert.deepEqual({ uses: day.uses, refused: day.refused }, { uses: 0, refused: {} }, day.date);

    const { credential } = await demo.get(used.credential.client_id);
    assert.equal(credential.request_count, 3, "the day's uses are what request_count counts");
    assert.equal(typeof credential.last_used_at, "string");
    assert.equal(typeof credential.last_used_from, "string", JSON.stringify(credential));
    assert.ok((credential.last_used_from ?? "").length > 0);
    assert.equal(idle.last_used_from, null, "never used: no address");
  });

  it("counts a suspended credential's token requests under refused.credential_suspended", async () => {
    const paused = await demo.create({ name: "Paused", scopes: ["products:read"] });
    await demo.suspend(paused.credential.client_id);
    await assert.rejects(tokens(paused).token(), OAuthError);
    const counted = await until(() => demo.credentialUsage(paused.credential.client_id), (u) => u.total_refused >= 1, "the suspended credential's refusal");
    assert.deepEqual(today(counted)?.refused, { credential_suspended: 1 });
    assert.equal(counted.total_uses, 0);
  });

  it("reads an explicit range, as strings or Dates, one entry per day", async () => {
    const three = await demo.credentialUsage(used.credential.client_id, { from: utcDay(-2), to: utcDay() });
    assert.deepEqual(three.days.map((d) => d.date), [utcDay(-2), utcDay(-1), utcDay()]);
    assert.equal(three.total_uses, 3);
    const yesterday = await demo.credentialUsage(used.credential.client_id, { from: new Date(Date.now() - DAY_MS), to: new Date(Date.now() - DAY_MS) });
    assert.deepEqual(yesterday.days, [{ date: utcDay(-1), uses: 0, refused: {} }]);
    assert.equal(yesterday.total_uses, 0);
  });

  it("sums the tenant's days and names its most used credentials", async () => {
    const tenant = await demo.usage();
    assert.equal(tenant.tenant, "demo");
    assert.equal(tenant.days.length, 30);
    assert.equal(tenant.to, utcDay());
    assert.equal(tenant.total_uses, 3);
    assert.equal(tenant.total_refused, 2, "the wrong secret and the suspended credential's request");
    assert.deepEqual(today(tenant), { date: utcDay(), uses: 3, refused: { invalid_client: 1, credential_suspended: 1 } });
    assert.deepEqual(tenant.top, [{ client_id: used.credential.client_id, name: "Used daily", uses: 3 }], "credentials without uses are left out");
  });

  it("refuses a bad range with 400 invalid_range naming the field", async () => {
    const future = await refusal(demo.credentialUsage(used.credential.client_id, { to: utcDay(1) }), 400, "invalid_range");
    assert.equal(future.field, "to");
    const tooOld = await refusal(demo.credentialUsage(used.credential.client_id, { from: utcDay(-401), to: utcDay() }), 400, "invalid_range");
    assert.equal(tooOld.field, "from");
    const backwards = await refusal(demo.usage({ from: utcDay(), to: utcDay(-1) }), 400, "invalid_range");
    assert.ok(backwards.field === "from" || backwards.field === "to", String(backwards.field));
    const malformed = await refusal(demo.usage({ from: "last week" }), 400, "invalid_range");
    assert.equal(malformed.field, "from");
  });

  it("keeps tenants apart as the credential routes do: another tenant's credential is 404, another tenant's admin 403", async () => {
    const acmeAdmin = new ClavisClient({ url: gateway.url, token: gateway.devToken({ tenant: "acme" }) });
    const theirs = await acmeAdmin.tenant("acme").create({ name: "Acme only", scopes: ["products:read"] });
    await refusal(demo.credentialUsage(theirs.credential.client_id), 404, "credential_not_found");
    await refusal(acmeAdmin.tenant("demo").get(used.credential.client_id), 403, "forbidden");
    await refusal(acmeAdmin.tenant("demo").credentialUsage(used.credential.client_id), 403, "forbidden");
    await refusal(acmeAdmin.tenant("demo").usage(), 403, "forbidden");
    assert.equal((await acmeAdmin.tenant("acme").usage()).total_uses, 0, "demo's uses are not acme's");
  });

  it("lists only credentials with no use in the last N days: a new one counts from its creation", async () => {
    // Nothing here is a day old, used or not, so every window leaves all of them out.
    for (const days of [1, 30, 400]) {
      const page = await demo.list({ unusedForDays: days, limit: 100 });
      assert.deepEqual(page.items.map((c) => c.name), [], `unused_for_days=${days}`);
    }
    const all = await demo.list({ limit: 100 });
    assert.equal(all.items.length, 3);
    await refusal(demo.list({ unusedForDays: 0 }), 400, "invalid_unused_for_days");
    await refusal(demo.list({ unusedForDays: 401 }), 400, "invalid_unused_for_days");
  });
});
