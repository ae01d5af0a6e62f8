/**
 * One hedged read: a read that waited past the hedge delay and was also
 * sent to a second node. The pair settles here — which reply wins, which
 * is dropped, when a "not now" from one copy waits for the other, when
 * each copy counts as slow against its node — and a read is hedged at
 * most once (the pair stays on the read after it settled).
 *
 * ```
 *  main (in the client's FIFO) ──┐            first useful reply wins;
 *                                ├─ HedgedRead ─ the other one is dropped;
 *  copy (sent to another node) ──┘            both failed: main goes on alone
 * ```
 *
 * @module
 */

/** One copy of a hedged read, as the pair sees it (a `Slot`). */
export interface HedgeLeg {
  /** The reply (or an error) is known. */
  readonly done: boolean;
  /** The pair it belongs to, or null: never hedged. */
  hedged: unknown;
}

/** What to do with one copy's reply or failure ({@link HedgedRead.settle}). */
export const Settle = {
  /** The main slot answers alone from here (the other copy is already in): handle it as usual. */
  ALONE: 0,
  /** The other copy answered first: this one is dropped. */
  DROP: 1,
  /** A "not now" (or a failure) while the other copy may still answer: wait for it. */
  WAIT: 2,
  /** The first useful reply, from the main slot's own node. */
  FIRST: 3,
  /** The first useful reply, from the copy: the hedge won. */
  WON: 4,
} as const;
/** One of the {@link Settle} values. */
export type Settle = typeof Settle[keyof typeof Settle];

/** A read and its copy on a second node. */
export class HedgedRead<L extends HedgeLeg> {
  /** The read in the client's FIFO. */
  readonly main: L;
  /** Its copy, sent to another node. */
  readonly copy: L;
  #mainIn = false;
  #copyIn = false;
  #mainSlow = false;
  #copySlow = false;

  /** Pairs `main` with `copy`; both point at the pair, and neither is reused while a copy may answer. */
  constructor(main: L, copy: L) {
    this.main = main;
    this.copy = copy;
    main.hedged = this;
    copy.hedged = this;
  }

  /** Whether `slot` may be hedged: a read is hedged at most once. */
  static mayHedge(slot: HedgeLeg): boolean {
    return slot.hedged === null;
  }

  /** The other copy of `slot`. */
  other(slot: L): L {
    return slot === this.main ? this.copy : this.main;
  }

  /**
   * A reply or failure of `slot` (one of the pair) arrived. `notNow`: a
   * reply that says "not now" (the node is loading, a script it lacks) or
   * a failure; the other copy may still answer.
   */
  settle(slot: L, notNow: boolean): Settle {
    const isMain = slot === this.main;
    if (isMain) this.#mainIn = true;
    else this.#copyIn = true;
    if (this.main.done) return Settle.DROP;
    const otherIn = isMain ? this.#copyIn : this.#mainIn;
    if (otherIn) return Settle.ALONE;
    if (notNow) return Settle.WAIT;
    return isMain ? Settle.FIRST : Settle.WON;
  }

  /**
   * True once for each copy still unanswered past the slow threshold: it
   * counts as a `slow` passive error against its node (the caller checks
   * the age).
   */
  reportSlow(slot: L): boolean {
    if (slot === this.main) {
      if (this.#mainSlow || this.#mainIn) return false;
      return this.#mainSlow = true;
    }
    if (this.#copySlow || this.#copyIn) return false;
    return this.#copySlow = true;
  }
}
