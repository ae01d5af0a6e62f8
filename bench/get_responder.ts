/**
 * The floor of a Deno server on this machine: a TCP server that answers
 * every command with the same 3-byte bulk string (`$3\r\nabc\r\n`, what the
 * hot-set cells' keys hold), with no lookup, no parsing beyond framing, no
 * node. The near cache's benchmark runs it as the `deno_floor` target: a
 * cache hit through shardgate cannot cost less than this socket read and
 * write per command.
 *
 * ```sh
 * deno run -A bench/get_responder.ts --port 7000
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";

const REPLY = new TextEncoder().encode("$3\r\nabc\r\n");

/** The end of the RESP array frame starting at `buf[start]`, or -1 while incomplete. */
function frameEnd(buf: Uint8Array, start: number, end: number): number {
  let p = start + 1, n = 0;
  while (p < end && buf[p] !== 13) n = n * 10 + buf[p++] - 48;
  p += 2;
  for (let i = 0; i < n; i++) {
    if (p >= end) return -1;
    let len = 0;
    p++;
    while (p < end && buf[p] !== 13) len = len * 10 + buf[p++] - 48;
    p += 2 + len + 2;
  }
  return p <= end ? p : -1;
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buf = new Uint8Array(1 << 16);
  let have = 0;
  try {
    for (;;) {
      const n = await conn.read(buf.subarray(have));
      if (n === null) break;
      have += n;
      let p = 0, replies = 0;
      for (let e = frameEnd(buf, p, have); e >= 0; e = frameEnd(buf, p, have)) {
        p = e;
        replies++;
      }
      buf.copyWithin(0, p, have);
      have -= p;
      if (replies === 1) await conn.write(REPLY);
      else if (replies > 1) {
        const out = new Uint8Array(REPLY.length * replies);
        for (let i = 0; i < replies; i++) out.set(REPLY, i * REPLY.length);
        await conn.write(out);
      }
    }
  } catch {
    // the client went away
  }
  conn.close();
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { port: { type: "string" } } });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(values.port) });
  console.log("ready");
  for await (const conn of listener) void serve(conn);
}
