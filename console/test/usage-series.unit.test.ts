// The usage dashboard's numbers: a day's refusals and their reasons, the chart's accessible name,
// the CSV, the chart's scale, and when a credential counts as not used in N days.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { UsageDay } from "@clavis/sdk";

import { REFUSAL_WORDS, USAGE_DAYS, chartMax, refusalReasons, refusedCount, shortDay, totalsLabel, unusedFor, usageCsv } from "../src/usage-series.js";

const days: UsageDay[] = [
  { date: "2026-01-29", uses: 0, refused: {} },
  { date: "2026-01-30", uses: 1_230, refused: { throttled: 1, invalid_client: 3 } },
  { date: "2026-01-31", uses: 4, refused: { quota_exceeded: 1 } },
];

describe("usage numbers", () => {
  it("adds a day's refusals and lists the reasons, most first", () => {
    assert.equal(refusedCount(days[0]!), 0);
    assert.equal(refusedCount(days[1]!), 4);
    assert.deepEqual(refusalReasons(days[1]!), [["invalid_client", 3], ["throttled", 1]]);
    assert.deepEqual(refusalReasons({ refused: { a_reason: 0 } }), [], "a zero is no reason");
  });

  it("words every refusal reason of the spec", () => {
    for (const reason of ["invalid_client", "credential_suspended", "credential_revoked", "credential_expired", "token_revoked", "insufficient_scope", "quota_exceeded", "environment_not_accepted", "policy_violation", "throttled"]) {
      assert.ok(REFUSAL_WORDS[reason], reason);
    }
  });

  it("states the totals as the chart's accessible name", () => {
    assert.equal(totalsLabel({ days: new Array(30), total_uses: 1_234, total_refused: 5 }), "Last 30 days: 1,234 uses, 5 refused");
    assert.equal(totalsLabel({ days: new Array(1), total_uses: 1, total_refused: 0 }), "Last 1 day: 1 use, 0 refused");
  });

  it("writes the CSV with the header date,uses,refused and one row per day, oldest first", () => {
    assert.equal(usageCsv(days), "date,uses,refused\n2026-01-29,0,0\n2026-01-30,1230,4\n2026-01-31,4,1\n");
    assert.equal(usageCsv([]), "date,uses,refused\n");
  });

  it("tops the scale at 1, 2 or 5 times a power of ten above the busiest day", () => {
    assert.equal(chartMax([]), 1);
    assert.equal(chartMax([{ date: "2026-01-01", uses: 0, refused: {} }]), 1);
    assert.equal(chartMax(days), 2_000);
    assert.equal(chartMax([{ date: "2026-01-01", uses: 3, refused: { throttled: 2 } }]), 5);
    assert.equal(chartMax([{ date: "2026-01-01", uses: 10, refused: {} }]), 10);
    assert.equal(chartMax([{ date: "2026-01-01", uses: 11, refused: {} }]), 20);
    assert.equal(chartMax([{ date: "2026-01-01", uses: 51, refused: {} }]), 100);
  });

  it("writes a day for the axis as the UTC day", () => {
    assert.equal(shortDay("2026-01-30"), "30 Jan");
    assert.equal(shortDay("not a day"), "not a day");
  });

  it("counts a credential unused for N days from its last use, or its creation if never used", () => {
    const now = Date.parse("2026-03-01T12:00:00Z");
    assert.equal(USAGE_DAYS, 30);
    assert.equal(unusedFor({ created_at: "2026-01-01T00:00:00Z", last_used_at: null }, 30, now), true);
    assert.equal(unusedFor({ created_at: "2026-02-20T00:00:00Z", last_used_at: null }, 30, now), false, "new, never used");
    assert.equal(unusedFor({ created_at: "2025-01-01T00:00:00Z", last_used_at: "2026-02-28T00:00:00Z" }, 30, now), false);
    assert.equal(unusedFor({ created_at: "2025-01-01T00:00:00Z", last_used_at: "2026-01-30T12:00:00Z" }, 30, now), true, "exactly 30 days");
  });
});
