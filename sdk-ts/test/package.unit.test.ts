// The package as a user imports it: `@clavis/sdk` resolves (through package.json `exports`) to
// the built dist/, which must export the client, the token source and every error class.

import assert from "node:assert/strict";
import { it } from "node:test";

import * as sdk from "@clavis/sdk";

it("exports the client, the token source and the errors from its entry point", () => {
  for (const name of [
    "ClavisClient",
    "TenantClient",
    "TokenSource",
    "AccessToken",
    "ClavisError",
    "ClavisSdkError",
    "OAuthError",
    "NetworkError",
    "UnexpectedResponseError",
    "ConfigError",
  ] as const) {
    assert.equal(typeof sdk[name], "function", name);
  }
  assert.ok(Object.keys(sdk.managementRoutes).length >= 12);
  assert.ok(sdk.webhookEventTypes.includes("credential.expiring_soon"), "the webhook event catalogue");
  const client = new sdk.ClavisClient({ url: "https://api.example.com", token: "t", fetch: () => Promise.reject(new Error("unused")) });
  assert.ok(client.tenant("demo") instanceof sdk.TenantClient);
});
