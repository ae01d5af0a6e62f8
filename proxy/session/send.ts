/**
 * Where a command goes on the multiplexed path: which node (a reader, the
 * writer), which of its connections (the one carrying the session's
 * unanswered commands there, so Redis runs them in order), and what
 * happens when there is no node — a write waits for the shard's next
 * primary (held writes), anything else gets the shard's error.
 *
 * @module
 */

import { encodeCommand, Route } from "../../resp/mod.ts";
import { traceSend } from "../_record.ts";
import {
  type LinkUse,
  type NodeHandle,
  type ShardRoutes,
  Slot,
  SLOT_AFTER_WRITE,
  SLOT_BOUND,
  SLOT_NOSCRIPT_RETRIED,
  SLOT_WRITER,
} from "../_runtime.ts";
import type { Credential } from "../_credential.ts";
import { splitReads } from "../split_routing.ts";
import { errorReply, ErrorText } from "../errors.ts";
import type { SessionCore, Target } from "./core.ts";
import { fill, newSlot } from "./fifo.ts";

/** Commands larger than this are not kept for a retry when they are writes. */
const KEEP_WRITE_FOR_RETRY = 16 * 1024;

/**
 * Appends a slot for a command to `to` and sends it (kept for a replay
 * when that is safe). `selectDb`: the database of a SELECT.
 */
export function forward(
  s: SessionCore,
  to: Target,
  route: Route,
  flags: number,
  buf: Uint8Array,
  start: number,
  end: number,
  selectDb = 0,
): Slot {
  const parser = s.parser;
  const slot = newSlot(s, route);
  slot.flags = to.writer ? flags | SLOT_WRITER : flags;
  slot.selectDb = selectDb;
  slot.rt = to.rt;
  // A write evicts its keys from the near cache when sent, and again when acknowledged.
  if (to.writer && route !== Route.READ) to.rt.cache?.written(parser, buf, slot);
  s.fifo.push(slot);
  if (parser.inline) {
    const src = encodeCommand(parser.inlineArgs(buf, start, end));
    return sendSlot(s, to, slot, src, 0, src.length);
  }
  return sendSlot(s, to, slot, buf, start, end);
}

/**
 * Sends `slot`, already in the FIFO, with the command frame `src[b, e)`
 * (kept for a replay when that is safe).
 */
export function sendSlot(
  s: SessionCore,
  to: Target,
  slot: Slot,
  src: Uint8Array,
  b: number,
  e: number,
): Slot {
  if (replayable(slot) || e - b <= KEEP_WRITE_FOR_RETRY) {
    s.fifo.keep(slot, src, b, e);
    src = slot.cmd!;
    b = slot.cmdStart;
    e = slot.cmdEnd;
  }
  if (!to.writer) {
    to.rt.counters.readsSent++;
    to.rt.armHedge();
  }
  send(s, slot, src, b, e);
  return slot;
}

/** The node a new command (or a retry, `excludeId` set) goes to. */
function target(slot: Slot, excludeId: string): NodeHandle | null {
  const rt = slot.rt!;
  if (
    slot.route === Route.PRIMARY ||
    (slot.flags & (SLOT_NOSCRIPT_RETRIED | SLOT_WRITER)) !== 0
  ) {
    return rt.writer();
  }
  return rt.pickReader(excludeId);
}

/**
 * Sends a command. Within one batch of input (one pipeline) commands stay
 * on one node connection, so their replies come back in order and are
 * written straight through; retries (excludeId set) pick afresh. False
 * when no node can take it.
 */
