/**
 * systemd's notify protocol through `systemd-notify` (Type=notify,
 * NotifyAccess=all in deploy/shardgate.service): `READY=1` when the first
 * process serves, `MAINPID=<new pid>` when an upgrade hands over, so systemd
 * follows the new process and does not stop the service when the old one
 * exits. Nothing happens without `NOTIFY_SOCKET` (not under systemd).
 *
 * @module
 */

/** Sends `assignments` (`READY=1`, `MAINPID=42`) to systemd; returns why not, or null. */
export async function sdNotify(assignments: readonly string[]): Promise<string | null> {
  if (!Deno.env.get("NOTIFY_SOCKET")) return null;
  try {
    const out = await new Deno.Command("systemd-notify", {
      args: [...assignments],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.success) return null;
    return `systemd-notify ${assignments.join(" ")} failed: ${
      new TextDecoder().decode(out.stderr).trim()
    }`;
  } catch (err) {
    return `systemd-notify ${assignments.join(" ")}: ${err}`;
  }
}
