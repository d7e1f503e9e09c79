// The standalone page's reading of the management token: list claims in every form API Gateway
// and identity providers deliver them, the tenants an admin or advisor may manage, the fragment.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { decodeClaims, manageableTenants, parseListClaim, tokenFromFragment } from "../src/claims.js";

function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.signature`;
}

describe("list claims", () => {
  it("reads a JSON array, API Gateway's bracketed string, a comma-separated string and one value", () => {
    assert.deepEqual(parseListClaim(["acme", "globex"]), ["acme", "globex"]);
    assert.deepEqual(parseListClaim("[acme globex]"), ["acme", "globex"]);
    assert.deepEqual(parseListClaim('["acme","globex"]'), ["acme", "globex"]);
    assert.deepEqual(parseListClaim("acme,globex"), ["acme", "globex"]);
    assert.deepEqual(parseListClaim("acme, globex , initech"), ["acme", "globex", "initech"]);
    assert.deepEqual(parseListClaim("acme"), ["acme"]);
    assert.deepEqual(parseListClaim("[acme]"), ["acme"]);
  });

  it("drops empties, duplicates and non-strings, and reads nothing from nothing", () => {
    assert.deepEqual(parseListClaim("[]"), []);
    assert.deepEqual(parseListClaim(""), []);
    assert.deepEqual(parseListClaim(" [ acme  acme ] "), ["acme"]);
    assert.deepEqual(parseListClaim(["acme", 3, null, "", "acme"]), ["acme"]);
    assert.deepEqual(parseListClaim(undefined), []);
    assert.deepEqual(parseListClaim(42), []);
  });
});

describe("token claims", () => {
  it("gives an admin its own tenant", () => {
    const claims = decodeClaims(jwt({ sub: "alice", role: "admin", tenant: "demo", exp: 2_000_000_000 }));
    assert.deepEqual(claims, { sub: "alice", role: "admin", tenant: "demo", advises: [], exp: 2_000_000_000 });
    assert.deepEqual(manageableTenants(claims), ["demo"]);
  });

  it("gives an advisor the tenants it advises, however the list arrives", () => {
    for (const advises of ["[acme globex]", ["acme", "globex"], "acme,globex"]) {
      const claims = decodeClaims(jwt({ sub: "bob", role: "advisor", tenant: "advisors-inc", advises }));
      assert.deepEqual(manageableTenants(claims), ["acme", "globex"], JSON.stringify(advises));
    }
  });

  it("gives any other role nothing to manage", () => {
    assert.deepEqual(manageableTenants(decodeClaims(jwt({ sub: "carol", role: "member", tenant: "demo" }))), []);
    assert.deepEqual(manageableTenants(decodeClaims(jwt({ sub: "dave", tenant: "demo" }))), []);
    assert.deepEqual(manageableTenants(decodeClaims(jwt({ role: "admin" }))), []);
  });

  it("reads a string exp, and claims with non-ASCII text", () => {
    const claims = decodeClaims(jwt({ sub: "Zoë", role: "admin", tenant: "demo", exp: "2000000000" }));
    assert.equal(claims.exp, 2_000_000_000);
    assert.equal(claims.sub, "Zoë");
  });

  it("says in a sentence when the token is not a JWT", () => {
    assert.throws(() => decodeClaims("not-a-jwt"), /not a JWT/);
    assert.throws(() => decodeClaims("a.!!!.c"), /cannot be read/);
    assert.throws(() => decodeClaims(`a.${Buffer.from("[1]").toString("base64url")}.c`), /not a JSON object/);
  });
});

describe("the URL fragment", () => {
  it("takes the token and keeps any other parameter", () => {
    assert.deepEqual(tokenFromFragment("#token=abc.def.ghi"), { token: "abc.def.ghi", rest: "" });
    assert.deepEqual(tokenFromFragment("#token=abc&view=audit"), { token: "abc", rest: "#view=audit" });
    assert.deepEqual(tokenFromFragment(""), { token: undefined, rest: "" });
    assert.deepEqual(tokenFromFragment("#token="), { token: undefined, rest: "" });
  });
});
