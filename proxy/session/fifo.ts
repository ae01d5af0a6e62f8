/**
 * The reply FIFO: one slot per client command in the order the client sent
 * them, filled by node replies (or local ones) in any order and written to
 * the client from the head, in order. Slots are reused from a free list;
 * commands that may be replayed keep their bytes in an arena.
 *
 * @module
 */

import { CLIENT_MAX_INFLIGHT, WRITE_SHARED_MIN } from "../../config/defaults.ts";
import { copyBytes, Route, slabCopy } from "../../resp/mod.ts";
import { Slot, SLOT_CACHE_HIT, SLOT_KEEP, SlotQueue } from "../_runtime.ts";
import { errorReply, ErrorText } from "../errors.ts";
import type { SessionCore } from "./core.ts";
import { fifoEmptied, maybeResume } from "./flow.ts";

/** Size of the chunks that keep commands for replay (one allocation per many commands). */
const ARENA_SIZE = 4 * 1024;
const EMPTY = new Uint8Array(0);

/** A session's slots: in flight (the FIFO), free for reuse, and the replay arena. */
export class ReplyFifo extends SlotQueue {
  #free: Slot[] = [];
  #arena: Uint8Array = EMPTY;
  #arenaPos = 0;

  /**
   * A slot for a new command of `owner`, reused from the free list. A slot
   * is released only once it left both the FIFO and its node connection's
   * queue, so nothing else holds it; slots of a closed session are never
   * reused (late replies only find the session closed).
   */
  take(owner: SessionCore, route: Route): Slot {
    let s = this.#free.pop();
    if (s === undefined) s = new Slot(owner, route);
    else s.route = route;
    return s;
  }

  /** `s` is done with: back to the free list (unless a late copy may still look at it). */
  release(s: Slot): void {
    if (this.#free.length >= CLIENT_MAX_INFLIGHT || (s.flags & SLOT_KEEP) !== 0) return;
    s.reply = null;
    s.done = false;
    s.cmd = null;
    s.attempts = 0;
    s.flags = 0;
    s.selectDb = 0;
    s.part = 0;
    s.group = null;
    s.hit = null;
    this.#free.push(s);
  }

  /** Copies a command into the arena so it can be replayed after a failure. */
  keep(slot: Slot, src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.#arenaPos + n > this.#arena.length) {
      // Slots still pointing at the old arena keep it alive until they finish.
      this.#arena = new Uint8Array(Math.max(ARENA_SIZE, n));
      this.#arenaPos = 0;
    }
    copyBytes(this.#arena, this.#arenaPos, src, start, end);
    slot.cmd = this.#arena;
    slot.cmdStart = this.#arenaPos;
    slot.cmdEnd = this.#arenaPos += n;
  }
}

/** A slot for a new command of `s`, stamped for metrics (its shard is set by the sender). */
export function newSlot(s: SessionCore, route: Route): Slot {
  const slot = s.fifo.take(s, route);
  s.rec.stamp(slot, s.now);
  slot.rt = null;
  return slot;
}

/** A client command's reply is final: counted, and traced when sampled. */
export function finished(
  s: SessionCore,
  slot: Slot,
  reply: Uint8Array,
  start: number,
  end: number,
): void {
  s.rec.finished(slot, slot.rt ?? s.rt, s.db, reply, start, end);
}

/** Completes `slot` with bytes owned by us (errors, local replies). */
export function fill(s: SessionCore, slot: Slot, reply: Uint8Array): void {
  slot.done = true;
  const group = slot.group;
  if (group !== null) {
    // One part of a fan-out: the client's slot is filled once every part is in.
    // Nothing refers to the part any more (a hedged one is kept: its copy may still answer).
    if (group.settle(slot.part, reply)) fill(s, group.slot, mergeParts(group.merge, group.replies));
    s.fifo.release(slot);
    return;
  }
  slot.reply = reply;
  finished(s, slot, reply, 0, reply.length);
  if (s.fifo.peek() === slot) flushReady(s);
}

/** Queues a reply produced locally, in order. */
export function local(s: SessionCore, reply: Uint8Array): void {
  const slot = newSlot(s, Route.WRITE);
  slot.reply = reply;
  slot.done = true;
  finished(s, slot, reply, 0, reply.length);
  s.fifo.push(slot);
  if (s.fifo.length === 1) flushReady(s);
}

/** A node reply for `slot`, the FIFO's head or not: written at once, or kept until its turn. */
export function deliver(
  s: SessionCore,
  slot: Slot,
  buf: Uint8Array,
  start: number,
  end: number,
): void {
  finished(s, slot, buf, start, end);
  const fifo = s.fifo;
  if (fifo.peek() === slot) {
    fifo.shift();
    s.io.write(buf, start, end);
    slot.done = true;
    fifo.release(slot);
    flushReady(s);
  } else {
    slot.reply = slabCopy(buf, start, end);
    slot.done = true;
  }
}

/** Writes every finished slot at the head of the FIFO. */
export function flushReady(s: SessionCore): void {
  const fifo = s.fifo;
  for (let slot = fifo.peek(); slot !== undefined && slot.done; slot = fifo.peek()) {
    fifo.shift();
    // A near-cache hit's reply is the entry's own bytes, which nothing changes: a large one goes out
    // without a copy.
    const reply = slot.reply;
    if (reply !== null) {
      if (reply.length >= WRITE_SHARED_MIN && (slot.flags & SLOT_CACHE_HIT) !== 0) {
        s.io.writeShared(reply);
      } else s.io.write(reply);
    }
    fifo.release(slot);
  }
  if (fifo.length > 0) return maybeResume(s);
  fifoEmptied(s);
}

/** The merged reply of a fan-out's parts; a merge that fails answers with an error. */
function mergeParts(
  merge: (replies: readonly Uint8Array[]) => Uint8Array,
  replies: readonly Uint8Array[],
): Uint8Array {
  try {
    return merge(replies);
  } catch (err) {
    // A merge that cannot make sense of the parts answers this client, never ends the process.
    return errorReply(ErrorText.mergeFailed(err instanceof Error ? err.message : String(err)));
  }
}
