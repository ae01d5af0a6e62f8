/**
 * The pinned path: a session on a node connection of its own (a
 * transaction, WATCH, pub/sub, a blocking command, MONITOR, CLIENT REPLY,
 * a client's own AUTH, SYNC). Commands go to the node as they are and its
 * frames come back to the client as they are, counted by a
 * {@link PinTracker}; once nothing is owed and nothing holds the pin the
 * session goes back to the shared connections.
 *
 * @module
 */

import { CLIENT_OUTPUT_HIGH_WATER, NODE_OUTPUT_HIGH_WATER } from "../../config/defaults.ts";
import {
  commandNameOf,
  encodeCommand,
  INCOMPLETE,
  RequestParser,
  Route,
  routeOf,
} from "../../resp/mod.ts";
import { parseHello } from "../_local.ts";
import { INTERNAL, PIN_KINDS, PinKind, type PinOutcome, PinTracker } from "../_pin.ts";
import { KeyVerdict, type PinnedLink } from "../_runtime.ts";
import type { FailReason } from "../_runtime.ts";
import { errorReply, ErrorText, Replies } from "../errors.ts";
import type { SessionCore, Target } from "./core.ts";
import { SESSION_ROUTES } from "./decision.ts";
import {
  args,
  auth,
  clientState,
  commandName,
  dbIndex,
  mayRun,
  reset,
  wrongPassword,
} from "./conn_state.ts";
import { local } from "./fifo.ts";
import { enter, maybeFinish, maybeResume, quietFifo, startClosing, waitForNode } from "./flow.ts";
import { BROKEN, frame } from "./framing.ts";
import { MUX, type PinnedMode } from "./mode.ts";

const td = new TextDecoder();
const DISCARD = encodeCommand(["DISCARD"]);
const PING = encodeCommand(["PING"]);
/** Sent before WAIT/WAITAOF on a pinned primary connection (see pinnedCommand). */
const WAIT_MARK = encodeCommand(["PUBLISH", "__shardgate__:wait", ""]);

/**
 * Routes a pinned session answers itself (when its replies can be counted,
 * outside MULTI). Not CLIENT GETNAME: its own connection has the session's
 * name, and knows it after a SETNAME whose reply CLIENT REPLY SKIP dropped.
 */
const ANSWERED_HERE: ReadonlySet<Route> = new Set([
  Route.AUTH,
  Route.CLIENT_SETINFO,
  Route.REFUSE,
]);

/** How a router port's pinned command was handled ({@link routedPinned}). */
const CONTINUE = 0, CONSUMED = 1, WAIT = 2;

/**
 * Moves to the session's own connection to `to` for the command at hand:
 * at once when no reply is pending, else after the FIFO empties. Returns
 * whether the command was consumed (answered with an error: no node to pin to).
 */
export function toPinned(s: SessionCore, to: Target): boolean {
  s.parser.reset(); // the command is parsed again in the next mode
  if (!quietFifo(s)) return false;
  const rt = to.rt;
  const node = to.writer ? rt.writer() : rt.pickReader("");
  if (node === null) {
    local(s, errorReply(rt.noNodeError(to.writer ? "writer" : "readers")));
    s.decision.held = [];
    return true;
  }
  const tracker = new PinTracker(s.proto);
  const link = node.openPinned(s, { proto: s.proto, db: s.db, name: s.name, user: s.user });
  const pin: PinnedMode = {
    kind: "pinned",
    link,
    tracker,
    shard: rt,
    node: node.id,
    writer: to.writer,
    leavingSince: 0,
    waiting: false,
    written: [],
  };
  enter(s, pin);
  // A router port's transaction: what was held until its shard was known goes first.
  for (const frame of s.decision.held) sendHeld(s, pin, frame);
  s.decision.held = [];
  return false;
}

