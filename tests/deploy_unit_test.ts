/**
 * The systemd unit in deploy/: it tracks the main PID across an upgrade
 * (Type=notify + NotifyAccess=all: the old process sends MAINPID= through
 * `systemd-notify`), and `systemd-analyze verify` accepts it where systemd is
 * installed (with a stub executable under a scratch root, since the binary
 * is not installed here).
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { REPO_ROOT } from "./helpers/mod.ts";

const UNIT = `${REPO_ROOT}/deploy/shardgate.service`;

function settings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m === null) continue;
    out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

Deno.test("deploy unit: Type=notify with NotifyAccess=all, SIGHUP reload, the upgrade documented", async () => {
  const text = await Deno.readTextFile(UNIT);
  const s = settings(text);
  assertEquals(s.get("Type"), ["notify"]);
  assertEquals(s.get("NotifyAccess"), ["all"]);
  assertEquals(s.get("ExecReload"), ["/bin/kill -HUP $MAINPID"]);
  assert(s.get("ExecStart")![0].startsWith("/usr/local/bin/shardgate run "));
  assert(text.includes("systemctl kill --kill-who=main --signal=SIGUSR2 shardgate"));
  assert(s.get("RestrictAddressFamilies")![0].includes("AF_UNIX"), "notify and IPC use AF_UNIX");
});

Deno.test("deploy unit: systemd-analyze verify accepts it", async () => {
  let analyze: string | null = null;
  for (const p of ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]) {
    try {
      if ((await Deno.stat(p)).isFile) analyze = p;
    } catch {
      // not there
    }
  }
  let units = false;
  try {
    units = (await Deno.stat("/lib/systemd/system")).isDirectory;
  } catch {
    // no systemd units here
  }
  // .ci/run installs Debian's systemd for this (it needs no running systemd).
  assert(analyze !== null && units, "systemd-analyze and /lib/systemd/system are needed");
  const root = await Deno.makeTempDir({ prefix: "shardgate-unit-" });
  try {
    await Deno.mkdir(`${root}/usr/local/bin`, { recursive: true });
    await Deno.mkdir(`${root}/etc/systemd/system`, { recursive: true });
    await Deno.mkdir(`${root}/usr/lib/systemd`, { recursive: true });
    await Deno.mkdir(`${root}/bin`, { recursive: true });
    await Deno.writeTextFile(`${root}/usr/local/bin/shardgate`, "#!/bin/sh\nexit 0\n");
    await Deno.chmod(`${root}/usr/local/bin/shardgate`, 0o755);
    await Deno.copyFile("/bin/kill", `${root}/bin/kill`);
    await Deno.chmod(`${root}/bin/kill`, 0o755);
    await Deno.copyFile(UNIT, `${root}/etc/systemd/system/shardgate.service`);
    // The targets the unit refers to (network-online.target, multi-user.target…).
    const cp = await new Deno.Command("cp", {
      args: ["-r", "/lib/systemd/system", `${root}/usr/lib/systemd/`],
    }).output();
    assert(cp.success);
    const out = await new Deno.Command(analyze, {
      args: ["verify", "--man=no", `--root=${root}`, "shardgate.service"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, text);
    // verify exits 0 on some bad values; it prints them, so nothing must be printed.
    assertEquals(text.trim(), "", text);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
