/**
 * Command routing: how the proxy treats each command, derived from the
 * generated Redis command table (`readonly` and `blocking` flags) plus the
 * short policy lists below (DESIGN.md §2). Nothing here is a hand-typed
 * list of all commands.
 *
 * Policy, in the order it is applied:
 *
 * - Connection state the proxy keeps per session and answers itself:
 *   HELLO, SELECT, RESET, QUIT, AUTH, CLIENT SETNAME / GETNAME / SETINFO.
 *   A SELECT or CLIENT subcommand with the wrong number of arguments is
 *   WRITE (the node answers the arity error; nothing changes).
 * - PIN (needs a server connection of its own): MULTI, WATCH, the
 *   (P|S)SUBSCRIBE family and its UN- variants, MONITOR, WAIT, WAITAOF,
 *   READONLY, READWRITE, ASKING, CLIENT TRACKING / REPLY / CACHING /
 *   NO-EVICT / NO-TOUCH / ID, and every command with the `blocking` flag,
 *   except XREAD / XREADGROUP, which pin only when a BLOCK option is present
 *   (otherwise XREAD is READ and XREADGROUP is WRITE).
 * - Replication: SYNC and PSYNC turn the connection into a replication
 *   stream (SYNC: a raw relay on the writer port); REPLCONF prepares one
 *   (REPLCONF); SHUTDOWN is REFUSE (behind a balanced port it would stop
 *   whichever node the balancer picked; stop nodes directly).
 * - Per-node state a client can observe: SCAN / HSCAN / SSCAN / ZSCAN are
 *   SCAN (a cursor is bound to the node that made it); SCRIPT LOAD / FLUSH
 *   are BROADCAST (every node); FUNCTION LOAD / DELETE / FLUSH / RESTORE are
 *   PRIMARY (the primary, which replicates them); EVALSHA is SCRIPT_WRITE
 *   and EVALSHA_RO / FCALL_RO are SCRIPT_READ (NOSCRIPT from a replica is
 *   retried on the primary).
 * - EXEC, DISCARD and UNWATCH are plain WRITE: inside a pinned session they
 *   go to the session's connection anyway; outside one Redis answers them
 *   itself ("ERR EXEC without MULTI", or +OK) without changing any state.
 * - READ: the `readonly` flag (and not blocking), plus PING and ECHO.
 * - WRITE: everything else, unknown commands included (Redis answers those).
 *
 * For a command with subcommands (CLIENT, OBJECT, XINFO…) the subcommand's
 * own flags decide; an unknown subcommand gets the container's route.
 *
 * @module
 */

import { COMMAND_TABLE, type CommandRow } from "./command_table.ts";
import { encodeCommand } from "./encoder.ts";
import { argEquals, RequestParser } from "./request.ts";

/** How the proxy treats a command. */
export const Route = {
  /** Stateless and read-only: multiplexed, safe to retry on another node. */
  READ: 1,
  /** Stateless, not read-only (or unknown command): multiplexed, NEVER replayed. */
  WRITE: 2,
  /** Needs a server connection of its own: the session pins one until the reason ends. */
  PIN: 3,
  /** Answer +OK locally and close. */
  QUIT: 4,
  /** Handled locally by the proxy (client password). */
  AUTH: 5,
  /** SELECT n: the session moves to database n's node connections. */
  SELECT: 6,
  /** Never forwarded: SHUTDOWN. */
  REFUSE: 7,
  /** HELLO: protocol, name and AUTH kept by the session, answered locally. */
  HELLO: 8,
  /** RESET: the session's state back to a new connection's, answered locally. */
  RESET: 9,
  /** CLIENT SETNAME: kept by the session. */
  CLIENT_SETNAME: 10,
  /** CLIENT GETNAME: answered from the session. */
  CLIENT_GETNAME: 11,
  /** CLIENT SETINFO: kept by the session (answered as Redis 7.2 does). */
  CLIENT_SETINFO: 12,
  /** SCAN, HSCAN, SSCAN, ZSCAN: read-only, but a cursor continues on the node that made it. */
  SCAN: 13,
  /** SCRIPT LOAD / FLUSH: sent to every node of the shard. */
  BROADCAST: 14,
  /** FUNCTION LOAD / DELETE / FLUSH / RESTORE: to the primary, whatever the port. */
  PRIMARY: 15,
  /** EVALSHA_RO, FCALL_RO: read-only; a NOSCRIPT reply is retried on the primary. */
  SCRIPT_READ: 16,
  /** EVALSHA: a write; a NOSCRIPT reply (nothing ran) is retried on the primary. */
  SCRIPT_WRITE: 17,
  /** SYNC, PSYNC: a raw replication stream from the primary. */
  SYNC: 18,
  /** REPLCONF: the handshake before a PSYNC, on a pinned connection. */
  REPLCONF: 19,
} as const;
/** One of the {@link Route} values. */
export type Route = typeof Route[keyof typeof Route];

