/**
 * The connection state a client sets and the session keeps: its password
 * check (the auth gate), protocol (HELLO), database (SELECT), user (its own
 * AUTH, which the node checks), name and library (CLIENT SETNAME/SETINFO),
 * RESET, and what CLIENT INFO / LIST / KILL show of it.
 *
 * @module
 */

import { commandNameOf, encodeInteger, Route, slabCopy } from "../../resp/mod.ts";
import {
  bulkOrNull,
  helloReply,
  type HelloRequest,
  knowsSetInfo,
  parseHello,
  parseSetInfo,
  validAttribute,
} from "../_local.ts";
import { Credential } from "../_credential.ts";
import { clientLine, killFilter, textReply } from "../_clients.ts";
import type { PortContext } from "../_runtime.ts";
import { type Slot, SLOT_CLIENT_LIST, SLOT_LOGIN } from "../_runtime.ts";
import { errorReply, ErrorText, Replies } from "../errors.ts";
import type { SessionCore, Target } from "./core.ts";
import { local, newSlot } from "./fifo.ts";
import { quietFifo, startClosing, waitFor } from "./flow.ts";
import { forward, linkFor, sendOn } from "./send.ts";

const td = new TextDecoder();

/**
 * The auth gate: true when `route` may run now (the listener's password
 * was given, or there is none, or the command is one that gives it).
 */
export function mayRun(s: SessionCore, route: Route): boolean {
  return s.authed || route === Route.AUTH || route === Route.QUIT || route === Route.HELLO ||
    route === Route.RESET;
}

/** The command's name as the client wrote it (for errors that quote it). */
export function commandName(s: SessionCore, buf: Uint8Array): string {
  const p = s.parser;
  return p.inline
    ? td.decode(p.inlineArgs(buf, p.start, p.end)[0])
    : td.decode(buf.subarray(p.argStart[0], p.argEnd[0]));
}

/** The parsed command's arguments, name included (allocates; not for the hot path). */
export function args(s: SessionCore, buf: Uint8Array, start: number, end: number): Uint8Array[] {
  const p = s.parser;
  return p.inline ? p.inlineArgs(buf, start, end) : p.args(buf);
}

/** AUTH against the listener's password (`auth.client_password`). */
export function auth(s: SessionCore, buf: Uint8Array, start: number, end: number): Uint8Array {
  const want = s.rt.settings.clientPassword;
  if (s.parser.argc < 2 || s.parser.argc > 3) return Replies.authArity;
  if (want === null) return Replies.authNotConfigured;
  const a = args(s, buf, start, end);
  if (td.decode(a[a.length - 1]) !== want) return Replies.wrongPass; // AUTH [user] password
  s.authed = true;
  return Replies.ok;
}

/** Whether `password` is not the listener's (false when it has none). */
export function wrongPassword(s: SessionCore, password: string): boolean {
  const want = s.rt.settings.clientPassword;
  return want !== null && password !== want;
}

/**
 * HELLO: the session takes the protocol and name (the node connections
 * it uses follow), AUTH is checked against the listener's password, and
 * the reply is a node's HELLO reply with the session's own id.
 */
export function hello(s: SessionCore, buf: Uint8Array, start: number, end: number): Uint8Array {
  const req = parseHello(args(s, buf, start, end));
  if (!req.ok) return req.reply;
  if (req.password !== null) {
    if (wrongPassword(s, req.password)) return Replies.wrongPass;
    s.authed = true;
  }
  if (!s.authed) return errorReply(ErrorText.helloNoAuth);
  if (req.proto !== null && req.proto !== s.proto) {
    s.proto = req.proto;
    s.batch.use = null; // the rest of this batch goes to connections of the new protocol
  }
  if (req.name !== null) s.name = req.name;
  return helloReplyOf(s, s.rt);
}

/** HELLO's reply: the nodes' fields of shard `rt`, the session's protocol and id. */
function helloReplyOf(s: SessionCore, rt: PortContext): Uint8Array {
  const role = s.role !== "readers" || !rt.hasReplicas() ? "master" : "replica";
  return helloReply(s.proto, s.id, rt.server(), role);
}

/**
 * A client's own AUTH (or HELLO with AUTH) without a listener password:
 * the node decides. The credentials set up a connection of the user's
 * pool, on which the AUTH itself is sent; its reply (or the node's
 * refusal, e.g. `-WRONGPASS`) is the client's, and nothing more is read
 * until then: what follows goes to that user's connections. False when
 * the command waits for earlier replies first.
 */
export function login(
  s: SessionCore,
  to: Target,
  buf: Uint8Array,
  start: number,
  end: number,
  hello: HelloRequest & { ok: true } | null,
): boolean {
  if (!quietFifo(s)) return false;
  const a = args(s, buf, start, end);
  let user: string, password: string;
  if (hello !== null) {
    user = hello.user ?? "default";
    password = hello.password!;
  } else if (a.length === 2 || a.length === 3) {
    user = a.length === 3 ? td.decode(a[1]) : "default";
    password = td.decode(a[a.length - 1]);
  } else {
    local(s, Replies.authArity);
    return true;
  }
  const cred = Credential.of(user, password);
  const rt = to.rt;
  const node = to.writer ? rt.writer() : rt.pickReader("");
  if (node === null) {
    local(s, errorReply(rt.noNodeError(to.writer ? "writer" : "readers")));
    return true;
  }
  const slot = newSlot(s, Route.WRITE);
  slot.flags = SLOT_LOGIN;
  slot.rt = rt;
  s.pendingLogin = { cred, hello, shards: to.rt === s.rt && isShardAuth(s.rt, user, password) };
  s.fifo.push(slot);
  sendOn(linkFor(s, node, s.db, cred), slot, cred.frame, 0, cred.frame.length, s.now);
  if (!slot.done) waitFor(s, "login");
  return true;
}

