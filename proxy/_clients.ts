/**
 * Client introspection as a client sees it through shardgate: `CLIENT
 * LIST` and `CLIENT INFO` speak of client sessions (their name, user,
 * database, protocol and the client's own address), not of the shared node
 * connections that carry them; other hosts' connections appear as the node
 * lists them. `CLIENT KILL ID|ADDR|USER` ends matching sessions.
 *
 * @module
 */

import { encodeBulk } from "../resp/mod.ts";

const te = new TextEncoder();

/** What introspection shows of one client session. */
export interface ClientView {
  /** The session's id (HELLO and CLIENT LIST report it). */
  readonly id: number;
  /** The client's address, `ip:port`. */
  readonly peer: string;
  /** The listener's address, `ip:port`. */
  readonly local: string;
  /** Client name, or null. */
  readonly name: string | null;
  /** Selected database. */
  readonly db: number;
  /** RESP version. */
  readonly proto: 2 | 3;
  /** The ACL user it runs as (`default` unless it logged in as another). */
  readonly userName: string;
  /** CLIENT SETINFO lib-name / lib-ver, or null. */
  readonly libName: string | null;
  readonly libVer: string | null;
  /** When the session started and last sent something (data-path ms). */
  readonly createdAt: number;
  readonly lastActive: number;
  /** Ends the session (CLIENT KILL). */
  close(): void;
}

/** One `CLIENT LIST` line for `c`, in Redis's field order, at `now`. */
export function clientLine(c: ClientView, now: number): string {
  const age = Math.max(0, Math.floor((now - c.createdAt) / 1000));
  const idle = Math.max(0, Math.floor((now - c.lastActive) / 1000));
  return `id=${c.id} addr=${c.peer} laddr=${c.local} fd=-1 name=${c.name ?? ""} age=${age} ` +
    `idle=${idle} flags=N db=${c.db} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 ` +
    `argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=NULL ` +
    `user=${c.userName} redir=-1 resp=${c.proto} lib-name=${c.libName ?? ""} lib-ver=${
      c.libVer ?? ""
    }`;
}

/**
 * The node's `CLIENT LIST` text without the lines of shardgate's own
 * connections to it (local ports `own`), and a line per session instead.
 */
export function rewriteClientList(
  text: string,
  own: ReadonlySet<number>,
  sessions: Iterable<ClientView>,
  now: number,
): string {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = / addr=[^ ]*:(\d+) /.exec(line);
    if (m !== null && own.has(Number(m[1]))) continue;
    out.push(line);
  }
  for (const s of sessions) out.push(clientLine(s, now));
  return out.join("\n") + "\n";
}

/** A text reply as the node would send it: bulk (RESP2) or verbatim `txt` (RESP3). */
export function textReply(proto: 2 | 3, text: string): Uint8Array {
  if (proto === 2) return encodeBulk(text);
  const body = te.encode(`txt:${text}`);
  const head = te.encode(`=${body.length}\r\n`);
  const out = new Uint8Array(head.length + body.length + 2);
  out.set(head);
  out.set(body, head.length);
  out.set([13, 10], head.length + body.length);
  return out;
}

/** The text of a bulk or verbatim reply frame, or null for anything else. */
export function replyText(buf: Uint8Array, start: number, end: number): string | null {
  const type = buf[start];
  if (type !== 36 && type !== 61) return null; // '$' or '='
  let p = start + 1;
  while (p < end && buf[p] !== 13) p++;
  const body = new TextDecoder().decode(buf.subarray(p + 2, end - 2));
  return type === 61 ? body.slice(4) : body;
}

/** Which sessions `CLIENT KILL <filters>` names (ID, ADDR, USER; old style `ip:port`), or null when it names none we understand. */
export function killFilter(args: readonly string[]): ((c: ClientView) => boolean) | null {
  if (args.length === 1) {
    const addr = args[0];
    return (c) => c.peer === addr;
  }
  if (args.length % 2 !== 0) return null;
  const tests: ((c: ClientView) => boolean)[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i].toUpperCase(), value = args[i + 1];
    if (key === "ID") tests.push((c) => String(c.id) === value);
    else if (key === "ADDR") tests.push((c) => c.peer === value);
    else if (key === "LADDR") tests.push((c) => c.local === value);
    else if (key === "USER") tests.push((c) => c.userName === value);
    else if (key === "SKIPME") continue;
    else return null;
  }
  return (c) => tests.every((t) => t(c));
}