/** Command metadata from the generated table (Redis `COMMAND`). */
export interface CommandInfo {
  /** Lowercase name; subcommands are `container|sub`, e.g. `client|setname`. */
  readonly name: string;
  /** Redis arity: exact argument count including the name, or -N for "at least N". */
  readonly arity: number;
  /** Redis command flags, lowercase (`readonly`, `write`, `blocking`, `fast`…). */
  readonly flags: readonly string[];
  /** Position of the first key argument (0 = none). */
  readonly firstKey: number;
  /** Position of the last key argument (negative counts from the end). */
  readonly lastKey: number;
  /** Step between key arguments. */
  readonly step: number;
  /** Subcommands of a container command (CLIENT, CONFIG, OBJECT…). */
  readonly subcommands?: readonly CommandInfo[];
}

// ---- policy (see the module comment) ----

/** Commands (or `container|sub` subcommands) that pin the client to its own connection. */
const PINNED_COMMANDS: readonly string[] = [
  "multi",
  "watch",
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
  "monitor",
  "wait",
  "waitaof",
  "readonly",
  "readwrite",
  "asking",
  "client|tracking",
  "client|reply",
  "client|caching",
  "client|no-evict",
  "client|no-touch",
  "client|id",
];
/** Not flagged `readonly` but stateless and safe to replay. */
const ALWAYS_READ_COMMANDS: readonly string[] = ["ping", "echo"];
/** Commands with a route of their own (see {@link Route}). */
const POLICY_ROUTES: Readonly<Record<string, Route>> = {
  quit: Route.QUIT,
  auth: Route.AUTH,
  hello: Route.HELLO,
  reset: Route.RESET,
  "client|setname": Route.CLIENT_SETNAME,
  "client|getname": Route.CLIENT_GETNAME,
  "client|setinfo": Route.CLIENT_SETINFO,
  shutdown: Route.REFUSE,
  sync: Route.SYNC,
  psync: Route.SYNC,
  replconf: Route.REPLCONF,
  scan: Route.SCAN,
  hscan: Route.SCAN,
  sscan: Route.SCAN,
  zscan: Route.SCAN,
  "script|load": Route.BROADCAST,
  "script|flush": Route.BROADCAST,
  "function|load": Route.PRIMARY,
  "function|delete": Route.PRIMARY,
  "function|flush": Route.PRIMARY,
  "function|restore": Route.PRIMARY,
  evalsha: Route.SCRIPT_WRITE,
  evalsha_ro: Route.SCRIPT_READ,
  fcall_ro: Route.SCRIPT_READ,
};
/** Routes of the proxy's own that still need a fixed argument count (else WRITE: Redis answers). */
const POLICY_ARITY: Readonly<Record<string, number>> = {
  "client|setname": 3,
  "client|getname": 2,
  "client|setinfo": 4,
};

/** Commands whose route depends on their arguments. */
const SPECIAL_NONE = 0;
const SPECIAL_SELECT = 1;
const SPECIAL_XREAD = 2;
const SPECIAL_XREADGROUP = 3;
const SPECIAL_COMMANDS: Readonly<Record<string, number>> = {
  select: SPECIAL_SELECT,
  xread: SPECIAL_XREAD,
  xreadgroup: SPECIAL_XREADGROUP,
};

/** The route of a command from its name and flags, before argument-dependent rules. */
function baseRoute(name: string, flags: readonly string[]): Route {
  const own = POLICY_ROUTES[name];
  if (own !== undefined) return own;
  if (PINNED_COMMANDS.includes(name) || flags.includes("blocking")) return Route.PIN;
  if (ALWAYS_READ_COMMANDS.includes(name) || flags.includes("readonly")) return Route.READ;
  return Route.WRITE;
}

// ---- byte-level index ----

/** A routing entry: the (sub)command name as lowercase bytes and its precomputed route. */
interface Entry {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly route: Route;
  readonly special: number;
  /** Exact argument count the route needs (0: any); otherwise the command is WRITE. */
  readonly arity: number;
  readonly subs: Entry[];
}

