/**
 * Test support: a multiplexed node connection that keeps the slots sent on
 * it and answers them in order (the read gate's tests).
 *
 * @module
 */

import type { MuxLink, Slot } from "./_runtime.ts";

const te = new TextEncoder();

/** A connection that keeps what was sent on it. */
export class RecordingLink implements MuxLink {
  /** Never closed. */
  closed = false;
  /** Never backed up. */
  writePending = 0;
  /** The slots sent, oldest first, until answered. */
  sent: Slot[] = [];
  /** Keeps `slot`. */
  send(slot: Slot): void {
    this.sent.push(slot);
  }
  /** Calls `fn` at once. */
  whenDrained(fn: () => void): void {
    fn();
  }
  /** Answers the oldest slot sent (a ROLE, a read) with `reply`. */
  answer(reply: string): void {
    const s = this.sent.shift()!;
    const b = te.encode(reply);
    s.owner.onReply(s, b, 0, b.length);
  }
}
