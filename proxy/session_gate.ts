/**
 * One client session's side of read-your-writes (`consistency.ts`): what
 * its reads must see, the writes it sent that still need a `ROLE` after
 * them, and the decision for each command it sends through a gated shard.
 *
 * @module
 */

import { Route } from "../resp/mod.ts";
import type { LinkUse, ListenerRole, MuxLink } from "./_runtime.ts";
import {
  type Slot,
  SLOT_NOSCRIPT_RETRIED,
  SLOT_OFFSET,
  SLOT_PROBED,
  SLOT_STALE,
  SLOT_WRITER,
} from "./_runtime.ts";
import { Admit, type GateClient, type ReadFloor, type ReadGate, UNKNOWN } from "./consistency.ts";
import { splitReads } from "./split_routing.ts";

/** What a session's read-your-writes part needs from its session. */
export interface GateSession extends GateClient {
  /** The port the session came in on. */
  readonly role: ListenerRole;
  /** Stops taking input until every reply before is out (a gated read was probed or held). */
  holdInput(): void;
}

/**
 * One session's side of read-your-writes: its floor (what its reads must
 * see), the writes it sent that still need a `ROLE` after them, and the
 * decision for each command it sends through a gated shard. The session
 * core calls it at a few points (send, reply, failure, hedge, end of a
 * batch, a pinned reply) and it calls back {@link GateSession}.
 */
export class SessionGate {
  #session: GateSession;
  /** Null on a router port (a floor is per shard; the host's still applies). */
  #floor: ReadFloor | null = null;
  #routed: boolean;
  /** Writes sent and not yet followed by a ROLE, per gate and connection. */
  #pending: { gate: ReadGate; link: MuxLink; writes: number }[] = [];
  #batch = false;
  /** A flush is queued for a write sent outside a batch. */
  #soon = false;
  #writesOut = 0;

  /** The gate part of `session` (`routed`: a router port's session). */
  constructor(session: GateSession, routed: boolean) {
    this.#session = session;
    this.#routed = routed;
  }

  /**
   * The session's tracked writes sent and not answered yet: a read behind
   * one goes to the primary (`send.ts` dispatch).
   */
  get writesOut(): number {
    return this.#writesOut;
  }

  /** The session's floor (made on first use), or null on a router port. */
  #own(gate: ReadGate): ReadFloor | null {
    return this.#routed ? null : (this.#floor ??= gate.newFloor());
  }

  /** A batch of input begins: writes' ROLE waits for its end ({@link flush}). */
  begin(): void {
    this.#batch = true;
  }

  /** The batch is sent: a ROLE after the writes on each of their connections. */
  flush(now: number): void {
    this.#batch = false;
    if (this.#pending.length === 0) return;
    const floor = this.#routed ? null : this.#floor;
    for (const o of this.#pending) o.gate.probeWrites(o.link, o.writes, floor, now);
    this.#pending.length = 0;
  }

  /**
   * True when the near cache may answer a read of this session: `nodeId`,
   * the node its entries come from (its invalidations evict them), is known
   * to have what the read needs — every change up to there has reached the
   * cache as an invalidation. The session's floor rises to that node's.
   */
  cacheOk(gate: ReadGate, nodeId: string | null): boolean {
    if (nodeId === null || this.#writesOut > 0) return false;
    const floor = this.#own(gate);
    const need = gate.need(floor);
    if (need === 0) return true;
    const at = gate.applied(nodeId);
    if (need === UNKNOWN || at < need) return false;
    floor?.raise(at);
    return true;
  }

  /**
   * A command about to go on `use` to a shard whose reads are gated
   * (`primary`: `use.node` is its primary): a write is tracked; a read is
   * admitted, sent behind a probe, or held (false: not to be sent now). A
   * read not sent as it is holds the session's input until answered, so
   * nothing after it overtakes it.
   */
  send(gate: ReadGate, slot: Slot, use: LinkUse, primary: boolean, now: number): boolean {
    if ((slot.flags & SLOT_WRITER) !== 0 || slot.route === Route.PRIMARY) {
      if (!gate.tracksWrites(this.#session.role)) return true;
      this.#own(gate);
      if ((slot.flags & SLOT_OFFSET) === 0) this.#writesOut++;
      slot.flags |= SLOT_OFFSET;
      const o = this.#pending.find((x) => x.link === use.link);
      if (o === undefined) this.#pending.push({ gate, link: use.link, writes: 1 });
      else o.writes++;
      // The ROLE must follow the write, which the caller sends after this returns:
      // at the end of the batch, or (a write outside one: a retry) once this call is done.
      if (!this.#batch && !this.#soon) {
        this.#soon = true;
        queueMicrotask(() => {
          this.#soon = false;
          this.flush(now);
        });
      }
      return true;
    }
    if (!splitReads(slot.route) || (slot.flags & SLOT_NOSCRIPT_RETRIED) !== 0) return true;
    slot.flags &= ~(SLOT_STALE | SLOT_PROBED);
    const floor = this.#own(gate);
    const v = gate.admit(slot, use.node, primary, floor);
    if (v === Admit.SEND) return true;
    this.#session.holdInput();
    if (v === Admit.PROBE) {
      gate.probeRead(use.link, slot, use.node.id, floor, now);
      return true;
    }
    gate.wait(this.#session, slot, floor);
    return false;
  }

  /**
   * A reply (or failure) of a slot flagged {@link SLOT_OFFSET} or
   * {@link SLOT_STALE}: a tracked write is counted (false); a read whose
   * probe found its replica behind is void and waits (true).
   */
  reply(gate: ReadGate, slot: Slot, closed: boolean): boolean {
    const floor = this.#routed ? null : this.#floor;
    if ((slot.flags & SLOT_OFFSET) !== 0) {
      slot.flags &= ~SLOT_OFFSET;
      this.#writesOut--;
      gate.answered(floor);
      return false;
    }
    if (!closed) gate.wait(this.#session, slot, floor);
    return true;
  }

  /** A reply on the session's own connection to the primary: what it wrote is not known yet. */
  pinned(gate: ReadGate): void {
    if (gate.tracksWrites(this.#session.role)) gate.pinnedAnswered(this.#own(gate));
  }

  /** A gated read may be hedged only to a node known to have what it needs (never once probed). */
  hedgeOk(gate: ReadGate, slot: Slot, nodeId: string): boolean {
    if ((slot.flags & SLOT_PROBED) !== 0) return false;
    return gate.caughtUp(nodeId, this.#routed ? null : this.#floor);
  }
}
