/**
 * Commands that are not one command to one node: a SCAN continuation bound
 * to the node whose cursor it carries, a load sent to every node of a
 * shard (SCRIPT LOAD/FLUSH), and a router port's command split over shards
 * and merged into one reply.
 *
 * @module
 */

import { encodeCommand, Route } from "../../resp/mod.ts";
import { Outcome } from "../../telemetry/mod.ts";
import { outcomeOf, traceSend } from "../_record.ts";
import type { FanPart } from "../_runtime.ts";
import { decodeCursor } from "../_scan.ts";
import { PartGroup, Slot, SLOT_BOUND, SLOT_SCAN, SLOT_WRITER } from "../_runtime.ts";
import { bareReason, errorReply, ErrorText } from "../errors.ts";
import type { SessionCore, Target } from "./core.ts";
import { args } from "./conn_state.ts";
import { local, newSlot } from "./fifo.ts";
import { forward, linkFor, send, sendOn } from "./send.ts";

const td = new TextDecoder();
const te = new TextEncoder();

/** SCAN family on the readers side: a cursor goes back to the node that made it. */
export function scan(
  s: SessionCore,
  to: Target,
  buf: Uint8Array,
  start: number,
  end: number,
): void {
  const a = args(s, buf, start, end);
  const at = a[0].length === 4 ? 1 : 2; // SCAN cursor; HSCAN/SSCAN/ZSCAN key cursor
  if (a.length <= at) return void forward(s, to, Route.READ, 0, buf, start, end);
  const decoded = decodeCursor(td.decode(a[at]));
  if (decoded === null) return void forward(s, to, Route.READ, 0, buf, start, end);
  if (decoded.tag === 0) return void forward(s, to, Route.SCAN, SLOT_SCAN, buf, start, end);
  const target = to.rt.cursorNode(decoded.tag);
  if (target === null) return local(s, errorReply(ErrorText.invalidCursor));
  if (target.node === null) {
    return local(s, errorReply(ErrorText.scanRestart(target.id)));
  }
  a[at] = te.encode(decoded.cursor);
  const frame = encodeCommand(a);
  const slot = newSlot(s, Route.SCAN);
  slot.flags = SLOT_SCAN | SLOT_BOUND;
  slot.rt = to.rt;
  s.fifo.push(slot);
  to.rt.counters.readsSent++;
  to.rt.armHedge();
  sendOn(linkFor(s, target.node, s.db), slot, frame, 0, frame.length, s.now);
  if (slot.trace !== null) traceSend(slot, "send", s.now);
}

/** SCRIPT LOAD / FLUSH: to every serving node; the primary's reply (or the first one's). */
export function broadcast(
  s: SessionCore,
  to: Target,
  buf: Uint8Array,
  start: number,
  end: number,
): void {
  const rt = to.rt;
  const nodes = rt.broadcastNodes();
  if (nodes.length === 0) {
    return local(s, errorReply(rt.noNodeError(s.role)));
  }
  const frame = frameOf(s, buf, start, end);
  const primary = rt.writer()?.id;
  const preferred = nodes.findIndex((n) => n.id === primary);
  fanout(
    s,
    nodes.map((n) => ({ shard: rt, node: n, toWriter: true, frame })),
    (replies) => preferredReply(replies, preferred, rt.name),
  );
}

/**
 * One client command as several parts (a router port's split MGET, a
 * load on every shard): each part is a command of its own (retried and
 * hedged like any), and the client gets one merged reply in its place.
 */
export function fanout(
  s: SessionCore,
  parts: readonly FanPart[],
  merge: (replies: readonly Uint8Array[]) => Uint8Array,
): void {
  const slot = newSlot(s, Route.WRITE);
  s.fifo.push(slot);
  const group = new PartGroup(slot, parts.length, merge);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    const route = p.toWriter ? Route.WRITE : Route.READ;
    const part: Slot = s.fifo.take(s, route);
    part.trace = null;
    part.flags = p.toWriter ? SLOT_WRITER : 0;
    part.rt = p.shard;
    part.group = group;
    part.part = i;
    if (!p.toWriter) {
      part.cmd = p.frame;
      part.cmdStart = 0;
      part.cmdEnd = p.frame.length;
      p.shard.counters.readsSent++;
      p.shard.armHedge();
    }
    if (p.node !== null) {
      sendOn(linkFor(s, p.node, s.db), part, p.frame, 0, p.frame.length, s.now);
      continue;
    }
    s.batch.use = null;
    send(s, part, p.frame, 0, p.frame.length);
  }
  s.batch.use = null;
}

/** A command's frame, kept (inline commands as multibulk). */
export function frameOf(s: SessionCore, buf: Uint8Array, start: number, end: number): Uint8Array {
  const p = s.parser;
  return p.inline ? encodeCommand(p.inlineArgs(buf, start, end)) : buf.slice(start, end);
}

/**
 * The reply of a command sent to every node of a shard: the preferred
 * node's (the primary) unless it failed, else the first node's that did not
 * fail, else an error with the last failure.
 */
function preferredReply(
  replies: readonly Uint8Array[],
  preferred: number,
  shard: string,
): Uint8Array {
  const ok = (r: Uint8Array) => outcomeOf(r, 0, r.length) !== Outcome.failed;
  if (preferred >= 0 && ok(replies[preferred])) return replies[preferred];
  const first = replies.find(ok);
  if (first !== undefined) return first;
  const last = replies[replies.length - 1];
  const reason = td.decode(last.subarray(1, Math.max(1, last.length - 2)));
  return errorReply(ErrorText.broadcastFailed(shard, bareReason(reason)));
}
