// What the webhooks section and its dialogs share: the section's state (the endpoints as last
// read, its message), reading the endpoints, and one change to an endpoint with the console's
// answer to each way it can go.

import { ClavisError } from "@clavis/sdk";
import type { TenantClient, Webhook } from "@clavis/sdk";

import { sentence } from "./format.js";
import type { ConsoleContext, Notice, WebhooksState } from "./state.js";

export function patchWebhooks(ctx: ConsoleContext, changes: Partial<WebhooksState>): void {
  ctx.webhooks = { ...ctx.webhooks, ...changes };
}

export function sayWebhooks(ctx: ConsoleContext, notice: Notice | null): void {
  patchWebhooks(ctx, { notice });
}

/** Shows this endpoint as it is now (added at the end, the list being oldest first, if it is new). */
export function replaceWebhook(ctx: ConsoleContext, webhook: Webhook): void {
  const list = ctx.webhooks.webhooks ?? [];
  const at = list.findIndex((w) => w.id === webhook.id);
  patchWebhooks(ctx, { webhooks: at === -1 ? [...list, webhook] : list.map((w) => (w.id === webhook.id ? webhook : w)) });
}

export function removeWebhook(ctx: ConsoleContext, id: string): void {
  patchWebhooks(ctx, { webhooks: (ctx.webhooks.webhooks ?? []).filter((w) => w.id !== id) });
}

/** Reads the endpoints (again), keeping the section's message. */
export async function loadWebhooks(ctx: ConsoleContext): Promise<void> {
  const client = ctx.client();
  if (client === undefined) {
    patchWebhooks(ctx, { webhooks: null, loading: false });
    return;
  }
  patchWebhooks(ctx, { loading: true, error: "" });
  try {
    const webhooks = await client.webhooks();
    if (ctx.client() !== client) return; // another tenant or token since: its own read is under way
    patchWebhooks(ctx, { webhooks, loading: false });
  } catch (error) {
    if (ctx.client() !== client) return;
    patchWebhooks(ctx, { webhooks: null, loading: false, error: sentence(error) });
  }
}

/**
 * Runs one change to an endpoint. Done: `done` shows it. The endpoint is gone (404): it leaves
 * the list, and the section says so. Refused because the endpoint is not as this page showed it
 * (409, e.g. a test of an endpoint disabled meanwhile): the endpoint is read again and the
 * refusal said. Anything else: the sentence, in the open dialog or the section.
 */
export async function runWebhookChange<T>(
  ctx: ConsoleContext,
  webhook: Webhook,
  run: (client: TenantClient) => Promise<T>,
  done: (result: T) => void,
): Promise<void> {
  const client = ctx.client();
  if (client === undefined || ctx.busy) return;
  ctx.busy = true;
  ctx.dialogError = "";
  try {
    done(await run(client));
  } catch (error) {
    if (error instanceof ClavisError && error.status === 404) {
      removeWebhook(ctx, webhook.id);
      if (ctx.dialog !== null) ctx.close("#add-endpoint");
      sayWebhooks(ctx, { kind: "error", text: `The endpoint ${webhook.url} no longer exists; it was deleted elsewhere.` });
    } else if (error instanceof ClavisError && error.status === 409 && ctx.dialog === null) {
      try {
        replaceWebhook(ctx, await client.webhook(webhook.id));
      } catch {
        // the refusal below says enough
      }
      sayWebhooks(ctx, { kind: "error", text: `${sentence(error)} The list now shows the endpoint as it is.` });
    } else if (ctx.dialog !== null) {
      ctx.dialogError = sentence(error);
    } else {
      sayWebhooks(ctx, { kind: "error", text: sentence(error) });
    }
  } finally {
    ctx.busy = false;
  }
}

