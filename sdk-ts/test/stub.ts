// A stub `fetch` for unit tests: each request goes to a handler the test writes, and is recorded.

import type { Fetch } from "../src/index.js";

export interface Recorded {
  method: string;
  url: URL;
  headers: Headers;
  body: string;
}

export type Handler = (request: Recorded) => Response | Promise<Response>;

export interface Stub {
  fetch: Fetch;
  requests: Recorded[];
  /** The requests whose path is `path`. */
  to(path: string): Recorded[];
}

export function stubFetch(handler: Handler): Stub {
  const requests: Recorded[] = [];
  const fetch: Fetch = async (input, init) => {
    const request = new Request(input, init);
    const recorded: Recorded = {
      method: request.method,
      url: new URL(request.url),
      headers: request.headers,
      body: await request.text(),
    };
    requests.push(recorded);
    return handler(recorded);
  };
  return { fetch, requests, to: (path) => requests.filter((r) => r.url.pathname === path) };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

/** A promise the test resolves when it chooses: synchronisation without sleeps. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Records the waits a client asks for instead of sleeping. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  };
}

/** An RFC 9457 problem response, as the management API sends them. */
export function problem(
  status: number,
  code: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response {
  const body = { type: `urn:clavis:problem:${code}`, title: "Refused", status, detail: `Refused: ${code}.`, code, ...extra };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

export function sampleCredential(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_id: "cid_abcdefghijklmnopqrstuvwxyz",
    tenant: "demo",
    name: "Inventory sync",
    description: "",
    scopes: ["products:read"],
    environment: "live",
    status: "active",
    created_at: "2026-01-01T00:00:00Z",
    created_by: "alice",
    expires_at: null,
    expiry_locked: false,
    secret_version: 1,
    secret_rotated_at: null,
    previous_secret_valid_until: null,
    suspended_at: null,
    revoked_at: null,
    revoked_by: null,
    revocation_reason: null,
    last_used_at: null,
    last_used_from: null,
    request_count: 0,
    monthly_request_quota: null,
    usage_month: "2026-01",
    policy_violations: [],
    leak: null,
    version: 1,
    ...overrides,
  };
}

/** A tenant's policy as the API answers it: the open policy, never set (version 0), unless overridden. */
export function samplePolicy(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
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
    ...overrides,
  };
}

/** A credential's usage as the API answers it: `days` days ending 2026-01-30, all zero unless given. */
export function sampleUsage(days = 30, given: Record<string, { uses?: number; refused?: Record<string, number> }> = {}): Record<string, unknown> {
  const last = Date.UTC(2026, 0, 30);
  const series = Array.from({ length: days }, (_, i) => {
    const date = new Date(last - (days - 1 - i) * 86_400_000).toISOString().slice(0, 10);
    return { date, uses: given[date]?.uses ?? 0, refused: given[date]?.refused ?? {} };
  });
  const refused = (day: { refused: Record<string, number> }) => Object.values(day.refused).reduce((a, b) => a + b, 0);
  return {
    client_id: "cid_abcdefghijklmnopqrstuvwxyz",
    from: series[0]?.date,
    to: series.at(-1)?.date,
    days: series,
    total_uses: series.reduce((sum, day) => sum + day.uses, 0),
    total_refused: series.reduce((sum, day) => sum + refused(day), 0),
  };
}

/** A webhook endpoint as the API answers it: enabled, every event type, never rotated, unless overridden. */
export function sampleWebhook(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "wh_abcdefghijklmnopqrstuvwxyz",
    url: "https://hooks.example.com/clavis",
    event_types: null,
    description: null,
    status: "enabled",
    disabled_reason: null,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
    secret_rotated_at: null,
    previous_secret_valid_until: null,
    ...overrides,
  };
}

/** A delivery as the API answers it: delivered at the first try, unless overridden. */
export function sampleDelivery(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: "01M968Q8HN3R1PXATWAND4D85K",
    type: "webhook.test",
    attempts: 1,
    last_status: 204,
    last_error: null,
    next_attempt_at: null,
    state: "delivered",
    created_at: "2026-01-01T00:00:00Z",
    ...overrides,
  };
}
