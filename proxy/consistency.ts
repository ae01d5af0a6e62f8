/**
 * Read-your-writes (`consistency: session | host`): a replica serves a
 * gated read only once its applied replication offset has reached the
 * primary's offset after the writes the read must see.
 *
 * Offsets are learned without WAIT and without a round trip of their own:
 *
 * - **After writes**: a `ROLE` is pipelined after each flushed batch of
 *   writes, on the same primary connection; its reply (consumed here, never
 *   the client's) is the primary's offset with those writes in it. A write
 *   answered while the `ROLE` after it is not back yet makes the offset
 *   unknown for that moment: reads that must see it wait (about a frame).
 * - **Before a read**: a replica not known to be caught up gets a `ROLE`
 *   pipelined just before the read on the read's own connection. Redis runs
 *   them in order, so an offset that has reached the need vouches for the
 *   read; one that has not voids its reply, and the read waits.
 * - **While reads wait**: the serving replicas are polled (`ROLE`, every
 *   {@link CONSISTENCY_POLL_MS}) until one has caught up (the read goes
 *   there) or `consistency_wait` has passed (the read goes to the primary).
 *
 * A read whose replica is known to be caught up is sent as it is: no extra
 * command. Per session the offset a read needs never goes down, so a
 * session never reads older data than it has read.
 *
 * This file is the shard's side ({@link ReadGate}); a session's side (its
 * floor, its writes awaiting a `ROLE`) is `session_gate.ts`.
 *
 * ```
 *  write ─▶ primary ─┬─ reply ─▶ client         (answered: the offset is unknown …)
 *                    └─ ROLE ─▶ offset ─▶ floor  (… until this reply, right behind it)
 *  read  ─▶ admit(node, floor) ─┬─ SEND   replica known caught up (or the primary)
 *                               ├─ PROBE  ROLE + read on one connection; stale: void, WAIT
 *                               └─ WAIT   poll replicas ─▶ release to one caught up,
 *                                         or to the primary after consistency_wait
 * ```
 *
 * @module
 */

import { CONSISTENCY_POLL_MS } from "../config/defaults.ts";
import type { ConsistencyMode, ShardSettings } from "../config/types.ts";
import type { ListenerRole, MuxLink, NodeHandle } from "./_runtime.ts";
import { Slot, SLOT_GATED, SLOT_PROBED, SLOT_STALE, type SlotOwner } from "./_runtime.ts";
import { ROLE_FRAME, roleOffset } from "./_offsets.ts";

/** The offset a read needs is not known yet (a write is answered, its offset not back). */
export const UNKNOWN = -1;

/** What {@link ReadGate.admit} decides for a read. */
export const Admit = {
  /** Send it as it is. */
  SEND: 0,
  /** Send a `ROLE` probe before it on the same connection ({@link ReadGate.probeRead}). */
  PROBE: 1,
  /** Hold it ({@link ReadGate.wait}). */
  WAIT: 2,
} as const;
/** One of the {@link Admit} values. */
export type Admit = typeof Admit[keyof typeof Admit];

/**
 * What reads must see, as a replication offset: a session's own (its
 * writes, what it has read) or the host's (every write through this
 * sidecar's ports). Writes count as answered when their reply arrives and
 * as covered when the `ROLE` after them is back; between the two, the
 * offset is not known.
 */
export class ReadFloor {
  /** The offset reads must have reached. */
  offset = 0;
  /** Writes answered (or failed) so far. */
  answered = 0;
  /** Writes whose offset is known (their `ROLE` is back, or failed). */
  covered = 0;
  /** A `ROLE` after writes failed: unknown until the primary is asked again. */
  distrust = false;

  /** The offset, or {@link UNKNOWN} while a write's offset is outstanding. */
  need(): number {
    return this.answered > this.covered || this.distrust ? UNKNOWN : this.offset;
  }

  /** Raises the offset to `at` (never lowers it). */
  raise(at: number): void {
    if (at > this.offset) this.offset = at;
  }
}

/** The session side of a gated read: the gate hands back a read it held. */
export interface GateClient {
  /** Sends the held read `slot` to `node` (a caught-up replica or the primary); null: none. */
  gateRelease(slot: Slot, node: NodeHandle | null): void;
}

/** What a gate needs from its shard. */
export interface GateShard {
  /** Current settings (`consistency`, `consistency_wait`). */
  readonly settings: ShardSettings;
  /** The data path's clock (ms). */
  now(): number;
  /** The primary, or null. */
  writer(): NodeHandle | null;
  /** The replicas that serve reads now. */
  servingReplicas(): readonly NodeHandle[];
}

