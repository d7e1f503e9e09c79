// Starts the real local gateway (`$CLAVIS_LOCAL_BIN serve`, DynamoDB Local behind it) through the
// harness the JavaScript suites share (scripts/local-gateway.mjs).

import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

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