/** Feeds the pinned path; returns how far the input was consumed. */
export function feedPinned(s: SessionCore, buf: Uint8Array, start: number, end: number): number {
  const parser = s.parser;
  let pos = start;
  for (let m = s.mode; pos < end && m.kind === "pinned" && !m.waiting; m = s.mode) {
    const next = frame(s, buf, pos, end);
    if (next === BROKEN) return end;
    if (next === INCOMPLETE) break;
    if (parser.argc > 0 && !pinnedCommand(s, m, buf, pos, next)) break;
    pos = next;
  }
  watchNode(s);
  return pos;
}

/** Pauses the client while its pinned connection has too much unsent. */
export function watchNode(s: SessionCore): void {
  const link = pinnedLink(s);
  if (link !== null && link.writePending > NODE_OUTPUT_HIGH_WATER) waitForNode(s, link);
}

/**
 * True when nothing is owed on the pinned connection, so a reply of the
 * proxy's own can be written in order; otherwise stops reading until then.
 */
function quietOrWait(s: SessionCore, pin: PinnedMode): boolean {
  const t = pin.tracker;
  if (t.owed === 0 || t.uncounted) return true;
  s.parser.reset();
  pin.waiting = true;
  enter(s, pin);
  s.io.pause();
  return false;
}

/** One command of a pinned session; false when not consumed (waiting, or unpinned). */
function pinnedCommand(
  s: SessionCore,
  m: PinnedMode,
  buf: Uint8Array,
  start: number,
  end: number,
): boolean {
  const parser = s.parser;
  const route = routeOf(parser, buf);
  s.rec.tag(parser, buf);
  const pin = m.tracker;
  const conn = m.link;
  if (!mayRun(s, route)) {
    if (!quietOrWait(s, m)) return false;
    pinnedLocal(s, pin, Replies.noAuth);
    return true;
  }
  if (!SESSION_ROUTES.has(route)) {
    const handled = routedPinned(s, m, route, buf);
    if (handled !== CONTINUE) return handled === CONSUMED;
  }
  let frame: Uint8Array | null = null;
  let kind: PinKind = PinKind.OTHER;
  let arg: string | number | null = null;
  let name: string | null = null;
  let cmdArgs: readonly string[] = [];
  // Inside MULTI the node queues what the session would answer itself
  // (and refuses, in its own words, what it never runs in a transaction);
  // under MONITOR replies cannot be counted, so only the node can answer
  // in order; a RESP2 subscriber may send only what the node allows it;
  // under CLIENT REPLY OFF/SKIP the node decides what gets no reply.
  // Each way the command goes to the node as it is.
  const pinAnswers = pin.queuing || pin.uncounted || pin.restricted || pin.silencing;
  switch (pinAnswers && ANSWERED_HERE.has(route) ? Route.WRITE : route) {
    case Route.AUTH:
      if (s.rt.settings.clientPassword === null) {
        // The node checks it on this connection, which keeps that
        // identity: pinned until RESET (which logs it in again as ours).
        kind = PinKind.FOR_LIFE;
        break;
      }
      if (!quietOrWait(s, m)) return false;
      pinnedLocal(s, pin, auth(s, buf, start, end));
      return true;
    case Route.CLIENT_SETINFO:
      if (!quietOrWait(s, m)) return false;
      pinnedLocal(s, pin, clientState(s, route, buf, start, end));
      return true;
    case Route.REFUSE:
      if (!quietOrWait(s, m)) return false;
      pinnedLocal(s, pin, errorReply(ErrorText.refused(commandName(s, buf))));
      return true;
    case Route.SYNC:
    case Route.REPLCONF:
      if (s.role === "readers") {
        if (!quietOrWait(s, m)) return false;
        pinnedLocal(s, pin, errorReply(ErrorText.replicationOnReaders(commandName(s, buf))));
        return true;
      }
      if (route === Route.SYNC) {
        // The node's answer is a replication stream, not frames: relay bytes from here on.
        if (!quietOrWait(s, m)) return false;
        sendPinned(s, m, buf, start, end);
        conn.toRaw();
        enter(s, { kind: "raw", link: conn, node: m.node, shard: m.shard });
        return true;
      }
      kind = PinKind.FOR_LIFE;
      break;
    case Route.HELLO: {
      const req = parseHello(args(s, buf, start, end));
      const bad = !req.ok || (req.password !== null && wrongPassword(s, req.password));
      if (bad && pinAnswers) break; // the node refuses it in its own words, in its turn
      if (bad) {
        if (!quietOrWait(s, m)) return false;
        pinnedLocal(s, pin, req.ok ? Replies.wrongPass : req.reply);
        return true;
      }
      if (req.password !== null && s.rt.settings.clientPassword === null) {
        kind = PinKind.FOR_LIFE; // a client's own AUTH: as AUTH above, the node checks it
        break;
      }
      if (req.password !== null) s.authed = true;
      frame = encodeCommand(req.forward); // without the listener's AUTH
      kind = PinKind.HELLO;
      arg = req.proto ?? s.proto;
      name = req.name;
      break;
    }
    case Route.SELECT:
      kind = PinKind.SELECT;
      arg = dbIndex(args(s, buf, start, end)[1]);
      break;
    case Route.CLIENT_SETNAME: {
      const a = args(s, buf, start, end)[2];
      kind = PinKind.SETNAME;
      name = a.length === 0 ? null : td.decode(a);
      break;
    }
    case Route.RESET:
      kind = PinKind.RESET;
      break;
    default: {
      const cname = commandNameOf(parser, buf) ?? "";
      kind = PIN_KINDS.get(cname) ?? PinKind.OTHER;
      if ((cname === "wait" || cname === "waitaof") && m.writer && !pin.queuing) {
        // WAIT counts the replicas that have this connection's last write;
        // the session's own writes went down shared connections and were
        // answered before the pin. A write of ours here first (PUBLISH is
        // replicated, and changes no data) makes WAIT count from there.
        pin.sent(PinKind.OTHER, s.now, INTERNAL);
        conn.sendRaw(WAIT_MARK, 0, WAIT_MARK.length);
      }
      if (kind >= PinKind.SUBSCRIBE && kind <= PinKind.SUNSUBSCRIBE) {
        cmdArgs = args(s, buf, start, end).slice(1).map((a) => td.decode(a));
      } else if (kind === PinKind.REPLY) {
        cmdArgs = args(s, buf, start, end).slice(2).map((a) => td.decode(a));
      }
    }
  }
  const blocking = route === Route.PIN && kind === PinKind.OTHER;
  const cache = m.shard.cache ?? null;
  if (cache !== null && m.writer && route !== Route.READ) {
    // Evicted now and again at each reply until every reply is in (a
    // transaction's writes run at EXEC): the client never reads its own
    // acknowledged write from the near cache as it was before.
    const keys = cache.evictWritten(parser, buf);
    if (keys === null) m.written = null;
    else if (m.written !== null) { for (const k of keys) m.written.push(k); }
  }
  pin.sent(kind, s.now, { args: cmdArgs, blocking, arg, name, tag: s.rec.pinnedTag(s.now) });
  if (frame !== null) conn.sendRaw(frame, 0, frame.length);
  else sendPinned(s, m, buf, start, end);
  // RESET logs the connection out to the default user: it logs in again
  // at once, so the commands after it (and the next session to reuse the
  // connection) run as the node connection's own user.
  if (kind === PinKind.RESET && conn.reauth()) pin.sent(PinKind.OTHER, s.now, INTERNAL);
  if (applyQuiet(s, pin) && pin.owed === 0) pinQuiet(s, pin);
  return true;
}

