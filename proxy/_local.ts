/**
 * Connection state a session keeps itself, and the replies shardgate gives
 * for it the way Redis would: HELLO, CLIENT SETNAME / GETNAME / SETINFO,
 * RESET. Pure functions over decoded arguments; the session core applies
 * the results.
 *
 * @module
 */

import { encodeBulk, encodeInteger } from "../resp/mod.ts";
import { errorReply, ErrorText } from "./errors.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** What HELLO reports about the server behind a port. */
export interface ServerIdentity {
  /** `redis` or `valkey`. */
  readonly server: string;
  /** The server's version, e.g. `7.0.15`. */
  readonly version: string;
  /** `standalone` for the nodes shardgate fronts. */
  readonly mode: string;
}

/** A parsed HELLO: what to apply, or the error reply to send instead. */
export type HelloRequest =
  | {
    readonly ok: true;
    /** Requested protocol, or null to keep the current one. */
    readonly proto: 2 | 3 | null;
    /** AUTH password given with it, or null. */
    readonly password: string | null;
    /** AUTH user name given with it, or null. */
    readonly user: string | null;
    /** SETNAME given with it, or null. */
    readonly name: string | null;
    /** The HELLO without its AUTH option (what a pinned connection's node gets). */
    readonly forward: readonly Uint8Array[];
  }
  | { readonly ok: false; readonly reply: Uint8Array };

/** True when `s` is a valid client name or library attribute: bytes `!`..`~` only. */
export function validAttribute(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b < 33 || b > 126) return false;
  return true;
}

function upper(bytes: Uint8Array): string {
  return td.decode(bytes).toUpperCase();
}

/** Parses `HELLO [protover [AUTH user pass] [SETNAME name]]` as Redis does. */
export function parseHello(args: readonly Uint8Array[]): HelloRequest {
  let proto: 2 | 3 | null = null;
  let user: string | null = null;
  let password: string | null = null;
  let name: string | null = null;
  const forward: Uint8Array[] = args.slice(0, Math.min(2, args.length));
  if (args.length >= 2) {
    const text = td.decode(args[1]);
    const ver = /^-?[0-9]+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(ver)) {
      return { ok: false, reply: errorReply(ErrorText.helloVersion) };
    }
    if (ver !== 2 && ver !== 3) return { ok: false, reply: errorReply(ErrorText.noProto) };
    proto = ver;
  }
  for (let j = 2; j < args.length; j++) {
    const more = args.length - 1 - j;
    const opt = upper(args[j]);
    if (opt === "AUTH" && more >= 2) {
      user = td.decode(args[j + 1]);
      password = td.decode(args[j + 2]);
      j += 2;
    } else if (opt === "SETNAME" && more >= 1) {
      if (!validAttribute(args[j + 1])) {
        return { ok: false, reply: errorReply(ErrorText.badClientName) };
      }
      name = td.decode(args[j + 1]);
      forward.push(args[j], args[j + 1]);
      j++;
    } else {
      return { ok: false, reply: errorReply(ErrorText.helloSyntax(td.decode(args[j]))) };
    }
  }
  return { ok: true, proto, password, user, name: name === "" ? null : name, forward };
}

/** Concatenates frames. */
function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The HELLO reply a node gives (`server`, `version`, `proto`, `id`, `mode`,
 * `role`, `modules`): a map in RESP3, a flat array in RESP2.
 */
export function helloReply(
  proto: 2 | 3,
  id: number,
  server: ServerIdentity,
  role: "master" | "replica",
): Uint8Array {
  const fields: Uint8Array[] = [
    encodeBulk("server"),
    encodeBulk(server.server),
    encodeBulk("version"),
    encodeBulk(server.version),
    encodeBulk("proto"),
    encodeInteger(proto),
    encodeBulk("id"),
    encodeInteger(id),
    encodeBulk("mode"),
    encodeBulk(server.mode),
    encodeBulk("role"),
    encodeBulk(role),
    encodeBulk("modules"),
    te.encode("*0\r\n"),
  ];
  const head = proto === 3 ? `%${fields.length / 2}\r\n` : `*${fields.length}\r\n`;
  return concat([te.encode(head), ...fields]);
}

/** A bulk string reply, or the null of `proto` (`$-1` in RESP2, `_` in RESP3). */
export function bulkOrNull(proto: 2 | 3, value: string | null): Uint8Array {
  if (value !== null) return encodeBulk(value);
  return proto === 3 ? NULL3 : NULL2;
}

const NULL2 = te.encode("$-1\r\n");
const NULL3 = te.encode("_\r\n");

/** The outcome of CLIENT SETINFO: the attribute to store, or the error reply. */
export type SetInfoResult =
  | { readonly ok: true; readonly attr: "lib-name" | "lib-ver"; readonly value: string }
  | { readonly ok: false; readonly reply: Uint8Array };

/**
 * True when a server of `version` (`7.0.15`) knows CLIENT SETINFO (Redis
 * and Valkey 7.2 and later); an unknown version is taken as new enough.
 */
export function knowsSetInfo(version: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (m === null) return true;
  const major = Number(m[1]), minor = Number(m[2]);
  return major > 7 || (major === 7 && minor >= 2);
}

/** `CLIENT SETINFO <attr> <value>` as Redis 7.2 checks it. */
export function parseSetInfo(attr: Uint8Array, value: Uint8Array): SetInfoResult {
  const name = td.decode(attr);
  const lower = name.toLowerCase();
  if (lower !== "lib-name" && lower !== "lib-ver") {
    return { ok: false, reply: errorReply(ErrorText.unknownClientAttr(name)) };
  }
  if (!validAttribute(value)) {
    return { ok: false, reply: errorReply(ErrorText.badClientAttr(name)) };
  }
  return { ok: true, attr: lower, value: td.decode(value) };
}