/** Counters of one shard's gate (metrics). */
export interface GateCounters {
  /** Reads that needed an offset (the rest go wherever they are balanced). */
  gated: number;
  /** Gated reads a replica served. */
  replica: number;
  /** `ROLE` probes sent before reads. */
  probes: number;
  /** Gated reads held for a replica to catch up. */
  waits: number;
  /** Gated reads that went to the primary after waiting. */
  fallbacks: number;
}

/** One held read. */
interface Waiter {
  client: GateClient;
  slot: Slot;
  floor: ReadFloor | null;
  /** The offset it needs: fixed when it arrived (later writes are not its business), or UNKNOWN. */
  need: number;
  since: number;
}

/** A ROLE after a batch of writes: the primary's offset with them in it. */
class WriteProbe implements SlotOwner {
  constructor(
    readonly gate: ReadGate,
    readonly floor: ReadFloor | null,
    readonly writes: number,
  ) {}
  onReply(_slot: Slot, buf: Uint8Array, start: number, end: number): void {
    this.gate.writesCovered(this, roleOffset(buf, start, end));
  }
  onFail(): void {
    this.gate.writesCovered(this, UNKNOWN);
  }
}

/** A ROLE pipelined before a read: vouches for the read, or voids it. */
class ReadProbe implements SlotOwner {
  constructor(
    readonly gate: ReadGate,
    readonly read: Slot,
    readonly floor: ReadFloor | null,
    readonly need: number,
    readonly nodeId: string,
  ) {}
  onReply(_slot: Slot, buf: Uint8Array, start: number, end: number): void {
    this.gate.readProbed(this, roleOffset(buf, start, end));
  }
  onFail(): void {
    // The read on the same connection fails too, and is retried (gated again).
  }
}

/** A poll of one replica's applied offset while reads wait. */
class Poll implements SlotOwner {
  constructor(readonly gate: ReadGate, readonly nodeId: string) {}
  onReply(_slot: Slot, buf: Uint8Array, start: number, end: number): void {
    this.gate.polled(this.nodeId, roleOffset(buf, start, end));
  }
  onFail(): void {
    this.gate.polled(this.nodeId, UNKNOWN);
  }
}

/** A standalone ROLE to the primary (after a lost probe): the host's offset again. */
class PrimaryProbe implements SlotOwner {
  constructor(readonly gate: ReadGate) {}
  onReply(_slot: Slot, buf: Uint8Array, start: number, end: number): void {
    this.gate.primaryAsked(roleOffset(buf, start, end));
  }
  onFail(): void {
    this.gate.primaryAsked(UNKNOWN);
  }
}

/** One shard's read-your-writes gate. */
export class ReadGate {
  /** Counters (metrics). */
  readonly counters: GateCounters = { gated: 0, replica: 0, probes: 0, waits: 0, fallbacks: 0 };
  #shard: GateShard;
  /** Every write acknowledged through this sidecar (`host`). */
  #host = new ReadFloor();
  /** Applied offsets of replicas, as last seen. */
  #applied = new Map<string, number>();
  /** The primary's offset, as last seen. */
  #primary = 0;
  #waiters: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  #polling = new Set<string>();
  /** Session floors whose write probe was lost (cleared by the next primary probe). */
  #distrusted = new Set<ReadFloor>();
  #asking = false;
  #askAgain = false;
  /** The mode last seen (see {@link reconfigured}). */
  #mode: ConsistencyMode;
  /** What a read found behind by its probe needed (its wait keeps that need). */
  #staleNeed = new WeakMap<Slot, number>();
  #tickFn = (): void => this.#tick();

  /** A gate over `shard`'s nodes. */
  constructor(shard: GateShard) {
    this.#shard = shard;
    this.#mode = shard.settings.consistency;
    this.on = this.#mode !== "eventual";
  }

  /** The mode now (reload may change it). */
  get mode(): ConsistencyMode {
    return this.#shard.settings.consistency;
  }

  /** True when reads are gated at all (a field: the data path reads it per command). */
  on: boolean;

