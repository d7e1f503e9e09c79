// The webhooks section's form and words: the event types grouped as the form shows them, a new
// endpoint (every event unless chosen), only what an edit changed, a sentence naming the field
// when a value cannot be right, and how statuses and deliveries read.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { webhookEventTypes } from "@clavis/sdk";
import type { Webhook, WebhookDelivery } from "@clavis/sdk";

import {
  DELIVERY_STATE_WORDS,
  EVENT_GROUPS,
  disabledReasonText,
  dueSoon,
  eventTypesText,
  lastStatusText,
  newWebhook,
  urlProblem,
  webhookChanges,
  webhookFieldLabel,
  webhookFormValues,
} from "../src/webhook-form.js";
import type { WebhookFormValues } from "../src/webhook-form.js";

const hook: Webhook = {
  id: "wh_abcdefghijklmnopqrstuvwxyz",
  url: "https://hooks.example.com/clavis",
  event_types: ["credential.revoked", "credential.expiring_soon"],
  description: "Pager",
  status: "enabled",
  disabled_reason: null,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  secret_rotated_at: null,
  previous_secret_valid_until: null,
};

const form = (changes: Partial<WebhookFormValues> = {}): WebhookFormValues => ({ ...webhookFormValues(), ...changes });

const delivery = (changes: Partial<WebhookDelivery> = {}): WebhookDelivery => ({
  event_id: "01M968Q8HN3R1PXATWAND4D85K",
  type: "webhook.test",
  attempts: 1,
  last_status: 204,
  last_error: null,
  next_attempt_at: null,
  state: "delivered",
  created_at: "2026-01-01T00:00:00Z",
  ...changes,
});

