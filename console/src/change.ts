// One change to a credential, guarded by its version (If-Match), with the console's answer to
// each way it can go: done, gone (404), changed elsewhere (409/412), or refused.

import { ClavisError } from "@clavis/sdk";
import type { Credential, TenantClient } from "@clavis/sdk";

import { sentence } from "./format.js";
import type { ChangeResult, ConsoleContext } from "./state.js";

/**
 * Runs a change. Success: the new state is shown and `done` says so. A 409 or 412 (the
 * credential is not in the state this page showed): the view refreshes to the current state
 * and says why. Anything else: the sentence is shown in the open dialog, or on the page.
 */
export async function runChange(
  ctx: ConsoleContext,
  credential: Credential,
  run: (client: TenantClient, ifMatch: number) => Promise<ChangeResult>,
  done: (result: ChangeResult) => void,
): Promise<void> {
  const client = ctx.client();
  if (client === undefined || ctx.busy) return;
  ctx.busy = true;
  ctx.dialogError = "";
  try {
    const result = await run(client, credential.version);
    done(result);
  } catch (error) {
    if (error instanceof ClavisError && error.status === 404) {
      ctx.remove(credential.client_id);
      ctx.close();
      ctx.notice = { kind: "error", text: `“${credential.name}” no longer exists; it was deleted elsewhere.` };
    } else if (error instanceof ClavisError && (error.status === 409 || error.status === 412)) {
      await refreshAfterRefusal(ctx, credential, error);
      ctx.close();
      const why = error.status === 412
        ? `“${credential.name}” was changed elsewhere since this page showed it, so nothing was changed.`
        : sentence(error);
      ctx.notice = { kind: "error", text: `${why} The view now shows its current state; check it and try again if you still want to.` };
    } else if (ctx.dialog !== null) {
      ctx.dialogError = sentence(error);
    } else {
      ctx.notice = { kind: "error", text: sentence(error) };
    }
  } finally {
    ctx.busy = false;
  }
}

/** After a 409 or 412: show the credential as it is now (or drop it if it is gone). */
async function refreshAfterRefusal(ctx: ConsoleContext, credential: Credential, error: ClavisError): Promise<void> {
  if (error.credential !== undefined) {
    ctx.replace(error.credential);
    return;
  }
  try {
    const { credential: now } = await ctx.client()!.get(credential.client_id);
    ctx.replace(now);
  } catch (again) {
    if (again instanceof ClavisError && again.status === 404) ctx.remove(credential.client_id);
  }
}