  /**
   * The shard's settings were replaced (reload). A changed mode: writes
   * made meanwhile may not have been tracked, so the host's offset is asked
   * of the primary before it counts.
   */
  reconfigured(): void {
    const m = this.#shard.settings.consistency;
    this.on = m !== "eventual";
    if (m === this.#mode) return;
    this.#mode = m;
    if (m === "eventual") return;
    this.#host.distrust = true;
    this.#askPrimary();
  }

  /** Whether a session of `role` tracks the offsets of its own writes. */
  tracksWrites(role: ListenerRole): boolean {
    const m = this.mode;
    return m === "host" || (m === "session" && role === "split");
  }

  /** A session's own floor. */
  newFloor(): ReadFloor {
    return new ReadFloor();
  }

  /** Held reads (tests, status). */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** The replica's applied offset as last seen, or -1. */
  applied(nodeId: string): number {
    return this.#applied.get(nodeId) ?? -1;
  }

  /** The offset a read of a session with `floor` needs now, or {@link UNKNOWN}. */
  need(floor: ReadFloor | null): number {
    let need = 0;
    if (this.mode === "host") {
      need = this.#host.need();
      if (need === UNKNOWN) return UNKNOWN;
    }
    if (floor !== null) {
      const own = floor.need();
      if (own === UNKNOWN) return UNKNOWN;
      if (own > need) need = own;
    }
    return need;
  }

  /**
   * Decides for a read of a session with `floor` about to go to `node`
   * (`primary`: it is the primary). A read sent as it is raises the floor
   * to what its node is known to have.
   */
  admit(slot: Slot, node: NodeHandle, primary: boolean, floor: ReadFloor | null): Admit {
    const need = this.need(floor);
    if (need === 0) {
      if (floor !== null) floor.raise(primary ? this.#primary : this.applied(node.id));
      return Admit.SEND;
    }
    if ((slot.flags & SLOT_GATED) === 0) {
      slot.flags |= SLOT_GATED;
      this.counters.gated++;
    }
    if (primary) {
      floor?.raise(this.#primary);
      return Admit.SEND;
    }
    if (need === UNKNOWN) return Admit.WAIT;
    const at = this.applied(node.id);
    if (at >= need) {
      floor?.raise(at);
      this.counters.replica++;
      return Admit.SEND;
    }
    return Admit.PROBE;
  }

  /** True when `nodeId` is known to have what a read of `floor` needs (a hedge may go there). */
  caughtUp(nodeId: string, floor: ReadFloor | null): boolean {
    const need = this.need(floor);
    return need !== UNKNOWN && this.applied(nodeId) >= need;
  }

  /** Sends a `ROLE` probe on `link` right before the read `slot` (sent next by the caller). */
  probeRead(link: MuxLink, slot: Slot, nodeId: string, floor: ReadFloor | null, now: number): void {
    slot.flags |= SLOT_PROBED;
    this.counters.probes++;
    const probe = new Slot(new ReadProbe(this, slot, floor, this.need(floor), nodeId), 2);
    link.send(probe, ROLE_FRAME, 0, ROLE_FRAME.length, now);
  }

  /** @internal a read's probe is back. */
  readProbed(p: ReadProbe, offset: number): void {
    if (offset >= 0) this.#applied.set(p.nodeId, offset);
    if (offset >= p.need) {
      p.floor?.raise(offset);
      this.counters.replica++;
    } else {
      p.read.flags |= SLOT_STALE;
      this.#staleNeed.set(p.read, p.need);
    }
    this.#check();
  }

  /** Holds the read `slot` until a replica has caught up, or the wait is over. */
  wait(client: GateClient, slot: Slot, floor: ReadFloor | null): void {
    slot.flags &= ~(SLOT_STALE | SLOT_PROBED);
    this.counters.waits++;
    const need = this.#staleNeed.get(slot) ?? this.need(floor);
    this.#staleNeed.delete(slot);
    this.#waiters.push({ client, slot, floor, need, since: this.#shard.now() });
    this.#arm();
  }

  /**
   * Sends a `ROLE` on `link` after `writes` writes just sent there: its
   * reply is the primary's offset with them in it, for the host and for
   * `floor` (the writing session's own, or null).
   */
  probeWrites(link: MuxLink, writes: number, floor: ReadFloor | null, now: number): void {
    const slot = new Slot(new WriteProbe(this, floor, writes), 2);
    link.send(slot, ROLE_FRAME, 0, ROLE_FRAME.length, now);
  }

  /** A tracked write's reply (or failure) arrived: its offset is owed until its probe is back. */
  answered(floor: ReadFloor | null): void {
    // The host's count is kept in every mode, so a reload that changes the mode keeps it true.
    this.#host.answered++;
    if (floor !== null) floor.answered++;
  }

  /** @internal a write probe is back (`offset` -1: lost). */
  writesCovered(p: WriteProbe, offset: number): void {
    this.#host.covered += p.writes;
    if (p.floor !== null) p.floor.covered += p.writes;
    if (offset >= 0) {
      if (offset > this.#primary) this.#primary = offset;
      this.#host.raise(offset);
      p.floor?.raise(offset);
    } else {
      // The writes' offset is not known: ask the primary itself.
      this.#host.distrust = true;
      if (p.floor !== null) {
        p.floor.distrust = true;
        this.#distrusted.add(p.floor);
      }
      this.#askPrimary();
    }
    this.#check();
  }

  /**
   * A command on a session's own connection to the primary was answered (a
   * transaction, a blocking command: it may have written, and no ROLE can
   * follow it there): reads wait for the primary's offset, asked now.
   */
  pinnedAnswered(floor: ReadFloor | null): void {
    if (this.mode === "host") this.#host.distrust = true;
    if (floor !== null) {
      floor.distrust = true;
      this.#distrusted.add(floor);
    }
    this.#askPrimary();
  }

  /** Asks the primary its offset; one ask at a time, again when needed since it left. */
  #askPrimary(): void {
    if (this.#asking) {
      this.#askAgain = true;
      return;
    }
    const w = this.#shard.writer();
    if (w === null) {
      this.#arm(); // asked again at the next tick
      return;
    }
    this.#asking = true;
    const slot = new Slot(new PrimaryProbe(this), 2);
    w.connection(2, 0).send(slot, ROLE_FRAME, 0, ROLE_FRAME.length, this.#shard.now());
  }

  /** @internal the primary's own offset (covers every write acknowledged before it was asked). */
  primaryAsked(offset: number): void {
    this.#asking = false;
    if (offset < 0) {
      this.#arm();
      return;
    }
    if (offset > this.#primary) this.#primary = offset;
    if (this.#askAgain) {
      // Something to cover happened after this ask was sent: ask once more.
      this.#askAgain = false;
      this.#askPrimary();
      return;
    }
    if (this.#host.distrust) {
      this.#host.distrust = false;
      this.#host.raise(offset);
    }
    for (const f of this.#distrusted) {
      f.distrust = false;
      f.raise(offset);
    }
    this.#distrusted.clear();
    this.#check();
  }

  /** @internal a replica's applied offset from a poll. */
  polled(nodeId: string, offset: number): void {
    this.#polling.delete(nodeId);
    if (offset >= 0) this.#applied.set(nodeId, offset);
    this.#check();
  }

  /** Releases held reads that can go now: to a caught-up replica, or past the wait to the primary. */
  #check(): void {
    if (this.#waiters.length === 0) return;
    const now = this.#shard.now();
    const waitMs = this.#shard.settings.consistencyWaitMs;
    const replicas = this.#shard.servingReplicas();
    const left: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.slot.done) continue;
      if (w.need === UNKNOWN) w.need = this.need(w.floor);
      const need = w.need;
      let to: NodeHandle | null = null;
      if (need !== UNKNOWN) {
        for (const r of replicas) {
          if (this.applied(r.id) >= need) {
            to = r;
            break;
          }
        }
      }
      if (to !== null) {
        w.floor?.raise(this.applied(to.id));
        this.counters.replica++;
        w.client.gateRelease(w.slot, to);
      } else if (now - w.since >= waitMs) {
        this.counters.fallbacks++;
        w.floor?.raise(this.#primary);
        w.client.gateRelease(w.slot, this.#shard.writer());
      } else left.push(w);
    }
    this.#waiters = left;
  }

  #arm(): void {
    if (this.#timer === null) this.#timer = setTimeout(this.#tickFn, CONSISTENCY_POLL_MS);
  }

  /** While reads are held: poll every serving replica (one poll at a time each), check deadlines. */
  #tick(): void {
    this.#timer = null;
    this.#check();
    if (!this.#asking && (this.#host.distrust || this.#distrusted.size > 0)) this.#askPrimary();
    if (this.#waiters.length === 0) return;
    const now = this.#shard.now();
    for (const r of this.#shard.servingReplicas()) {
      if (this.#polling.has(r.id)) continue;
      this.#polling.add(r.id);
      r.connection(2, 0).send(
        new Slot(new Poll(this, r.id), 2),
        ROLE_FRAME,
        0,
        ROLE_FRAME.length,
        now,
      );
    }
    this.#arm();
  }

  /** Stops polling (shard closing); held reads go to the primary. */
  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const w = this.#shard.writer();
    for (const x of this.#waiters.splice(0)) if (!x.slot.done) x.client.gateRelease(x.slot, w);
  }
}
