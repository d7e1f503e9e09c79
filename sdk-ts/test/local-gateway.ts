// Starts the real local gateway (`$CLAVIS_LOCAL_BIN serve`, DynamoDB Local behind it) through the
// harness the JavaScript suites share (scripts/local-gateway.mjs).

import assert from "node:assert/strict";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { ClavisError } from "../src/index.js";

/** The prebuilt gateway the integration suites run against, and why they skip without it. */
export const binary = process.env["CLAVIS_LOCAL_BIN"];
export const skip =
  binary === undefined || binary === "" ? "CLAVIS_LOCAL_BIN is not set (the prebuilt clavis-local binary)" : false;

/** Asserts that `promise` rejects with a ClavisError of this status and code; returns it. */
export async function refusal(promise: Promise<unknown>, status: number, code: string): Promise<ClavisError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ClavisError, `expected a ClavisError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.status, status, error.message);
    return error;
  }
  assert.fail(`expected ${status} ${code}, but the request succeeded`);
}

export interface LocalGateway {
  url: string;
  /** A management token for tenant `demo`, role `admin`. */
  token: string;
  /** Another caller's management token, signed by this gateway's identity provider (`clavis-local dev-token`). */
  devToken(caller: { tenant: string; role?: string; subject?: string }): string;
  stop(): Promise<void>;
}

/** The repository root: the parent of sdk-ts (this file runs from sdk-ts/.test-build/test). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!dir.endsWith("sdk-ts")) {
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error("cannot find the sdk-ts folder above the tests");
    }
    dir = parent;
  }
  return resolve(dir, "..");
}

/** The shared harness of the JavaScript suites, `scripts/local-gateway.mjs` (plain ES module). */
interface Harness {
  startLocalGateway(binary: string, prefix: string): Promise<LocalGateway>;
}

export async function startLocalGateway(binary: string): Promise<LocalGateway> {
  const harness = (await import(pathToFileURL(join(repoRoot(), "scripts", "local-gateway.mjs")).href)) as Harness;
  return harness.startLocalGateway(binary, "clavis-sdk-ts-");
}