const ascii = new TextEncoder();

function lower(b: number): number {
  return b >= 65 && b <= 90 ? b | 0x20 : b;
}

function bucketKey(length: number, firstLower: number): number {
  return length * 256 + firstLower;
}

/** Top-level commands bucketed by name length and first (lowercased) byte. */
const buckets = new Map<number, Entry[]>();

function makeEntry(name: string, flags: readonly string[]): Entry {
  const bar = name.indexOf("|");
  return {
    name,
    bytes: ascii.encode(bar < 0 ? name : name.slice(bar + 1)),
    route: baseRoute(name, flags),
    special: SPECIAL_COMMANDS[name] ?? SPECIAL_NONE,
    arity: POLICY_ARITY[name] ?? 0,
    subs: [],
  };
}

function addTop(entry: Entry): void {
  const key = bucketKey(entry.bytes.length, entry.bytes[0]);
  const list = buckets.get(key);
  if (list === undefined) buckets.set(key, [entry]);
  else list.push(entry);
}

function matches(entry: Entry, buf: Uint8Array, start: number, end: number): boolean {
  const bytes = entry.bytes;
  if (bytes.length !== end - start) return false;
  for (let i = 0; i < bytes.length; i++) {
    if (lower(buf[start + i]) !== bytes[i]) return false;
  }
  return true;
}

/** The last command found: traffic is mostly one command over and over. */
let lastTop: Entry | undefined;

function findTop(buf: Uint8Array, start: number, end: number): Entry | undefined {
  if (end <= start) return undefined;
  if (lastTop !== undefined && matches(lastTop, buf, start, end)) return lastTop;
  const found = findTopSlow(buf, start, end);
  if (found !== undefined) lastTop = found;
  return found;
}

function findTopSlow(buf: Uint8Array, start: number, end: number): Entry | undefined {
  const list = buckets.get(bucketKey(end - start, lower(buf[start])));
  if (list === undefined) return undefined;
  for (let i = 0; i < list.length; i++) {
    if (matches(list[i], buf, start, end)) return list[i];
  }
  return undefined;
}

function findSub(subs: Entry[], buf: Uint8Array, start: number, end: number): Entry | undefined {
  for (let i = 0; i < subs.length; i++) {
    if (matches(subs[i], buf, start, end)) return subs[i];
  }
  return undefined;
}

const topByName = new Map<string, Entry>();
for (const row of COMMAND_TABLE) {
  const entry = makeEntry(row[0], row[2]);
  for (const sub of row[6] ?? []) entry.subs.push(makeEntry(sub[0], sub[2]));
  topByName.set(entry.name, entry);
  addTop(entry);
}
// Policy names this Redis version does not know (e.g. WAITAOF, CLIENT NO-TOUCH
// before 7.2) still get their policy route when a newer server is behind us.
for (const name of [...PINNED_COMMANDS, ...Object.keys(POLICY_ROUTES)]) {
  const bar = name.indexOf("|");
  if (bar < 0) {
    if (!topByName.has(name)) {
      const entry = makeEntry(name, []);
      topByName.set(name, entry);
      addTop(entry);
    }
    continue;
  }
  const parent = topByName.get(name.slice(0, bar));
  if (parent !== undefined && !parent.subs.some((s) => s.name === name)) {
    parent.subs.push(makeEntry(name, []));
  }
}

// ---- routing ----

/** Reads the `$<len>\r\n` header at `p` of a validated frame; sets `argFrom` and returns the payload end. */
let argFrom = 0;
function nextArg(buf: Uint8Array, p: number): number {
  let q = p + 1;
  let len = 0;
  while (buf[q] !== 13) len = len * 10 + (buf[q++] - 48);
  argFrom = q + 2;
  return argFrom + len;
}

/**
 * Whether an XREAD / XREADGROUP frame has a BLOCK option. Walks the options
 * the way Redis parses them (COUNT n, BLOCK ms, GROUP g c, NOACK) up to
 * STREAMS, so a key or group named "block" is not mistaken for the option.
 */
