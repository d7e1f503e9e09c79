// What the one-time secret downloads hold, the same as `clavis create --save-env` and
// `--save-json` write, so the CLI and the SDKs read either file; and small parsing helpers.

export interface SecretFile {
  url: string;
  tenant: string;
  client_id: string;
  client_secret: string;
}

/** `CLAVIS_URL`, `CLAVIS_CLIENT_ID` and `CLAVIS_CLIENT_SECRET` lines. */
export function envFile(file: SecretFile): string {
  return `CLAVIS_URL=${file.url}\nCLAVIS_CLIENT_ID=${file.client_id}\nCLAVIS_CLIENT_SECRET=${file.client_secret}\n`;
}

/** `{url, tenant, client_id, client_secret}`, pretty-printed. */
export function jsonFile(file: SecretFile): string {
  return `${JSON.stringify({ url: file.url, tenant: file.tenant, client_id: file.client_id, client_secret: file.client_secret }, null, 2)}\n`;
}

/** A file name from the credential's name: `inventory-sync.env`. */
export function fileBase(name: string, clientId: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60);
  return slug === "" ? clientId : slug;
}

export const SCOPE_PATTERN = /^[a-z][a-z0-9_.-]{0,63}:[a-z][a-z0-9_.-]{0,63}$/;

/** Scopes typed as free text: separated by commas, spaces or new lines; duplicates dropped. */
export function parseScopes(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(/[\s,]+/)) {
    const scope = part.trim();
    if (scope !== "" && !out.includes(scope)) out.push(scope);
  }
  return out;
}

/** A sentence about the scopes that cannot be right, or undefined when they look fine. */
export function scopeProblem(scopes: string[]): string | undefined {
  if (scopes.length === 0) return "Give at least one scope, such as products:read.";
  if (scopes.length > 50) return "A credential can have at most 50 scopes.";
  const bad = scopes.filter((s) => !SCOPE_PATTERN.test(s));
  if (bad.length > 0) {
    return `${bad.map((s) => `“${s}”`).join(", ")} ${bad.length === 1 ? "is not a scope" : "are not scopes"}: write resource:action in lower case, such as products:read.`;
  }
  return undefined;
}

/** The instant `days` whole days from `now`. */
export function daysFromNow(days: number, now: Date = new Date()): Date {
  return new Date(now.getTime() + days * 86_400_000);
}

/**
 * A date picked in the admin's calendar (`yyyy-mm-dd` from `<input type="date">`) as the end
 * of that day in the admin's local time, so "expires on 3 March" means usable all of 3 March.
 */
export function endOfLocalDay(date: string): Date | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (match === null) return undefined;
  const day = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]), 23, 59, 59);
  return Number.isNaN(day.getTime()) ? undefined : day;
}

/** `2026-03-01 14:05 UTC`: the value as stored, for the tooltip next to the local time. */
export function utcText(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
