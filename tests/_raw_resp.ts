/**
 * A minimal pipelining RESP client for tests that need binary-safe keys or
 * the raw reply frames (the `redis` npm client decodes keys as strings).
 * Sends every command in one write and reads until each has its reply.
 *
 * @module
 */

import { encodeCommand, INCOMPLETE, scanReply } from "../resp/mod.ts";
import { withTimeout } from "./helpers/mod.ts";

/** How long one pipeline may take. */
const PIPELINE_TIMEOUT_MS = 20_000;
const READ_CHUNK = 256 * 1024;

/** A command: its arguments as strings (UTF-8) or bytes, or an already encoded RESP frame. */
export type RawCommand = readonly (string | Uint8Array)[] | Uint8Array;

/** Sends `commands` to 127.0.0.1:`port` in one pipeline; returns each raw reply frame. */
export function pipeline(port: number, commands: readonly RawCommand[]): Promise<Uint8Array[]> {
  return withTimeout(run(port, commands), PIPELINE_TIMEOUT_MS, `pipeline to port ${port}`);
}

async function run(port: number, commands: readonly RawCommand[]): Promise<Uint8Array[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const frames = commands.map((c) => c instanceof Uint8Array ? c : encodeCommand(c));
    const total = frames.reduce((n, f) => n + f.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const f of frames) {
      out.set(f, at);
      at += f.length;
    }
    const writing = (async () => {
      for (let p = 0; p < out.length;) p += await conn.write(out.subarray(p));
    })();
    const replies: Uint8Array[] = [];
    let buf = new Uint8Array(READ_CHUNK);
    let start = 0;
    let end = 0;
    while (replies.length < commands.length) {
      let next = scanReply(buf, start, end);
      while (next !== INCOMPLETE) {
        replies.push(buf.slice(start, next));
        start = next;
        if (replies.length === commands.length) break;
        next = scanReply(buf, start, end);
      }
      if (replies.length === commands.length) break;
      if (start > 0) {
        buf.copyWithin(0, start, end);
        end -= start;
        start = 0;
      }
      if (end === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(end));
      if (n === null) throw new Error(`port ${port} closed after ${replies.length} replies`);
      end += n;
    }
    await writing;
    return replies;
  } finally {
    conn.close();
  }
}

const decoder = new TextDecoder();

/** The text of a reply frame, for assertions (`+OK`, `:3`, `$-1`, ...), without the final CRLF. */
export function frameText(frame: Uint8Array): string {
  return decoder.decode(frame.subarray(0, frame.length - 2));
}

/** The elements of an array reply of bulk strings (null elements as null), as bytes. */
export function bulkArray(frame: Uint8Array): (Uint8Array | null)[] {
  if (frame[0] !== 42) throw new Error(`not an array reply: ${frameText(frame)}`);
  let p = frame.indexOf(13);
  const count = Number(decoder.decode(frame.subarray(1, p)));
  p += 2;
  const out: (Uint8Array | null)[] = [];
  for (let i = 0; i < count; i++) {
    const cr = frame.indexOf(13, p);
    const header = decoder.decode(frame.subarray(p, cr));
    if (header === "$-1" || header === "_") {
      out.push(null);
      p = cr + 2;
      continue;
    }
    if (header[0] !== "$") throw new Error(`element ${i} is not a bulk string: ${header}`);
    const len = Number(header.slice(1));
    out.push(frame.slice(cr + 2, cr + 2 + len));
    p = cr + 2 + len + 2;
  }
  return out;
}

/** The value of an integer reply. */
export function integer(frame: Uint8Array): number {
  const text = frameText(frame);
  if (text[0] !== ":") throw new Error(`not an integer reply: ${text}`);
  return Number(text.slice(1));
}
