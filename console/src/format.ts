// How the console words things: times in local time (UTC on hover), a sentence for any error a
// call threw, the status names, and whether an expiry is locked.

import { html } from "lit";
import type { TemplateResult } from "lit";
import { ClavisError, NetworkError } from "@clavis/sdk";
import type { Credential, CredentialStatus } from "@clavis/sdk";

import { utcText } from "./files.js";

const LOCK_WINDOW_MS = 72 * 3600 * 1000;

export const STATUS_WORDS: Record<CredentialStatus, string> = {
  active: "Active",
  suspended: "Suspended",
  expired: "Expired",
  revoked: "Revoked",
};

export const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function localTime(iso: string | null | undefined, none: string): TemplateResult {
  if (iso === null || iso === undefined) {
    return html`${none}`;
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return html`${iso}`;
  }
  return html`<time datetime=${iso} title=${utcText(iso)}>${dateTime.format(date)}</time>`;
}

/** A sentence for anything a call threw. */
export function sentence(error: unknown): string {
  if (error instanceof ClavisError) {
    const text = error.detail || error.title || `The server refused the request (${error.code}).`;
    return error.requestId === undefined ? text : `${text} (request ${error.requestId})`;
  }
  if (error instanceof NetworkError) {
    return error.timedOut
      ? "The server did not answer in time. Check your connection and try again."
      : "The server could not be reached. Check your connection and try again.";
  }
  return error instanceof Error ? error.message : String(error);
}

/** The expiry of this credential is inside the 72-hour lock window (the server's word, or the clock's). */
export function expiryLocked(credential: Credential, now: number = Date.now()): boolean {
  if (credential.expiry_locked) return true;
  if (credential.expires_at === null) return false;
  return Date.parse(credential.expires_at) - now <= LOCK_WINDOW_MS;
}
