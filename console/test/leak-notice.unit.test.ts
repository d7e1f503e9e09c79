// A leaked secret in words: the credential's notice (what happened, what to do), the answer to a
// report, a credential.leaked event's details, and the report form's checks, which never quote
// the secret.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { LeakNotice, LeakReport } from "@clavis/sdk";

import {
  LEAK_ADVICE,
  leakAdvice,
  leakHeadline,
  leakHeadlineParts,
  leakReportInput,
  leakedEventFacts,
  linkableUrl,
  reportOutcome,
} from "../src/leak-notice.js";

const CID = "cid_abcdefghijklmnopqrstuvwxyz";
const SECRET = `csk_live_${"A1b2C3d4E5".repeat(4)}xyz_Q9w8E7`;
const notice = (changes: Partial<LeakNotice> = {}): LeakNotice => ({
  reported_at: "2026-01-05T10:00:00Z",
  source: "github",
  action: "revoked",
  url: "https://github.com/acme/app/blob/main/.env",
  ...changes,
});
const report = (changes: Partial<LeakReport> = {}): LeakReport => ({
  client_id: CID,
  action: "revoked",
  secret_current: true,
  already_reported: false,
  ...changes,
});

describe("a credential's leak notice", () => {
  it("says when, who reported it and what was done", () => {
    assert.equal(leakHeadline(notice(), "5 Jan 2026, 10:00"), "Secret reported leaked on 5 Jan 2026, 10:00 via GitHub secret scanning — credential revoked");
    assert.equal(leakHeadline(notice({ source: "admin", action: "suspended" }), "today"), "Secret reported leaked on today by an administrator — credential suspended");
    assert.equal(leakHeadline(notice({ action: "none" }), "today"), "Secret reported leaked on today via GitHub secret scanning — the credential still works");
    const parts = leakHeadlineParts(notice());
    assert.equal(`${parts.before} 5 Jan 2026 ${parts.after}`, leakHeadline(notice(), "5 Jan 2026"));
  });

  it("says what to do for each action", () => {
    assert.equal(leakAdvice("revoked"), "Create a new credential and move the integration to it.");
    assert.equal(leakAdvice("suspended"), "Rotate the secret (without a grace period), update the integration, then reactivate.");
    assert.equal(leakAdvice("none"), "Rotate the secret now (without a grace period).");
    assert.equal(leakAdvice("something newer"), LEAK_ADVICE.none, "an action this console does not know: rotate, the safe advice");
  });

  it("links only http and https URLs", () => {
    assert.equal(linkableUrl("https://github.com/acme/app"), true);
    assert.equal(linkableUrl("http://intranet.example/wiki"), true);
    assert.equal(linkableUrl("javascript:alert(1)"), false);
    assert.equal(linkableUrl("data:text/html,hi"), false);
    assert.equal(linkableUrl("not a url"), false);
    assert.equal(linkableUrl(null), false);
  });
});

describe("the answer to a report", () => {
  const named = { name: "Inventory sync", leak: notice() };

  it("names the credential and the action, and what to do next", () => {
    assert.deepEqual(reportOutcome(report(), named), {
      credential: `The secret belongs to “Inventory sync” (${CID}).`,
      action: "The credential was revoked: it can no longer get tokens.",
      advice: "Create a new credential and move the integration to it.",
    });
    assert.equal(reportOutcome(report({ action: "suspended" })).credential, `The secret belongs to ${CID}.`);
    assert.equal(reportOutcome(report({ action: "suspended" })).advice, LEAK_ADVICE.suspended);
    assert.match(reportOutcome(report({ action: "none" })).action, /only notifies/);
    assert.equal(reportOutcome(report({ action: "none" })).advice, LEAK_ADVICE.none);
  });

  it("says an older secret led to no action, and nothing is left to do", () => {
    const older = reportOutcome(report({ action: "none", secret_current: false }), named);
    assert.match(older.action, /older secret that no longer works, so nothing was done/);
    assert.equal(older.advice, "");
  });

  it("says a repeat changed nothing, with the first report's advice while the credential shows that leak", () => {
    const repeat = reportOutcome(report({ action: "none", already_reported: true }), { name: "Inventory sync", leak: notice({ action: "suspended" }) });
    assert.equal(repeat.action, "This secret was reported before, so nothing more was done.");
    assert.equal(repeat.advice, LEAK_ADVICE.suspended);
    const revoked = reportOutcome(report({ action: "none", already_reported: true, secret_current: false }), named);
    assert.equal(revoked.advice, LEAK_ADVICE.revoked, "a revoked credential accepts no secret, yet still needs replacing");
    const rotatedSince = reportOutcome(report({ action: "none", already_reported: true, secret_current: false }), { name: "Inventory sync", leak: null });
    assert.equal(rotatedSince.advice, "", "a rotation since replaced the secret: nothing left to do");
  });
});

describe("a credential.leaked event's details", () => {
  it("reads source, where, whether the secret was current and the action", () => {
    assert.deepEqual(leakedEventFacts({ source: "github", url: "https://github.com/acme/app/commit/1", secret_current: true, action: "revoked" }), [
      ["Reported", "by GitHub secret scanning"],
      ["Found at", "https://github.com/acme/app/commit/1"],
      ["Secret", "still accepted when reported"],
      ["Action", "Credential revoked"],
    ]);
    assert.deepEqual(leakedEventFacts({ source: "admin", url: null, secret_current: false, action: "none" }), [
      ["Reported", "by an administrator"],
      ["Found at", "not given"],
      ["Secret", "an older secret, no longer accepted"],
      ["Action", "None"],
    ]);
  });
});

describe("the report form", () => {
  it("sends a whole Clavis secret, trimmed, and an http(s) URL when one is given", () => {
    assert.deepEqual(leakReportInput(` ${SECRET}\n`, ""), { secret: SECRET });
    assert.deepEqual(leakReportInput(SECRET, " https://github.com/acme/app "), { secret: SECRET, sourceUrl: "https://github.com/acme/app" });
  });

  it("names the field at fault and never quotes the secret", () => {
    const cases: [string, string, string][] = [
      ["", "", "secret"],
      [SECRET.slice(0, -1), "", "secret"],
      [SECRET.replace("csk_live_", "sk_live_"), "", "secret"],
      [SECRET, "ftp://example.com/dump", "source_url"],
      [SECRET, "javascript:alert(1)", "source_url"],
      [SECRET, `https://example.com/${"a".repeat(2048)}`, "source_url"],
    ];
    for (const [secret, url, field] of cases) {
      const result = leakReportInput(secret, url);
      assert.ok("problem" in result, `${field}: ${JSON.stringify(result).slice(0, 80)}`);
      assert.equal(result.problem.field, field);
      if (secret.length > 10) assert.ok(!result.problem.message.includes(secret), result.problem.message);
    }
  });
});