export function dispatch(
  s: SessionCore,
  slot: Slot,
  src: Uint8Array,
  start: number,
  end: number,
  excludeId: string,
): boolean {
  const batch = s.batch;
  let use = batch.use;
  if (
    use === null || use.link.closed || excludeId !== "" || slot.route === Route.PRIMARY ||
    batch.rt !== slot.rt || batch.writer !== ((slot.flags & SLOT_WRITER) !== 0)
  ) {
    const node = target(slot, excludeId);
    if (node === null) return false;
    use = linkFor(s, node, slot.route === Route.SELECT ? slot.selectDb : s.db);
    if (excludeId === "" && slot.route !== Route.PRIMARY) {
      batch.use = use;
      batch.rt = slot.rt;
      batch.writer = (slot.flags & SLOT_WRITER) !== 0;
    }
  }
  const rt = slot.rt!;
  const gate = rt.gate;
  if (gate?.on) {
    if (s.gate !== null && s.gate.writesOut > 0 && !toPrimary(slot) && splitReads(slot.route)) {
      // A read behind the session's own unanswered write (a pipeline): the
      // primary runs it after the write, on the connection that carries it.
      const w = rt.writer();
      if (w !== null && use.node !== w) {
        use = linkFor(s, w, s.db);
        slot.flags |= SLOT_AFTER_WRITE;
      }
    }
    if (!s.gates().send(gate, slot, use, use.node === rt.writer(), s.now)) {
      return true; // a read held until a replica has caught up (read-your-writes)
    }
  }
  sendOn(use, slot, src, start, end, s.now);
  if (slot.trace !== null) traceSend(slot, excludeId === "" ? "send" : "retry", s.now);
  return true;
}

/**
 * The connection of `node`'s pool (the session's protocol, database `db`,
 * user) for the session's next command there: the one that carries its
 * unanswered commands on that node, so Redis runs them in the order sent;
 * only with none in flight there does it pick afresh (the balancer of the
 * node's pool).
 */
export function linkFor(
  s: SessionCore,
  node: NodeHandle,
  db: number,
  user: Credential | null = s.user,
): LinkUse {
  const uses = s.uses;
  const proto = s.proto;
  let free = -1;
  for (let i = 0; i < uses.length; i++) {
    const u = uses[i];
    if (u.node === node && u.proto === proto && u.db === db && u.user === user) {
      if (u.owed === 0 || u.link.closed) u.link = node.connection(proto, db, user);
      return u;
    }
    if (free < 0 && u.owed === 0) free = i;
  }
  const link = node.connection(proto, db, user);
  if (free < 0) {
    const u: LinkUse = { node, proto, db, user, link, owed: 0 };
    uses.push(u);
    return u;
  }
  // An entry nothing is owed on is taken over (a router session touches many nodes).
  const u = uses[free];
  u.node = node;
  u.proto = proto;
  u.db = db;
  u.user = user;
  u.link = link;
  return u;
}

/** Sends `slot` on `use`'s connection and counts it owed there until answered. */
export function sendOn(
  use: LinkUse,
  slot: Slot,
  src: Uint8Array,
  start: number,
  end: number,
  now: number,
): void {
  use.link.send(slot, src, start, end, now);
  use.owed++;
  slot.use = use;
}

/** A slot's reply (or failure) is in: it is no longer owed on its node connection. */
export function answered(slot: Slot): void {
  const use = slot.use;
  if (use !== null) {
    use.owed--;
    slot.use = null;
  }
}

/** Sends a new command; answers it with the shard's error when no node can take it. */
export function send(
  s: SessionCore,
  slot: Slot,
  src: Uint8Array,
  start: number,
  end: number,
): void {
  if (s.held.slots.length > 0 && holdable(s, slot)) {
    // Behind a held write: it waits too, so the primary runs them in order.
    return hold(s, slot, s.held.from);
  }
  if (dispatch(s, slot, src, start, end, "")) return;
  if (holdable(s, slot)) return hold(s, slot, ""); // no primary known yet
  const rt = slot.rt!;
  fill(s, slot, errorReply(rt.noNodeError(toPrimary(slot) ? "writer" : "readers")));
}

/** Re-sends `slot` to another node; false when there is none. */
export function retry(s: SessionCore, slot: Slot): boolean {
  s.now = s.rt.now();
  if (!dispatch(s, slot, slot.cmd!, slot.cmdStart, slot.cmdEnd, slot.nodeId)) return false;
  slot.rt!.counters.retries++;
  return true;
}

