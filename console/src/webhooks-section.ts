// Home of the webhooks section (not built yet): the tenant's webhook endpoints for credential
// events (created, rotated, expiring soon, revoked…), shown below the credential list. The
// signing secret of an endpoint, if it has one, follows the one-time secret rules of
// secret-dialog.ts. Today it renders nothing.

import { nothing } from "lit";

import type { ConsoleContext } from "./state.js";

export function renderWebhooksSection(_ctx: ConsoleContext): typeof nothing {
  return nothing;
}