function hasBlockOption(parser: RequestParser, buf: Uint8Array, group: boolean): boolean {
  const argc = parser.argc;
  let p = parser.start + 1;
  while (buf[p] !== 13) p++;
  p = nextArg(buf, p + 2) + 2; // skip the command name
  let skip = 0;
  for (let i = 1; i < argc; i++) {
    const end = nextArg(buf, p);
    const start = argFrom;
    p = end + 2;
    if (skip > 0) {
      skip--;
      continue;
    }
    if (argEquals(buf, start, end, "BLOCK")) return true;
    if (argEquals(buf, start, end, "STREAMS")) return false;
    if (argEquals(buf, start, end, "COUNT")) skip = 1;
    else if (group && argEquals(buf, start, end, "GROUP")) skip = 2;
  }
  return false;
}

/** Routes a multibulk command (argc ≥ 1). */
function routeMultibulk(parser: RequestParser, buf: Uint8Array): Route {
  const starts = parser.argStart;
  const ends = parser.argEnd;
  const entry = findTop(buf, starts[0], ends[0]);
  if (entry === undefined) return Route.WRITE;
  switch (entry.special) {
    case SPECIAL_SELECT:
      return parser.argc === 2 ? Route.SELECT : Route.WRITE;
    case SPECIAL_XREAD:
      return hasBlockOption(parser, buf, false) ? Route.PIN : Route.READ;
    case SPECIAL_XREADGROUP:
      return hasBlockOption(parser, buf, true) ? Route.PIN : Route.WRITE;
  }
  if (entry.subs.length > 0 && parser.argc >= 2) {
    const sub = findSub(entry.subs, buf, starts[1], ends[1]);
    if (sub !== undefined) {
      return sub.arity === 0 || sub.arity === parser.argc ? sub.route : Route.WRITE;
    }
  }
  return entry.route;
}

const inlineScratch = new RequestParser();

/** Re-frames an inline command as multibulk (allocates; inline is rare). */
function reframeInline(parser: RequestParser, buf: Uint8Array): Uint8Array {
  const frame = encodeCommand(parser.inlineArgs(buf, parser.start, parser.end));
  inlineScratch.reset();
  inlineScratch.parse(frame, 0, frame.length);
  return frame;
}

/**
 * Classifies the command the parser just parsed (reads parser.argc,
 * argStart/argEnd and start into `buf`). No allocation for multibulk
 * commands; inline ones are decoded first. An empty command (argc 0) is
 * WRITE; the proxy is expected to skip it before asking.
 */
export function routeOf(parser: RequestParser, buf: Uint8Array): Route {
  if (parser.argc === 0) return Route.WRITE;
  if (parser.inline) {
    const frame = reframeInline(parser, buf);
    return routeMultibulk(inlineScratch, frame);
  }
  return routeMultibulk(parser, buf);
}

/**
 * The canonical lowercase name of the parsed command (`get`, `client|setname`
 * for a known subcommand), interned from the table so no string is built;
 * undefined for an unknown or empty command. Meant for metrics and spans.
 */
export function commandNameOf(parser: RequestParser, buf: Uint8Array): string | undefined {
  if (parser.argc === 0) return undefined;
  let p: RequestParser = parser;
  let b = buf;
  if (parser.inline) {
    b = reframeInline(parser, buf);
    p = inlineScratch;
  }
  const entry = findTop(b, p.argStart[0], p.argEnd[0]);
  if (entry === undefined) return undefined;
  if (entry.subs.length > 0 && p.argc >= 2) {
    const sub = findSub(entry.subs, b, p.argStart[1], p.argEnd[1]);
    if (sub !== undefined) return sub.name;
  }
  return entry.name;
}

// ---- metadata lookup ----

let infoByName: Map<string, CommandInfo> | undefined;

function toInfo(row: CommandRow): CommandInfo {
  const info: CommandInfo = {
    name: row[0],
    arity: row[1],
    flags: row[2],
    firstKey: row[3],
    lastKey: row[4],
    step: row[5],
  };
  const subs = row[6];
  return subs === undefined ? info : { ...info, subcommands: subs.map(toInfo) };
}

/**
 * Command metadata from the generated table, case-insensitive; subcommands
 * as `container|sub` (e.g. `"CLIENT|SETNAME"`). Undefined when the table's
 * Redis version does not know the command.
 */
export function lookupCommand(name: string): CommandInfo | undefined {
  if (infoByName === undefined) {
    infoByName = new Map();
    for (const row of COMMAND_TABLE) {
      const info = toInfo(row);
      infoByName.set(info.name, info);
      for (const sub of info.subcommands ?? []) infoByName.set(sub.name, sub);
    }
  }
  return infoByName.get(name.toLowerCase());
}