/** Whether `user` and `password` are the shard's own `auth` (`default` when it names no user). */
function isShardAuth(rt: PortContext, user: string, password: string): boolean {
  const a = rt.settings.auth;
  return a !== null && (a.username ?? "default") === user && a.password === password;
}

/** The node took (or refused) a login: the session's user, and the client's reply. */
export function loggedIn(
  s: SessionCore,
  slot: Slot,
  ok: boolean,
  buf: Uint8Array,
  start: number,
  end: number,
): Uint8Array {
  const login = s.pendingLogin!;
  s.pendingLogin = null;
  if (!ok) return slabCopy(buf, start, end);
  // The shard's own credentials: the session runs on the shard's connections, as one that sent no
  // AUTH does (the same rights; and the near cache answers it, which it never does a user's own).
  s.user = login.shards ? null : login.cred;
  s.authed = true;
  s.batch.use = null;
  const h = login.hello;
  if (h === null) return slabCopy(buf, start, end);
  if (h.proto !== null) s.proto = h.proto;
  if (h.name !== null) s.name = h.name;
  return helloReplyOf(s, slot.rt!);
}

/**
 * CLIENT LIST / INFO / KILL as a client sees them through shardgate
 * (`_clients.ts`): true when handled here.
 */
export function introspection(
  s: SessionCore,
  to: Target,
  buf: Uint8Array,
  start: number,
  end: number,
): boolean {
  const name = commandNameOf(s.parser, buf);
  if (name === "client|info") {
    local(s, textReply(s.proto, clientLine(s, s.rt.now()) + "\n"));
    return true;
  }
  if (name === "client|list") {
    if (args(s, buf, start, end).length > 2) return false; // TYPE / ID filters: the node's own answer
    forward(s, to, Route.WRITE, SLOT_CLIENT_LIST, buf, start, end);
    return true;
  }
  if (name === "client|kill") {
    const a = args(s, buf, start, end).slice(2).map((x) => td.decode(x));
    const matches = killFilter(a);
    if (matches === null) return false;
    const victims = [...s.rt.clientSessions()].filter(matches);
    if (victims.length === 0) return false; // another host's connection: the node's business
    for (const v of victims) if (v !== s) v.close();
    local(s, a.length === 1 ? Replies.ok : encodeInteger(victims.length));
    if (victims.includes(s)) startClosing(s);
    return true;
  }
  return false;
}

/** RESET: back to a new connection's state. */
export function reset(s: SessionCore): void {
  s.user = null;
  s.proto = 2;
  s.db = 0;
  s.name = s.libName = s.libVer = null;
  s.authed = s.rt.settings.clientPassword === null;
  s.batch.use = null;
}

/** CLIENT SETNAME / GETNAME / SETINFO, kept by the session. */
export function clientState(
  s: SessionCore,
  route: Route,
  buf: Uint8Array,
  start: number,
  end: number,
): Uint8Array {
  if (route === Route.CLIENT_GETNAME) return bulkOrNull(s.proto, s.name);
  const a = args(s, buf, start, end);
  if (route === Route.CLIENT_SETNAME) {
    if (!validAttribute(a[2])) return errorReply(ErrorText.badClientName);
    s.name = a[2].length === 0 ? null : td.decode(a[2]);
    return Replies.ok;
  }
  if (!knowsSetInfo(s.rt.server().version)) {
    // The node would not know it: its own error, as a client sees directly.
    return errorReply(ErrorText.unknownSubcommand(td.decode(a[1]), "CLIENT"));
  }
  const info = parseSetInfo(a[2], a[3]);
  if (!info.ok) return info.reply;
  if (info.attr === "lib-name") s.libName = info.value;
  else s.libVer = info.value;
  return Replies.ok;
}

/**
 * SELECT n: sent to a connection of database n (whose setup selects it),
 * and nothing more is read until its reply says whether the session moves
 * there: the node decides which indexes exist. An index that is not a
 * plain number goes to the session's own database's connection, whose node
 * refuses it in its own words and stays where it is.
 */
export function select(
  s: SessionCore,
  to: Target,
  buf: Uint8Array,
  start: number,
  end: number,
): void {
  const db = dbIndex(args(s, buf, start, end)[1]);
  if (db === s.db) return local(s, Replies.ok);
  s.batch.use = null;
  if (db === null) return void forward(s, to, Route.WRITE, 0, buf, start, end);
  const slot = forward(s, to, Route.SELECT, 0, buf, start, end, db);
  s.batch.use = null;
  if (!slot.done) waitFor(s, "select");
}

/** A database index written as Redis writes numbers (no sign, no leading zero), or null. */
export function dbIndex(arg: Uint8Array): number | null {
  const text = td.decode(arg);
  if (!/^(0|[1-9][0-9]{0,9})$/.test(text)) return null;
  const n = Number(text);
  return n <= 0x7fffffff ? n : null;
}