describe("the webhook endpoint form", () => {
  it("groups every event type of the catalogue once, in its order", () => {
    assert.deepEqual(EVENT_GROUPS.map((g) => g.legend), ["Credentials", "Tenant", "Webhook endpoints"]);
    assert.deepEqual(EVENT_GROUPS.flatMap((g) => g.types), [...webhookEventTypes]);
    assert.equal(EVENT_GROUPS[1]?.types.join(), "tenant.policy_changed");
  });

  it("starts empty with All events ticked, and shows an endpoint as it is", () => {
    assert.deepEqual(webhookFormValues(), { url: "", allEvents: true, eventTypes: [], description: "" });
    assert.deepEqual(webhookFormValues(hook), { url: hook.url, allEvents: false, eventTypes: hook.event_types, description: "Pager" });
    assert.equal(webhookFormValues({ ...hook, event_types: null, description: null }).allEvents, true);
  });

  it("makes a new endpoint: every event unless chosen (in the catalogue's order), no empty description", () => {
    assert.deepEqual(newWebhook(form({ url: "  https://hooks.example.com/a  " })), { webhook: { url: "https://hooks.example.com/a" } });
    assert.deepEqual(
      newWebhook(form({ url: "https://h.example/b", allEvents: false, eventTypes: ["webhook.disabled", "credential.created"], description: " Pager " })),
      { webhook: { url: "https://h.example/b", eventTypes: ["credential.created", "webhook.disabled"], description: "Pager" } },
    );
    assert.deepEqual(newWebhook(form({ url: "http://127.0.0.1:8080/hook" })), { webhook: { url: "http://127.0.0.1:8080/hook" } }, "the server decides about http:// and private hosts");
  });

  it("names the field at fault", () => {
    const problem = (values: WebhookFormValues) => {
      const made = newWebhook(values);
      assert.ok("problem" in made, JSON.stringify(made));
      return made.problem;
    };
    assert.equal(problem(form()).field, "url");
    assert.match(problem(form({ url: "hooks.example.com" })).message, /not a URL/);
    assert.match(problem(form({ url: "ftp://hooks.example.com/x" })).message, /https:\/\//);
    assert.match(problem(form({ url: "https://user:pw@hooks.example.com/" })).message, /user name or password/);
    assert.match(problem(form({ url: `https://h.example/${"a".repeat(1024)}` })).message, /1024 bytes/);
    assert.deepEqual(problem(form({ url: "https://h.example/", allEvents: false, eventTypes: [] })), { field: "event_types", message: "Tick at least one event type, or “All events”." });
    assert.equal(problem(form({ url: "https://h.example/", description: "x".repeat(501) })).field, "description");
    assert.match(problem(form({ url: "https://h.example/", description: "a\tb" })).message, /control characters/);
    assert.equal(webhookFieldLabel("url"), "Endpoint URL");
    assert.equal(webhookFieldLabel("event_types"), "Events to send");
    assert.equal(webhookFieldLabel("status"), undefined);
    assert.equal(webhookFieldLabel(undefined), undefined);
    assert.equal(urlProblem("https://hooks.example.com/clavis"), undefined);
  });

  it("sends only what an edit changed: null for every event and for no description", () => {
    const same = webhookFormValues(hook);
    assert.deepEqual(webhookChanges(hook, same), { changes: {} });
    assert.deepEqual(webhookChanges(hook, { ...same, eventTypes: ["credential.expiring_soon", "credential.revoked"] }), { changes: {} }, "the same types in another order");
    assert.deepEqual(webhookChanges(hook, { ...same, allEvents: true, description: "" }), { changes: { eventTypes: null, description: null } });
    assert.deepEqual(webhookChanges(hook, { ...same, url: "https://hooks.example.com/v2", eventTypes: ["credential.leaked"] }), {
      changes: { url: "https://hooks.example.com/v2", eventTypes: ["credential.leaked"] },
    });
    assert.deepEqual(webhookChanges({ ...hook, description: null }, { ...same, description: "New" }), { changes: { description: "New" } });
    assert.ok("problem" in webhookChanges(hook, { ...same, url: "" }));
  });
});

describe("the webhooks section's words", () => {
  it("says which events an endpoint gets", () => {
    assert.equal(eventTypesText(null), "All events");
    assert.equal(eventTypesText(["credential.revoked", "webhook.disabled"]), "credential.revoked, webhook.disabled");
  });

  it("says why an endpoint is disabled", () => {
    assert.equal(disabledReasonText(hook), undefined);
    assert.match(disabledReasonText({ ...hook, status: "disabled", disabled_reason: "admin" }) ?? "", /^Disabled by an admin/);
    assert.match(disabledReasonText({ ...hook, status: "disabled", disabled_reason: "failing" }) ?? "", /failed for 5 days/);
    assert.match(disabledReasonText({ ...hook, status: "disabled", disabled_reason: "gone" }) ?? "", /410 Gone/);
  });

  it("reads a delivery's last attempt and state", () => {
    assert.equal(lastStatusText(delivery()), "204");
    assert.equal(lastStatusText(delivery({ last_status: 500, state: "pending" })), "500");
    assert.equal(lastStatusText(delivery({ last_status: 301, last_error: "redirect not followed" })), "301 (redirect not followed)");
    assert.equal(lastStatusText(delivery({ last_status: null, last_error: "timeout" })), "Timeout");
    assert.equal(lastStatusText(delivery({ attempts: 0, last_status: null, state: "pending" })), "Not tried yet");
    assert.deepEqual(DELIVERY_STATE_WORDS, { pending: "Pending", delivered: "Delivered", failed: "Failed" });
  });

  it("looks again soon only while a pending delivery is due", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    assert.equal(dueSoon([delivery()], now), false);
    assert.equal(dueSoon([delivery({ state: "pending", attempts: 0, next_attempt_at: null })], now), true);
    assert.equal(dueSoon([delivery({ state: "pending", next_attempt_at: "2026-01-01T00:00:05Z" })], now), true);
    assert.equal(dueSoon([delivery({ state: "pending", next_attempt_at: "2026-01-01T00:05:00Z" })], now), false, "the retry after 5 minutes is left to Reload");
    assert.equal(dueSoon([delivery({ state: "failed" })], now), false);
  });
});
