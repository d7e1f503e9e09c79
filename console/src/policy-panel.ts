// Home of the policy panel (not built yet): the tenant's rules for its credentials — which scopes
// may be granted, the longest expiry, whether a credential must expire — shown below the
// credential list. The create and edit dialogs will check against it as they now check scopes
// (files.ts: scopeProblem). Today it renders nothing.

import { nothing } from "lit";

import type { ConsoleContext } from "./state.js";

export function renderPolicyPanel(_ctx: ConsoleContext): typeof nothing {
  return nothing;
}
