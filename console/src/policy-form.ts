// The policy form's values and the document they stand for: what the Policy panel shows for a
// policy (empty fields for "no limit" and "any"), what it sends back (null for an empty field),
// and a sentence naming the field when a value cannot be right. No Lit here, so unit tests run
// it in Node.

import type { Policy, PolicyDocument } from "@clavis/sdk";

import { SCOPE_PATTERN, parseScopes } from "./files.js";

export type Environment = "live" | "test";
export type LeakAction = "revoke" | "suspend" | "notify";

export const ENVIRONMENTS: readonly [Environment, string][] = [
  ["live", "Live"],
  ["test", "Test"],
];

export const LEAK_ACTIONS: readonly [LeakAction, string][] = [
  ["revoke", "Revoke the credential"],
  ["suspend", "Suspend the credential"],
  ["notify", "Only notify (the credential keeps working)"],
];

export const MAX_LIFETIME_DAYS = 366;
export const MAX_GRACE_SECONDS = 604_800;

/** The labels of the panel's fields, by the document member (and problem `field`) they set. */
export const FIELD_LABELS: Readonly<Record<keyof PolicyDocument, string>> = {
  max_lifetime_days: "Maximum lifetime (days)",
  require_expiry: "Require an expiry date",
  max_grace_seconds: "Maximum grace period (seconds)",
  allowed_scopes: "Allowed scopes",
  allowed_environments: "Allowed environments",
  leak_action: "When a secret leaks",
};

/** What the form's controls hold: text as typed, boxes ticked. */
export interface PolicyFormValues {
  maxLifetimeDays: string;
  requireExpiry: boolean;
  maxGraceSeconds: string;
  allowedScopes: string;
  allowedEnvironments: readonly string[];
  leakAction: string;
}

/** A value the form cannot send: the member at fault and a sentence saying what to do. */
export interface PolicyFormProblem {
  field: keyof PolicyDocument;
  message: string;
}

/** The form as it shows a policy: an empty number for no limit, an empty scope list for any scope. */
export function formValues(policy: Policy): PolicyFormValues {
  return {
    maxLifetimeDays: policy.max_lifetime_days === null ? "" : String(policy.max_lifetime_days),
    requireExpiry: policy.require_expiry,
    maxGraceSeconds: policy.max_grace_seconds === null ? "" : String(policy.max_grace_seconds),
    allowedScopes: policy.allowed_scopes === null ? "" : policy.allowed_scopes.join(", "),
    allowedEnvironments: policy.allowed_environments,
    leakAction: policy.leak_action,
  };
}

/** The whole document the form stands for (every member sent), or the first problem in it. */
export function policyDocument(values: PolicyFormValues): { document: PolicyDocument } | { problem: PolicyFormProblem } {
  const lifetime = wholeNumber(values.maxLifetimeDays, 1, MAX_LIFETIME_DAYS);
  if (lifetime === undefined) {
    return problem("max_lifetime_days", `Give the maximum lifetime as a whole number of days from 1 to ${MAX_LIFETIME_DAYS}, or leave it empty for no limit.`);
  }
  const grace = wholeNumber(values.maxGraceSeconds, 0, MAX_GRACE_SECONDS);
  if (grace === undefined) {
    return problem("max_grace_seconds", `Give the maximum grace period as a whole number of seconds from 0 to ${MAX_GRACE_SECONDS.toLocaleString("en")} (7 days), or leave it empty for none.`);
  }
  const scopes = parseScopes(values.allowedScopes);
  const bad = scopes.filter((s) => !SCOPE_PATTERN.test(s));
  if (bad.length > 0) {
    return problem(
      "allowed_scopes",
      `${bad.map((s) => `“${s}”`).join(", ")} ${bad.length === 1 ? "is not a scope" : "are not scopes"}: write resource:action in lower case, such as products:read, or leave the field empty to allow any scope.`,
    );
  }
  if (scopes.length > 50) return problem("allowed_scopes", "A policy can allow at most 50 scopes; leave the field empty to allow any scope.");
  const environments = ENVIRONMENTS.map(([env]) => env).filter((env) => values.allowedEnvironments.includes(env));
  if (environments.length === 0) return problem("allowed_environments", "Allow at least one environment, Live or Test.");
  const leak = LEAK_ACTIONS.find(([action]) => action === values.leakAction)?.[0];
  if (leak === undefined) return problem("leak_action", "Choose what happens when a secret leaks.");
  return {
    document: {
      max_lifetime_days: lifetime,
      require_expiry: values.requireExpiry,
      max_grace_seconds: grace,
      allowed_scopes: scopes.length === 0 ? null : scopes,
      allowed_environments: environments,
      leak_action: leak,
    },
  };
}

/** The label of the field a problem document's `field` names, if it is one of the panel's. */
export function fieldLabel(field: string | undefined): string | undefined {
  return field !== undefined && Object.hasOwn(FIELD_LABELS, field) ? FIELD_LABELS[field as keyof PolicyDocument] : undefined;
}

/** Empty: null; a whole number within bounds: it; anything else: undefined. */
function wholeNumber(text: string, min: number, max: number): number | null | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  if (!/^\d+$/.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return value >= min && value <= max ? value : undefined;
}

function problem(field: keyof PolicyDocument, message: string): { problem: PolicyFormProblem } {
  return { problem: { field, message } };
}
