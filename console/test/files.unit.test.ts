// The one-time secret's downloads (what `clavis create --save-env` / `--save-json` write) and the
// free-text scope and expiry inputs.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { daysFromNow, endOfLocalDay, envFile, fileBase, jsonFile, parseScopes, scopeProblem, utcText } from "../src/files.js";

const file = { url: "http://127.0.0.1:3000", tenant: "demo", client_id: "cid_x", client_secret: "csk_live_y_z" };

describe("secret files", () => {
  it("writes CLAVIS_URL, CLAVIS_CLIENT_ID and CLAVIS_CLIENT_SECRET lines", () => {
    assert.equal(envFile(file), "CLAVIS_URL=http://127.0.0.1:3000\nCLAVIS_CLIENT_ID=cid_x\nCLAVIS_CLIENT_SECRET=csk_live_y_z\n");
  });

  it("writes a JSON object with url, tenant, client_id and client_secret", () => {
    assert.deepEqual(JSON.parse(jsonFile(file)), file);
    assert.deepEqual(Object.keys(JSON.parse(jsonFile({ ...file, extra: 1 } as typeof file))), ["url", "tenant", "client_id", "client_secret"]);
  });

  it("names files after the credential", () => {
    assert.equal(fileBase("Inventory sync – Production", "cid_x"), "inventory-sync-production");
    assert.equal(fileBase("★★★", "cid_x"), "cid_x");
  });
});

describe("scopes as free text", () => {
  it("splits on commas, spaces and new lines, and drops duplicates", () => {
    assert.deepEqual(parseScopes("products:read, orders:write\nstock:write  products:read,,"), ["products:read", "orders:write", "stock:write"]);
    assert.deepEqual(parseScopes("  "), []);
  });

  it("explains what is wrong in a sentence", () => {
    assert.equal(scopeProblem(["products:read"]), undefined);
    assert.match(scopeProblem([]) ?? "", /at least one scope/);
    assert.match(scopeProblem(["Products:read", "orders"]) ?? "", /“Products:read”, “orders” are not scopes/);
    assert.match(scopeProblem(Array.from({ length: 51 }, (_, i) => `r${i}:read`)) ?? "", /at most 50/);
  });
});

describe("expiry inputs", () => {
  it("reads a picked date as the end of that local day, and days from now", () => {
    const day = endOfLocalDay("2030-03-01");
    assert.ok(day !== undefined);
    assert.deepEqual([day.getFullYear(), day.getMonth(), day.getDate(), day.getHours(), day.getMinutes()], [2030, 2, 1, 23, 59]);
    assert.equal(endOfLocalDay("1 March"), undefined);
    assert.equal(daysFromNow(2, new Date("2030-01-01T00:00:00Z")).toISOString(), "2030-01-03T00:00:00.000Z");
  });

  it("shows the UTC value for the tooltip", () => {
    assert.equal(utcText("2030-01-02T03:04:05Z"), "2030-01-02 03:04 UTC");
    assert.equal(utcText("garbage"), "garbage");
  });
});