/**
 * A router port's command while pinned: CONTINUE when it goes on the
 * pinned connection (the pinned path handles it), else CONSUMED (answered
 * here) or WAIT (handled again later, after the owed replies or un-pinned).
 */
function routedPinned(s: SessionCore, m: PinnedMode, route: Route, buf: Uint8Array): number {
  const decision = s.decision;
  const routing = decision.routing;
  const pin = m.tracker;
  const verdict = decision.decide(s.parser, buf, route);
  if (verdict === KeyVerdict.SEND && routing.shard === m.shard) return CONTINUE;
  if (
    verdict === KeyVerdict.LOCAL || verdict === KeyVerdict.DROP_HELD ||
    verdict === KeyVerdict.ABORT
  ) {
    if (!quietOrWait(s, m)) {
      decision.keep(verdict);
      return WAIT;
    }
    local(s, routing.reply!);
    if (verdict === KeyVerdict.ABORT && routing.discardOnShard) {
      pin.sent(PinKind.DISCARD, s.now, INTERNAL);
      m.link.sendRaw(DISCARD, 0, DISCARD.length);
    }
    return CONSUMED;
  }
  // Another shard (or several): only once this connection holds nothing of the session's.
  if (pin.owed > 0) {
    decision.keep(verdict);
    quietOrWait(s, m);
    return WAIT;
  }
  if (pin.idle) {
    unpin(s, m);
    s.parser.reset();
    decision.keep(verdict);
    return WAIT;
  }
  local(s, errorReply(ErrorText.pinnedElsewhere(m.shard.name)));
  return CONSUMED;
}

