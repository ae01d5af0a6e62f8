/**
 * End-to-end: the command line (`check`, `--version`, bad arguments, and a
 * bad config at startup) run as a real process.
 */

import { deepStrictEqual as assertEquals, match, ok as assert } from "node:assert/strict";
import { REPO_ROOT, runShardgateCli } from "./helpers/mod.ts";
import { VERSION } from "../version.ts";

async function tempConfig(text: string): Promise<string> {
  const file = await Deno.makeTempFile({ prefix: "shardgate-cli-", suffix: ".yaml" });
  await Deno.writeTextFile(file, text);
  return file;
}

Deno.test("cli: --version prints the version", async () => {
  const r = await runShardgateCli(["--version"]);
  assertEquals(r.code, 0);
  match(r.stdout, new RegExp(`^shardgate ${VERSION.replaceAll(".", "\\.")} `));
});

Deno.test("cli: check accepts a valid config with exit 0", async () => {
  const file = await tempConfig(`
shards:
  users:
    readers: 127.0.0.1:6401
    writer: 127.0.0.1:6400
    nodes: [127.0.0.1:6379, { address: 127.0.0.1:6380, weight: 2 }]
`);
  try {
    const r = await runShardgateCli(["check", "--config", file]);
    assertEquals(r.code, 0, r.stderr);
    match(r.stdout, /ok \(1 shard\)/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("cli: check rejects a bad config with exit 2 and file:line:col messages", async () => {
  const file = await tempConfig(`shards:
  users:
    readers: 10.0.0.1:6401
    retires: 3
    nodes: [127.0.0.1:6379]
`);
  try {
    const r = await runShardgateCli(["check", "--config", file]);
    assertEquals(r.code, 2);
    const lines = r.stderr.trim().split("\n");
    assert(
      lines.some((l) => l.startsWith(`${file}:3:`) && l.includes("shards.users.readers")),
      r.stderr,
    );
    assert(lines.some((l) => l.startsWith(`${file}:4:5: `) && l.includes("retires")), r.stderr);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("cli: run refuses to start on a bad config (exit 2) and on unknown arguments", async () => {
  const file = await tempConfig("shards: {}\nbogus: 1\n");
  try {
    const r = await runShardgateCli(["run", "--config", file]);
    assertEquals(r.code, 2);
    match(r.stderr, new RegExp(`^${file}:\\d+:\\d+: `, "m"));
    const bad = await runShardgateCli(["frobnicate", "--config", file]);
    assertEquals(bad.code, 2);
    match(bad.stderr, /unknown command/);
    const missing = await runShardgateCli(["check"]);
    assertEquals(missing.code, 2);
    match(missing.stderr, /--config FILE is required/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("cli: a mistyped flag or command gets a did-you-mean", async () => {
  const flag = await runShardgateCli(["check", "--confg", "x.yaml"]);
  assertEquals(flag.code, 2);
  match(flag.stderr, /^shardgate: Unknown option '--confg' \(did you mean '--config'\?\)/);
  const level = await runShardgateCli(["--log-levl", "debug", "--config", "x.yaml"]);
  match(level.stderr, /did you mean '--log-level'\?/);
  const cmd = await runShardgateCli(["chek", "--config", "x.yaml"]);
  assertEquals(cmd.code, 2);
  match(cmd.stderr, /^shardgate: unknown command 'chek' \(did you mean 'check'\?\)/);
  const far = await runShardgateCli(["--zzzzzz"]);
  assert(!far.stderr.includes("did you mean"), far.stderr);
});

Deno.test("cli: the checkout's entry points reach every subcommand (npm start, npm run shardgate, bin)", async () => {
  const file = await tempConfig(
    "shards:\n  a:\n    readers: 127.0.0.1:6401\n    nodes: [127.0.0.1:6379]\n",
  );
  try {
    const run = async (cmd: string, args: string[]) => {
      const out = await new Deno.Command(cmd, {
        args,
        cwd: REPO_ROOT,
        stdin: "null",
        env: { NO_COLOR: "1" },
      }).output();
      return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
    };
    for (
      const [cmd, args] of [
        ["npm", ["start", "--silent", "--", "check", "--config", file]],
        ["npm", ["run", "--silent", "shardgate", "--", "check", "--config", file]],
        ["node", ["scripts/shardgate.mjs", "check", "--config", file]],
      ] as const
    ) {
      const r = await run(cmd, [...args]);
      assertEquals(r.code, 0, `${cmd} ${args.join(" ")}`);
      match(r.stdout, /ok \(1 shard\)/);
    }
  } finally {
    await Deno.remove(file);
  }
});
