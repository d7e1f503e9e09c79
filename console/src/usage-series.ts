// The usage dashboard's numbers, without Lit (unit-tested in Node): a day's refusals, the totals
// as a sentence (the chart's accessible name), the CSV download, the refusal reasons in words,
// the chart's scale, and whether a credential went unused for N days.

import type { Credential, UsageDay } from "@clavis/sdk";

/** The days the console looks back: the API's default range, and the "not used" mark. */
export const USAGE_DAYS = 30;

const DAY_MS = 86_400_000;

/** What each refusal reason means to an admin (the API's code stays beside it in the table). */
export const REFUSAL_WORDS: Record<string, string> = {
  invalid_client: "Wrong secret",
  credential_suspended: "Suspended",
  credential_revoked: "Revoked",
  credential_expired: "Expired",
  token_revoked: "Token revoked",
  insufficient_scope: "Scope not granted",
  quota_exceeded: "Quota exceeded",
  environment_not_accepted: "Wrong environment",
  policy_violation: "Blocked by policy",
  throttled: "Throttled",
};

/** The day's refusals, all reasons together. */
export function refusedCount(day: Pick<UsageDay, "refused">): number {
  let sum = 0;
  for (const n of Object.values(day.refused ?? {})) sum += n;
  return sum;
}

/** The day's reasons, most first (ties by code), e.g. `[["invalid_client", 2]]`. */
export function refusalReasons(day: Pick<UsageDay, "refused">): [string, number][] {
  return Object.entries(day.refused ?? {})
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
}

function count(n: number, one: string, many: string): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/** The chart's accessible name: "Last 30 days: 1,234 uses, 5 refused". */
export function totalsLabel(usage: { days: readonly unknown[]; total_uses: number; total_refused: number }): string {
  return `Last ${count(usage.days.length, "day", "days")}: ${count(usage.total_uses, "use", "uses")}, ${usage.total_refused.toLocaleString("en-US")} refused`;
}

/** The series as CSV: `date,uses,refused`, then one row per day, oldest first. */
export function usageCsv(days: readonly UsageDay[]): string {
  return ["date,uses,refused", ...days.map((d) => `${d.date},${d.uses},${refusedCount(d)}`)].join("\n") + "\n";
}

/**
 * The top of the chart's scale: the busiest day's uses plus refusals, rounded up to 1, 2 or 5
 * times a power of ten (at least 1, so an idle month still draws an axis).
 */
export function chartMax(days: readonly UsageDay[]): number {
  let most = 0;
  for (const day of days) most = Math.max(most, day.uses + refusedCount(day));
  if (most <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(most));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= most) return step * power;
  }
  return 10 * power;
}

/** `6 Jan`: a UTC day as the chart's axis writes it. */
export function shortDay(date: string): string {
  const day = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(day.getTime())) return date;
  return day.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
}

/**
 * No use in the last `days` days: the latest use (or, never used, the creation) is at least that
 * long ago, as the API's `unused_for_days` counts.
 */
export function unusedFor(credential: Pick<Credential, "last_used_at" | "created_at">, days: number, now: number = Date.now()): boolean {
  const since = Date.parse(credential.last_used_at ?? credential.created_at);
  return Number.isFinite(since) && now - since >= days * DAY_MS;
}
