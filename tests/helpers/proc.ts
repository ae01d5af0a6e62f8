/**
 * Facts about processes and sockets read from /proc, for tests that need
 * to see inside shardgate from outside: its memory, and bytes sitting in a
 * socket's receive queue (to know a command reached a paused node).
 *
 * @module
 */

/** Resident set size of process `pid`, in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Bytes waiting unread in the receive queues of established sockets bound to `port` (/proc/net/tcp). */
export function unreadBytes(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  let total = 0;
  for (const line of Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !f[1].endsWith(`:${hexPort}`) || f[3] !== "01") continue;
    total += parseInt(f[4].split(":")[1], 16);
  }
  return total;
}
