// How the console words a leaked secret, without Lit (unit tests run it in Node): a credential's
// leak notice (what happened and what to do), the answer to a report, the details of a
// credential.leaked audit event, and the report form's own checks. No function here keeps or
// returns a secret.

import type { CredentialLeakedDetails, LeakAction, LeakNotice, LeakReport, LeakSource } from "@clavis/sdk";

/** The longest `source_url` the API takes. */
export const MAX_SOURCE_URL_LENGTH = 2048;

/** A Clavis secret's shape: `csk_live_` or `csk_test_`, 43 base62 characters, `_`, a 6-character checksum. */
export const SECRET_SHAPE = /^csk_(live|test)_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/;

/** Who reported it, as the notice says it ("… via GitHub secret scanning"). */
export const LEAK_SOURCE_WORDS: Readonly<Record<LeakSource, string>> = {
  github: "via GitHub secret scanning",
  admin: "by an administrator",
};

/** What was done, as the notice ends ("… — credential revoked"). */
export const LEAK_ACTION_WORDS: Readonly<Record<LeakAction, string>> = {
  revoked: "credential revoked",
  suspended: "credential suspended",
  none: "the credential still works",
};

/** What the admin should do next, for each action taken. */
export const LEAK_ADVICE: Readonly<Record<LeakAction, string>> = {
  revoked: "Create a new credential and move the integration to it.",
  suspended: "Rotate the secret (without a grace period), update the integration, then reactivate.",
  none: "Rotate the secret now (without a grace period).",
};

function sourceWords(source: string): string {
  return LEAK_SOURCE_WORDS[source as LeakSource] ?? `reported by ${source}`;
}

function actionWords(action: string): string {
  return LEAK_ACTION_WORDS[action as LeakAction] ?? action;
}

/** What to do about a leak that led to `action` (an unknown action gets the safest advice: rotate). */
export function leakAdvice(action: string): string {
  return LEAK_ADVICE[action as LeakAction] ?? LEAK_ADVICE.none;
}

/**
 * The notice's sentence, `when` being the report's time as the page shows it:
 * "Secret reported leaked on 5 Jan 2026, 10:00 via GitHub secret scanning — credential revoked".
 */
export function leakHeadline(notice: Pick<LeakNotice, "source" | "action">, when: string): string {
  return `Secret reported leaked on ${when} ${sourceWords(notice.source)} — ${actionWords(notice.action)}`;
}

/** The two parts of the headline around its date, so that a page can show the date as a <time>. */
export function leakHeadlineParts(notice: Pick<LeakNotice, "source" | "action">): { before: string; after: string } {
  return { before: "Secret reported leaked on", after: `${sourceWords(notice.source)} — ${actionWords(notice.action)}` };
}

/** What the answer to a report says: which credential, what was done, and what to do now. */
export interface ReportOutcome {
  /** e.g. "The secret belongs to “Inventory sync” (cid_…)." */
  credential: string;
  /** What Clavis did, in a sentence. */
  action: string;
  /** What to do next; empty when nothing is left to do about this secret. */
  advice: string;
}

/** The credential a report named, as the page read it afterwards (when it could). */
export interface ReportedCredential {
  name: string;
  leak: LeakNotice | null;
}

/** The answer to a report in sentences, naming the credential when the page could read it. */
export function reportOutcome(report: LeakReport, credential?: ReportedCredential): ReportOutcome {
  const which = credential === undefined ? report.client_id : `“${credential.name}” (${report.client_id})`;
  const belongs = `The secret belongs to ${which}.`;
  if (report.already_reported) {
    // The first report acted; what is left to do follows from what it did, while the credential
    // still shows that leak (a rotation since has replaced the secret and cleared it).
    const first = credential?.leak ?? null;
    return {
      credential: belongs,
      action: "This secret was reported before, so nothing more was done.",
      advice: first !== null ? leakAdvice(first.action) : "",
    };
  }
  if (!report.secret_current) {
    return {
      credential: belongs,
      action: "It is an older secret that no longer works, so nothing was done to the credential. The report is in its audit trail.",
      advice: "",
    };
  }
  switch (report.action) {
    case "revoked":
      return { credential: belongs, action: "The credential was revoked: it can no longer get tokens.", advice: LEAK_ADVICE.revoked };
    case "suspended":
      return { credential: belongs, action: "The credential was suspended: it cannot get tokens until it is reactivated.", advice: LEAK_ADVICE.suspended };
    default:
      return { credential: belongs, action: "The tenant's policy only notifies, so nothing was done: the credential still works.", advice: LEAK_ADVICE.none };
  }
}

/** The details of a credential.leaked event as terms and descriptions a person reads. */
export function leakedEventFacts(details: Partial<CredentialLeakedDetails> | Record<string, unknown>): [string, string][] {
  const d = details as Record<string, unknown>;
  const facts: [string, string][] = [];
  const source = d["source"];
  if (typeof source === "string") facts.push(["Reported", source === "github" ? "by GitHub secret scanning" : source === "admin" ? "by an administrator" : `by ${source}`]);
  const url = d["url"];
  facts.push(["Found at", typeof url === "string" && url !== "" ? url : "not given"]);
  const current = d["secret_current"];
  if (typeof current === "boolean") {
    facts.push(["Secret", current ? "still accepted when reported" : "an older secret, no longer accepted"]);
  }
  const action = d["action"];
  if (typeof action === "string") {
    facts.push(["Action", action === "revoked" ? "Credential revoked" : action === "suspended" ? "Credential suspended" : action === "none" ? "None" : action]);
  }
  return facts;
}

/** Whether a URL from a leak report may be a link (http or https only: never javascript: and the like). */
export function linkableUrl(url: string | null | undefined): url is string {
  if (typeof url !== "string") return false;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:";
  } catch {
    return false;
  }
}

/** A value the report form cannot send, and the field it is in. The message never quotes the secret. */
export interface LeakFormProblem {
  field: "secret" | "source_url";
  message: string;
}

/** The report's body, or why it cannot be sent. The secret is trimmed (a paste often brings a newline). */
export function leakReportInput(secret: string, sourceUrl: string): { secret: string; sourceUrl?: string } | { problem: LeakFormProblem } {
  const found = secret.trim();
  if (found === "") return { problem: { field: "secret", message: "Paste the secret that was found." } };
  if (!SECRET_SHAPE.test(found)) {
    return {
      problem: {
        field: "secret",
        message: "This is not a Clavis secret: they look like csk_live_… or csk_test_…, 43 letters and digits, an underscore and 6 more. Paste it whole.",
      },
    };
  }
  const where = sourceUrl.trim();
  if (where === "") return { secret: found };
  if (where.length > MAX_SOURCE_URL_LENGTH) {
    return { problem: { field: "source_url", message: `The URL is longer than ${MAX_SOURCE_URL_LENGTH} characters.` } };
  }
  if (!linkableUrl(where)) {
    return { problem: { field: "source_url", message: "Give the address as an http:// or https:// URL, or leave it empty." } };
  }
  return { secret: found, sourceUrl: where };
}
