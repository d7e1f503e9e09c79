// The webhooks section's words and forms, without Lit (unit tests run it in Node): the event
// types grouped as the form shows them, what the endpoint form stands for (a new endpoint, or
// only what changed of one), a sentence when a value cannot be right, and how an endpoint's
// status and a delivery's attempts read.

import { webhookEventTypes } from "@clavis/sdk";
import type { NewWebhook, Webhook, WebhookDelivery, WebhookEventType, WebhookUpdate } from "@clavis/sdk";

export const MAX_URL_LENGTH = 1024;
export const MAX_DESCRIPTION_LENGTH = 500;

/** The catalogue in the form's groups, each in the catalogue's order. */
export const EVENT_GROUPS: readonly { legend: string; types: readonly WebhookEventType[] }[] = [
  { legend: "Credentials", types: webhookEventTypes.filter((t) => t.startsWith("credential.")) },
  { legend: "Tenant", types: webhookEventTypes.filter((t) => t.startsWith("tenant.")) },
  { legend: "Webhook endpoints", types: webhookEventTypes.filter((t) => t.startsWith("webhook.")) },
];

/** What the endpoint form's controls hold: text as typed, boxes ticked. */
export interface WebhookFormValues {
  url: string;
  allEvents: boolean;
  eventTypes: readonly string[];
  description: string;
}

/** A value the form cannot send, and the field it is in. */
export interface FormProblem {
  field: "url" | "event_types" | "description";
  message: string;
}

/** The labels of the form's fields, by the request member (and problem `field`) they set. */
export const WEBHOOK_FIELD_LABELS: Readonly<Record<FormProblem["field"], string>> = {
  url: "Endpoint URL",
  event_types: "Events to send",
  description: "Description",
};

export function webhookFieldLabel(field: string | undefined): string | undefined {
  return field !== undefined && field in WEBHOOK_FIELD_LABELS ? WEBHOOK_FIELD_LABELS[field as FormProblem["field"]] : undefined;
}

/** The form showing an endpoint as it is (or empty, every event, for a new one). */
export function webhookFormValues(webhook?: Webhook): WebhookFormValues {
  return {
    url: webhook?.url ?? "",
    allEvents: (webhook?.event_types ?? null) === null,
    eventTypes: webhook?.event_types ?? [],
    description: webhook?.description ?? "",
  };
}

/**
 * Whether the URL can be an endpoint, as far as the page can tell: an http(s) URL without user
 * info, at most 1 KiB. The server decides the rest (https only when deployed, public hosts).
 */
export function urlProblem(text: string): string | undefined {
  const url = text.trim();
  if (url === "") return "Give the URL Clavis should send events to, such as https://hooks.example.com/clavis.";
  if (new TextEncoder().encode(url).length > MAX_URL_LENGTH) return `The URL is longer than ${MAX_URL_LENGTH} bytes.`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `“${url}” is not a URL: give one like https://hooks.example.com/clavis.`;
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return "The URL must start with https://.";
  if (parsed.username !== "" || parsed.password !== "") return "The URL must not carry a user name or password.";
  return undefined;
}

/** The event types a form stands for: null for every type, or the ticked ones in the catalogue's order. */
function eventTypesOf(values: WebhookFormValues): WebhookEventType[] | null | FormProblem {
  if (values.allEvents) return null;
  const ticked = webhookEventTypes.filter((t) => values.eventTypes.includes(t));
  if (ticked.length === 0) {
    return { field: "event_types", message: "Tick at least one event type, or “All events”." };
  }
  return ticked;
}

function isProblem(value: unknown): value is FormProblem {
  return typeof value === "object" && value !== null && "message" in value;
}

/** A new endpoint from the form, or what is wrong with it. */
export function newWebhook(values: WebhookFormValues): { webhook: NewWebhook } | { problem: FormProblem } {
  const problem = urlProblem(values.url);
  if (problem !== undefined) return { problem: { field: "url", message: problem } };
  const eventTypes = eventTypesOf(values);
  if (isProblem(eventTypes)) return { problem: eventTypes };
  const description = values.description.trim();
  if ([...description].length > MAX_DESCRIPTION_LENGTH) {
    return { problem: { field: "description", message: `At most ${MAX_DESCRIPTION_LENGTH} characters.` } };
  }
  // The server refuses control characters, newlines and tabs included.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(description)) {
    return { problem: { field: "description", message: "One line of text, without tabs or other control characters." } };
  }
  const webhook: NewWebhook = { url: values.url.trim() };
  if (eventTypes !== null) webhook.eventTypes = eventTypes;
  if (description !== "") webhook.description = description;
  return { webhook };
}

/** Only what the form changed of `before` (empty when nothing), or what is wrong with it. */
export function webhookChanges(before: Webhook, values: WebhookFormValues): { changes: WebhookUpdate } | { problem: FormProblem } {
  const made = newWebhook(values);
  if ("problem" in made) return made;
  const after = made.webhook;
  const changes: WebhookUpdate = {};
  if (after.url !== before.url) changes.url = after.url;
  const types = after.eventTypes ?? null;
  if (!sameTypes(types, before.event_types)) changes.eventTypes = types;
  const description = after.description ?? null;
  if (description !== (before.description === "" ? null : before.description)) changes.description = description;
  return { changes };
}

function sameTypes(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((t) => b.includes(t));
}

/** The endpoint's event types in a few words: "All events", or the list. */
export function eventTypesText(types: readonly string[] | null): string {
  return types === null ? "All events" : types.length === 0 ? "None" : types.join(", ");
}

export const STATUS_WORDS: Readonly<Record<Webhook["status"], string>> = {
  enabled: "Enabled",
  disabled: "Disabled",
};

/** Why a disabled endpoint is disabled, and what to do; undefined while it is enabled. */
export function disabledReasonText(webhook: Webhook): string | undefined {
  if (webhook.status !== "disabled") return undefined;
  switch (webhook.disabled_reason) {
    case "failing":
      return "Clavis disabled it: every delivery failed for 5 days. Fix the endpoint, then enable it.";
    case "gone":
      return "Clavis disabled it: the endpoint answered 410 Gone. Enable it if it is back.";
    default:
      return "Disabled by an admin: nothing is sent to it until it is enabled.";
  }
}

export const DELIVERY_STATE_WORDS: Readonly<Record<WebhookDelivery["state"], string>> = {
  pending: "Pending",
  delivered: "Delivered",
  failed: "Failed",
};

/** The last attempt's outcome: the HTTP status (and why, when there is an error), the error, or a dash before the first. */
export function lastStatusText(delivery: WebhookDelivery): string {
  const error = delivery.last_error ?? "";
  if (delivery.last_status !== null) return error === "" ? String(delivery.last_status) : `${delivery.last_status} (${error})`;
  if (error !== "") return error.charAt(0).toUpperCase() + error.slice(1);
  return delivery.attempts === 0 ? "Not tried yet" : "No answer";
}

/**
 * Whether the deliveries view should look again soon by itself: some delivery is pending and
 * due (no time set, or within `withinMs`). A later retry is left to the Reload button.
 */
export function dueSoon(deliveries: readonly WebhookDelivery[], now: number, withinMs = 15_000): boolean {
  return deliveries.some((d) => d.state === "pending" && (d.next_attempt_at === null || Date.parse(d.next_attempt_at) - now <= withinMs));
}