/** Sends a command held until the transaction's shard was known (its reply was given already). */
function sendHeld(s: SessionCore, m: PinnedMode, frame: Uint8Array): void {
  const held = new RequestParser();
  held.parse(frame, 0, frame.length);
  const kind = PIN_KINDS.get(commandNameOf(held, frame) ?? "") ?? PinKind.OTHER;
  m.tracker.sent(kind, s.now, INTERNAL);
  m.link.sendRaw(frame, 0, frame.length);
}

/** Applies what replies-less commands changed once their turn came; true if any. */
function applyQuiet(s: SessionCore, pin: PinTracker): boolean {
  let any = false;
  for (let o = pin.takeQuiet(); o !== null; o = pin.takeQuiet()) {
    applyOutcome(s, o);
    any = true;
  }
  return any;
}

/**
 * A reply of the proxy's own on the pinned path: sent as the node would
 * send one, so not under CLIENT REPLY OFF, nor after SKIP.
 */
function pinnedLocal(s: SessionCore, pin: PinTracker, reply: Uint8Array): void {
  if (pin.replies()) local(s, reply);
}

/** Sends the parsed command on the pinned connection (inline ones as multibulk). */
function sendPinned(s: SessionCore, m: PinnedMode, buf: Uint8Array, start: number, end: number) {
  const p = s.parser;
  if (p.inline) {
    const frame = encodeCommand(p.inlineArgs(buf, start, end));
    m.link.sendRaw(frame, 0, frame.length);
  } else {
    m.link.sendRaw(buf, start, end);
  }
}

/** The pin of a session that still counts its pinned replies (pinned, or closing after them). */
function countingPin(s: SessionCore): PinnedMode | null {
  const m = s.mode;
  if (m.kind === "pinned") return m;
  if (m.kind === "closing") return m.pin;
  return null;
}

/** A frame from the pinned connection: to the client, then counted. */
export function onFrame(s: SessionCore, buf: Uint8Array, start: number, end: number): void {
  const m = countingPin(s);
  if (m === null) return;
  const pin = m.tracker;
  const outcome = pin.onFrame(buf, start, end);
  if (outcome !== null && (m.written === null || m.written.length > 0)) {
    m.shard.cache?.evictAgain(m.written); // before the client can see the reply
    if (pin.owed === 0) m.written = [];
  }
  if (outcome === null || !outcome.internal) s.io.write(buf, start, end);
  if (outcome !== null) {
    const gate = m.shard.gate;
    if (m.writer && gate?.on) s.gates().pinned(gate); // what it wrote is not known yet
    if (outcome.tag !== null && !outcome.internal) {
      s.rec.pinnedFinished(outcome.tag, m.shard, m.node, s.db, buf, start, end);
    }
    applyOutcome(s, outcome);
    applyQuiet(s, pin);
  }
  if (s.io.pending > CLIENT_OUTPUT_HIGH_WATER) m.link.pauseReading();
  if (pin.owed === 0 || pin.uncounted) pinQuiet(s, pin);
}

