/**
 * Transactions on a router port: WATCH, MULTI, the queued commands and EXEC
 * must all reach one shard, chosen by the first keyed command. One
 * {@link TransactionBinding} per client session; feed it every command
 * with the {@link CommandRouter}'s decision and do what it answers:
 *
 * ```
 *   WATCH k1 ─────────▶ SEND (bind to k1's shard)
 *   MULTI ────────────▶ SEND (bound) │ HOLD (not bound yet: keep it)
 *   TIME ─────────────▶ SEND         │ HOLD
 *   SET k2 v ─────────▶ SEND: held commands first, then this one, to k2's shard
 *   GET k3 (elsewhere)▶ REFUSE: the error; the transaction is marked failed
 *   EXEC ─────────────▶ SEND and unbind │ ABORT (marked failed: -EXECABORT,
 *                                        and DISCARD on the shard if MULTI was sent)
 * ```
 *
 * Outside WATCH and MULTI every command is PASS: route it as decided.
 * Inside MULTI, PING and ECHO are queued like any command (EXEC's reply
 * must hold theirs), not answered locally. A transaction with no keyed
 * command at all runs on shard 0.
 *
 * @module
 */

import { RouterErrorText } from "./_errors.ts";
import { RouterAction } from "./route.ts";
import type { SplitPlan } from "./split.ts";

/** What to do with a command, from {@link TransactionBinding.next}. */
export const BindingVerdict = {
  /** Not part of a transaction: route it as the router decided. */
  PASS: 1,
  /** Send it to {@link TransactionBinding.shard} (after any held commands, in order). */
  SEND: 2,
  /** Keep it until the transaction's shard is known (MULTI and keyless commands). */
  HOLD: 3,
  /** Answer {@link TransactionBinding.error}; inside MULTI the transaction is now failed. */
  REFUSE: 4,
  /**
   * EXEC of a failed transaction: answer `-EXECABORT …` (RouterErrorText.execAbort), drop
   * held commands, and send DISCARD to {@link TransactionBinding.shard} when
   * {@link TransactionBinding.multiSent}.
   */
  ABORT: 5,
  /** DISCARD of a transaction nothing was sent for yet: answer +OK, drop held commands. */
  DISCARDED: 6,
} as const;
/** One of the {@link BindingVerdict} values. */
export type BindingVerdict = typeof BindingVerdict[keyof typeof BindingVerdict];

/** The router's decision for a command, as {@link CommandRouter} leaves it. */
export interface RoutedCommand {
  /** Canonical command name (`multi`, `get`…), undefined when Redis does not know it. */
  readonly command: string | undefined;
  /** SHARD: the shard index. */
  readonly shard: number;
  /** REFUSE: the router's error. */
  readonly error: string | null;
  /** SPLIT: the shards involved. */
  readonly plan: SplitPlan | null;
}

/** The shard a transaction runs on when none of its commands has a key. */
const KEYLESS_TRANSACTION_SHARD = 0;

/** Tracks the shard one session's WATCH / MULTI … EXEC is bound to. */
export class TransactionBinding {
  #shard = -1;
  #inMulti = false;
  #watching = false;
  #failed = false;
  #multiSent = false;
  /** The last verdict ended the binding: forget the shard at the next call. */
  #ended = false;
  #error: string | null = null;
  readonly #shards: readonly string[];

  /** @param shards shard names by index, for error messages */
  constructor(shards: readonly string[]) {
    this.#shards = shards;
  }

  /** The bound shard (also for the SEND or ABORT that ends a transaction), or -1. */
  get shard(): number {
    return this.#shard;
  }

  /** Between MULTI and EXEC / DISCARD. */
  get inMulti(): boolean {
    return this.#inMulti;
  }

  /** Whether MULTI already reached the shard (after ABORT: send DISCARD there). */
  get multiSent(): boolean {
    return this.#multiSent;
  }

  /** REFUSE: the error message (without `-`). */
  get error(): string | null {
    return this.#error;
  }

