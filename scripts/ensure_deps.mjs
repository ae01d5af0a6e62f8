// Runs before `npm run demo` and `npm test` (plain Node, no dependencies):
// makes sure the tools they need exist. redis-server and redis-cli come from the Debian
// packages redis-server and redis-tools, nutcracker (twemproxy, for the router
// compatibility test) from nutcracker; with --with-chromium (npm test) also
// /usr/bin/chromium (Debian's chromium, for the status page test). Installed
// with apt-get when running as root, otherwise the exact command is printed.
// Deno comes from `npm ci`.

import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const CHROMIUM = "/usr/bin/chromium";
const withChromium = process.argv.includes("--with-chromium");

/** Each needed tool: how to find it and which Debian package brings it. */
const tools = [
  { name: "redis-server", found: () => which("redis-server") !== null, pkg: "redis-server" },
  { name: "redis-cli", found: () => which("redis-cli") !== null, pkg: "redis-tools" },
  { name: "nutcracker", found: () => which("nutcracker") !== null, pkg: "nutcracker" },
  ...(withChromium ? [{ name: CHROMIUM, found: () => existsSync(CHROMIUM), pkg: "chromium" }] : []),
];

/** Debian puts nutcracker in /usr/sbin, which is not on every user's PATH. */
const sbinDirs = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** The full path of `name` on PATH (or in an sbin directory), or null. */
function which(name) {
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), ...sbinDirs]) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

function run(cmd, args) {
  console.log(`ensure_deps: running ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status}`);
}

let ok = true;

if (!existsSync(join(root, "node_modules", "deno"))) {
  console.error("ensure_deps: node_modules/deno is missing; run `npm ci` in the repo root first.");
  ok = false;
}

const missingTools = tools.filter((t) => !t.found());
const missing = missingTools.map((t) => t.name);
const aptPackages = [...new Set(missingTools.map((t) => t.pkg))];
const installCommand = `apt-get install -y --no-install-recommends ${aptPackages.join(" ")}`;
if (missing.length > 0) {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!which("apt-get")) {
    console.error(
      `ensure_deps: ${missing.join(" and ")} not found, and there is no apt-get; ` +
        `install ${aptPackages.join(", ")} with your system's package manager.`,
    );
    ok = false;
  } else if (!isRoot) {
    console.error(`ensure_deps: ${missing.join(" and ")} not found on PATH. Install them with:`);
    console.error(`  sudo apt-get update && sudo ${installCommand}`);
    ok = false;
  } else {
    console.log(
      `ensure_deps: ${missing.join(" and ")} not found on PATH; installing ${
        aptPackages.join(", ")
      }.`,
    );
    try {
      run("apt-get", ["update"]);
      run("apt-get", ["install", "-y", "--no-install-recommends", ...aptPackages]);
    } catch (e) {
      console.error(`ensure_deps: install failed: ${e instanceof Error ? e.message : e}`);
      ok = false;
    }
    const still = tools.filter((t) => !t.found()).map((t) => t.name);
    if (ok && still.length > 0) {
      console.error(`ensure_deps: ${still.join(" and ")} still not on PATH after the install.`);
      ok = false;
    }
  }
}

if (!ok) process.exit(1);
console.log(`ensure_deps: ${tools.map((t) => t.name).join(", ")} and deno are present.`);
