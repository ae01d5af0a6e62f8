#!/usr/bin/env node
// The checkout's shardgate command (package.json "bin"): runs main.ts with
// the Deno that `npm ci` installed, passing every argument through, so
// `npx shardgate check --config FILE` (after `npm link`) or
// `node scripts/shardgate.mjs run --config FILE` work like the compiled
// binary. Exits with shardgate's exit code; signals reach shardgate.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const deno = join(root, "node_modules", "deno", process.platform === "win32" ? "deno.exe" : "deno");
if (!existsSync(deno)) {
  console.error(`shardgate: ${deno} is missing; run \`npm ci\` in ${root} first.`);
  process.exit(1);
}
const child = spawn(
  deno,
  [
    "run",
    "--allow-all",
    "--v8-flags=--max-semi-space-size=2",
    join(root, "main.ts"),
    ...process.argv.slice(2),
  ],
  { stdio: "inherit" },
);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