  /** What to do with the next command, given the router's decision for it. */
  next(action: RouterAction, routed: RoutedCommand): BindingVerdict {
    this.#error = null;
    if (this.#ended) {
      this.#ended = false;
      this.#shard = -1;
      this.#multiSent = false;
    }
    const command = routed.command;
    switch (command) {
      case "multi":
        if (!this.#inMulti) {
          this.#inMulti = true;
          this.#failed = false;
          this.#multiSent = false;
        }
        return this.#queue(); // a nested MULTI is Redis's to refuse
      case "exec":
        return this.#exec();
      case "discard":
        return this.#discard();
      case "watch":
        if (this.#inMulti) return this.#queue(); // Redis refuses WATCH inside MULTI
        if (action === RouterAction.REFUSE) return this.#refuse(routed.error ?? "");
        if (action !== RouterAction.SHARD) return BindingVerdict.PASS; // no key: Redis's error
        if (this.#shard >= 0 && this.#shard !== routed.shard) {
          return this.#refuse(this.#otherShard(command, routed.shard));
        }
        this.#shard = routed.shard;
        this.#watching = true;
        return BindingVerdict.SEND;
      case "unwatch":
        if (this.#inMulti) return this.#queue();
        if (!this.#watching) return BindingVerdict.PASS;
        return this.#end(BindingVerdict.SEND);
      case "reset":
        this.#shard = -1;
        this.#inMulti =
          this.#watching =
          this.#failed =
          this.#multiSent =
            false;
        return BindingVerdict.PASS;
    }
    if (!this.#inMulti) return BindingVerdict.PASS;
    switch (action) {
      case RouterAction.SHARD:
        if (this.#shard < 0) this.#shard = routed.shard;
        if (this.#shard === routed.shard) return this.#queue();
        this.#failed = true;
        return this.#refuse(this.#otherShard(command ?? "command", routed.shard));
      case RouterAction.REFUSE:
        this.#failed = true;
        return this.#refuse(routed.error ?? "");
      case RouterAction.SPLIT:
        this.#failed = true;
        return this.#refuse(RouterErrorText.crossShard(
          command ?? "command",
          (routed.plan?.parts ?? []).map((p) => this.#shards[p.shard]),
        ));
      default: // LOCAL, ANY, ALL: queued like any command, on the transaction's shard
        return this.#queue();
    }
  }

  #queue(): BindingVerdict {
    if (this.#shard < 0) return BindingVerdict.HOLD;
    if (this.#inMulti) this.#multiSent = true;
    return BindingVerdict.SEND;
  }

  #exec(): BindingVerdict {
    if (!this.#inMulti) return this.#shard >= 0 ? BindingVerdict.SEND : BindingVerdict.PASS;
    if (this.#failed) return this.#end(BindingVerdict.ABORT);
    if (this.#shard < 0) this.#shard = KEYLESS_TRANSACTION_SHARD;
    return this.#end(BindingVerdict.SEND); // EXEC also unwatches
  }

  #discard(): BindingVerdict {
    if (!this.#inMulti) return this.#shard >= 0 ? BindingVerdict.SEND : BindingVerdict.PASS;
    return this.#end(this.#multiSent ? BindingVerdict.SEND : BindingVerdict.DISCARDED);
  }

  /** Ends the transaction and WATCH with `verdict`; shard and multiSent stay readable until the next call. */
  #end(verdict: BindingVerdict): BindingVerdict {
    this.#inMulti = false;
    this.#watching = false;
    this.#failed = false;
    this.#ended = true;
    return verdict;
  }

  #refuse(message: string): BindingVerdict {
    this.#error = message;
    return BindingVerdict.REFUSE;
  }

  #otherShard(command: string, shard: number): string {
    return RouterErrorText.otherShardInTransaction(
      command,
      this.#shards[shard] ?? String(shard),
      this.#shards[this.#shard] ?? String(this.#shard),
    );
  }
}