/** Re-sends a script call that met NOSCRIPT on a replica to the primary, once. */
export function retryOnPrimary(s: SessionCore, slot: Slot): boolean {
  const primary = slot.rt!.writer();
  if (primary === null || primary.id === slot.nodeId) return false;
  slot.flags |= SLOT_NOSCRIPT_RETRIED; // target() now picks the primary
  return retry(s, slot);
}

// ---- writes held through a failover ----

/** Writes waiting for a shard's next primary (see {@link hold}). */
export class HeldWrites {
  /** The held writes, in send order. */
  slots: Slot[] = [];
  /** The node that refused the first held write ("" when no primary was known). */
  from = "";
  /** When the first held write was held. */
  since = 0;
  /** The shard they wait on, or null when none is held. */
  rt: ShardRoutes | null = null;
}

/** Whether `slot` is a write to the primary that can wait for a new one (kept, not yet run). */
export function holdable(s: SessionCore, slot: Slot): boolean {
  return slot.cmd !== null && slot.group === null && toPrimary(slot) &&
    (slot.flags & SLOT_BOUND) === 0 && s.mode.kind !== "closed";
}

/**
 * Holds a write for the shard's next primary: `from` refused it (or
 * could not be reached; "" when none was known). Held writes go out in
 * the order they were sent, once checks name a primary other than `from`,
 * or fail with a clear error past `timeouts.failover`.
 */
export function hold(s: SessionCore, slot: Slot, from: string): void {
  const rt = slot.rt!;
  const held = s.held;
  if (held.slots.length === 0) {
    const w = from === "" ? null : rt.writer();
    if (w !== null && w.id !== from) {
      // The shard routed writes elsewhere before this refusal came back (no
      // routes update will follow for it): the new primary takes it now.
      s.batch.use = null;
      if (dispatch(s, slot, slot.cmd!, slot.cmdStart, slot.cmdEnd, "")) return;
    }
    held.from = from;
    held.since = rt.now();
    held.rt = rt;
    rt.counters.heldWrites++;
    rt.awaitWriter(s);
  } else if (rt !== held.rt) {
    // A router session's writes to another shard: they need not wait for this one.
    if (dispatch(s, slot, slot.cmd!, slot.cmdStart, slot.cmdEnd, "")) return;
  }
  held.slots.push(slot);
}

/** The shard named a primary: send what was held (or wait again). */
export function sendHeldWrites(s: SessionCore): void {
  const held = s.held;
  const rt = held.rt;
  if (rt === null || held.slots.length === 0 || s.mode.kind === "closed") return;
  const w = rt.writer();
  if (w === null || w.id === held.from) return rt.awaitWriter(s); // not yet
  const slots = held.slots;
  held.slots = [];
  held.rt = null;
  s.now = rt.now();
  s.batch.use = null;
  for (const slot of slots) {
    if (!dispatch(s, slot, slot.cmd!, slot.cmdStart, slot.cmdEnd, "")) hold(s, slot, "");
  }
  s.batch.use = null;
  s.gate?.flush(s.now);
}

/** Held past `timeouts.failover`: each held write gets a clear error. */
export function failHeldWrites(s: SessionCore): void {
  const held = s.held;
  const rt = held.rt;
  const slots = held.slots;
  held.slots = [];
  held.rt = null;
  if (rt === null || s.mode.kind === "closed") return;
  const waited = rt.now() - held.since;
  for (const slot of slots) {
    fill(s, slot, errorReply(ErrorText.heldTooLong(rt.name, Math.round(waited))));
  }
}

/** Whether a command goes to its shard's primary. */
export function toPrimary(slot: Slot): boolean {
  return slot.route === Route.PRIMARY ||
    (slot.flags & (SLOT_WRITER | SLOT_NOSCRIPT_RETRIED)) !== 0;
}

/** Whether a command may be sent again to another node after a failure. */
export function replayable(slot: Slot): boolean {
  const r = slot.route;
  return (r === Route.READ || r === Route.SCAN || r === Route.SCRIPT_READ ||
    r === Route.SELECT) && (slot.flags & SLOT_BOUND) === 0;
}