/** A pinned command's reply is in: apply what it changed in the session. */
function applyOutcome(s: SessionCore, o: PinOutcome): void {
  if (o.kind === PinKind.RESET) return reset(s);
  if (o.error) return;
  if (o.kind === PinKind.SELECT && typeof o.arg === "number") s.db = o.arg;
  else if (o.kind === PinKind.HELLO) {
    if (o.arg === 2 || o.arg === 3) s.proto = o.arg;
    if (o.name !== null) s.name = o.name;
  } else if (o.kind === PinKind.SETNAME) s.name = o.name;
}

/** Nothing is owed on the pinned connection: leave, un-pin, or read on. */
function pinQuiet(s: SessionCore, pin: PinTracker): void {
  const m = s.mode;
  if (m.kind === "closing") return maybeFinish(s);
  if (m.kind !== "pinned") return;
  if (m.leavingSince !== 0) return startClosing(s);
  if (pin.idle && pin.unconfirmed) {
    // A command without a reply (after CLIENT REPLY SKIP) may not have run
    // yet: what follows on shared connections must run after it. A PING
    // of our own says when it has.
    pin.sent(PinKind.OTHER, s.now, INTERNAL);
    m.link.sendRaw(PING, 0, PING.length);
  } else if (pin.idle) {
    unpin(s, m);
  } else if (m.waiting) {
    m.waiting = false;
    enter(s, m);
  }
  maybeResume(s);
}

/**
 * What pinned the session is over: back to the shared connections. The
 * dedicated connection holds nothing of the session's any more; its node
 * keeps it for the next pinned session set up the same way.
 */
function unpin(s: SessionCore, m: PinnedMode): void {
  enter(s, MUX);
  m.link.release({ proto: s.proto, db: s.db, name: s.name, user: s.user });
}

/**
 * The pinned node stopped serving this session's port: close at once if
 * nothing is owed, else right after the owed reply (the shard's ticker
 * closes it if that takes longer than the server timeout).
 */
export function leaveNode(s: SessionCore): void {
  const m = s.mode;
  if (m.kind === "raw") return startClosing(s);
  const pin = m.kind === "pinned" ? m : m.kind === "closing" ? m.pin : null;
  if (pin === null) return maybeFinish(s);
  if (pin.tracker.owed === 0) return m.kind === "pinned" ? startClosing(s) : maybeFinish(s);
  if (pin.leavingSince === 0) pin.leavingSince = s.rt.now();
}

/** Raw mode: node bytes to the client. */
export function onData(s: SessionCore, buf: Uint8Array, start: number, end: number): void {
  const m = s.mode;
  if (m.kind === "closed") return;
  s.io.write(buf, start, end);
  if (s.io.pending > CLIENT_OUTPUT_HIGH_WATER) pinnedLink(s)?.pauseReading();
}

/** The session's own node connection, in whatever mode holds it, or null. */
export function pinnedLink(s: SessionCore): PinnedLink | null {
  const m = s.mode;
  if (m.kind === "pinned" || m.kind === "raw" || m.kind === "closing") return m.link;
  return null;
}

/** The pinned connection ended: its state is gone, so the client goes too (after its replies). */
export function onClosed(s: SessionCore, _reason: FailReason | null): void {
  if (pinnedLink(s) === null) return;
  enter(s, { kind: "closing", link: null, pin: null });
  maybeFinish(s);
}
