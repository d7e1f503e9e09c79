// The Policy panel's form: how a policy is shown (empty for no limit, any scope) and the whole
// document a form stands for, with a sentence naming the field when a value cannot be right.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { Policy } from "@clavis/sdk";

import { FIELD_LABELS, fieldLabel, formValues, policyDocument } from "../src/policy-form.js";
import type { PolicyFormValues } from "../src/policy-form.js";

const open: Policy = {
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
};

const values = (changes: Partial<PolicyFormValues> = {}): PolicyFormValues => ({ ...formValues(open), ...changes });

describe("the policy form", () => {
  it("shows the open policy as empty fields, both environments and revoke", () => {
    assert.deepEqual(formValues(open), {
      maxLifetimeDays: "",
      requireExpiry: false,
      maxGraceSeconds: "",
      allowedScopes: "",
      allowedEnvironments: ["live", "test"],
      leakAction: "revoke",
    });
    const tight = formValues({ ...open, max_lifetime_days: 30, max_grace_seconds: 0, allowed_scopes: ["a:b", "c:d"], allowed_environments: ["live"], leak_action: "notify" });
    assert.equal(tight.maxLifetimeDays, "30");
    assert.equal(tight.maxGraceSeconds, "0", "0 is a limit (no grace), not none");
    assert.equal(tight.allowedScopes, "a:b, c:d");
  });

  it("sends the whole document, null for an empty field", () => {
    assert.deepEqual(policyDocument(values()), {
      document: {
        max_lifetime_days: null,
        require_expiry: false,
        max_grace_seconds: null,
        allowed_scopes: null,
        allowed_environments: ["live", "test"],
        leak_action: "revoke",
      },
    });
    assert.deepEqual(
      policyDocument(values({ maxLifetimeDays: " 30 ", requireExpiry: true, maxGraceSeconds: "0", allowedScopes: "products:read,\norders:write products:read", allowedEnvironments: ["test"], leakAction: "suspend" })),
      {
        document: {
          max_lifetime_days: 30,
          require_expiry: true,
          max_grace_seconds: 0,
          allowed_scopes: ["products:read", "orders:write"],
          allowed_environments: ["test"],
          leak_action: "suspend",
        },
      },
    );
    const both = policyDocument(values({ allowedEnvironments: ["test", "live", "staging"] }));
    assert.ok("document" in both);
    assert.deepEqual(both.document.allowed_environments, ["live", "test"], "in a fixed order, only known ones");
  });

  it("names the field of a value that cannot be right", () => {
    const cases: [Partial<PolicyFormValues>, string][] = [
      [{ maxLifetimeDays: "0" }, "max_lifetime_days"],
      [{ maxLifetimeDays: "367" }, "max_lifetime_days"],
      [{ maxLifetimeDays: "1.5" }, "max_lifetime_days"],
      [{ maxLifetimeDays: "-3" }, "max_lifetime_days"],
      [{ maxGraceSeconds: "604801" }, "max_grace_seconds"],
      [{ maxGraceSeconds: "1e3" }, "max_grace_seconds"],
      [{ allowedScopes: "products:read, Orders" }, "allowed_scopes"],
      [{ allowedScopes: Array.from({ length: 51 }, (_, i) => `r${i}:read`).join(" ") }, "allowed_scopes"],
      [{ allowedEnvironments: [] }, "allowed_environments"],
      [{ leakAction: "delete" }, "leak_action"],
    ];
    for (const [changes, field] of cases) {
      const result = policyDocument(values(changes));
      assert.ok("problem" in result, JSON.stringify(changes));
      assert.equal(result.problem.field, field, JSON.stringify(changes));
      assert.match(result.problem.message, /^[“A-Z].*\.$/, result.problem.message);
    }
    assert.ok("document" in policyDocument(values({ maxLifetimeDays: "366", maxGraceSeconds: "604800" })), "the bounds are allowed");
  });

  it("labels a problem's field as the panel does", () => {
    assert.equal(fieldLabel("max_lifetime_days"), "Maximum lifetime (days)");
    assert.equal(fieldLabel("leak_action"), "When a secret leaks");
    assert.equal(fieldLabel("toString"), undefined);
    assert.equal(fieldLabel(undefined), undefined);
    assert.equal(Object.keys(FIELD_LABELS).length, 6);
  });
});
