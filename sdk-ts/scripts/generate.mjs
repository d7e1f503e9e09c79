// Generates src/schema.ts from ../infra/openapi.yaml with openapi-typescript.
//
//   node scripts/generate.mjs          write src/schema.ts
//   node scripts/generate.mjs --check  regenerate into a temporary file and fail if it differs
//                                      from the committed src/schema.ts (spec and SDK drifted)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const spec = resolve(root, "../infra/openapi.yaml");
const committed = resolve(root, "src/schema.ts");
const cli = resolve(root, "node_modules/openapi-typescript/bin/cli.js");

function generate(output) {
  execFileSync(
    process.execPath,
    [cli, spec, "--output", output, "--default-non-nullable", "false"],
    { cwd: root, stdio: ["ignore", "ignore", "inherit"] },
  );
}

if (process.argv.includes("--check")) {
  const dir = mkdtempSync(join(tmpdir(), "clavis-sdk-schema-"));
  try {
    const fresh = join(dir, "schema.ts");
    generate(fresh);
    if (readFileSync(fresh, "utf8") !== readFileSync(committed, "utf8")) {
      console.error(
        "src/schema.ts is out of date with ../infra/openapi.yaml: run `npm run generate` and commit the result.",
      );
      process.exit(1);
    }
    console.log("src/schema.ts matches ../infra/openapi.yaml");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  generate(committed);
}
