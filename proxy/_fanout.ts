/**
 * One client command sent to several nodes at once (SCRIPT LOAD / FLUSH on
 * every node of a shard): collects each node's reply or failure, then gives
 * the client one reply — the preferred node's (the primary) if it answered,
 * else the first answer in node order.
 *
 * @module
 */

import { type FailReason, Slot, type SlotOwner } from "./_slot.ts";

/** Collects the replies of one command sent to `nodes`. */
export class FanOut implements SlotOwner {
  #order: readonly string[];
  #preferred: string | null;
  #replies = new Map<string, Uint8Array>();
  #lastFailure = "";
  #left: number;
  #done: (reply: Uint8Array | null, failure: string) => void;

  /**
   * Waits for one answer from each of `nodes` (ids, in config order), then
   * calls `done` with the chosen reply, or null and the last failure when
   * no node answered.
   */
  constructor(
    nodes: readonly string[],
    preferred: string | null,
    done: (reply: Uint8Array | null, failure: string) => void,
  ) {
    this.#order = nodes;
    this.#preferred = preferred;
    this.#left = nodes.length;
    this.#done = done;
  }

  /** A slot for the copy sent to one node. */
  part(route: number): Slot {
    return new Slot(this, route);
  }

  /** A node answered. */
  onReply(slot: Slot, buf: Uint8Array, start: number, end: number): void {
    this.#replies.set(slot.nodeId, buf.slice(start, end));
    this.#settle();
  }

  /** A node failed before answering. */
  onFail(_slot: Slot, reason: FailReason, nodeId: string): void {
    this.#lastFailure = `${reason} on ${nodeId}`;
    this.#settle();
  }

  #settle(): void {
    if (--this.#left > 0) return;
    const preferred = this.#preferred === null ? undefined : this.#replies.get(this.#preferred);
    if (preferred !== undefined) return this.#done(preferred, "");
    for (const id of this.#order) {
      const r = this.#replies.get(id);
      if (r !== undefined) return this.#done(r, "");
    }
    this.#done(null, this.#lastFailure);
  }
}
