// The local gateway for the browser tests (scripts/local-gateway.mjs), serving the built
// console/dist at /console/.

import { existsSync } from "node:fs";
import { join } from "node:path";

import { repoRoot, startLocalGateway } from "../../scripts/local-gateway.mjs";

export const consoleDir = join(repoRoot, "console");
export { repoRoot };

export async function startGateway(binary) {
  if (!existsSync(join(consoleDir, "dist", "index.html"))) {
    throw new Error("console/dist is not built: run `npm run build` in console/ first");
  }
  return startLocalGateway(binary, "clavis-console-");
}
