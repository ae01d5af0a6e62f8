/**
 * Reads the near cache answers (`cache/`). A hit is not written at once:
 * its slot waits in the FIFO until the end of the event-loop turn, when
 * every socket read of that turn has been handled — the tracking
 * connection's invalidations included. A hit whose entry is gone by then
 * is forwarded to a node like a miss. So a read that reached shardgate in
 * the same turn as the invalidation of its key, or after a stall in which
 * both queued up, never gets the old value. (That rests on the runtime
 * handing every socket read that is ready when the process runs again to
 * JavaScript before the turn ends: `tests/cache_test.ts` pauses shardgate
 * itself with both queued, and fails if the tracking connection's bytes
 * are read a turn later.)
 *
 * ```
 *  mux.ts routed(): lookup() ─ hit ─▶ slot in the FIFO (not done), command kept
 *  … the turn's other reads: tracker ─▶ invalidate k ─▶ entry.live = false
 *  end of turn (atTurnEnd, before the writes leave):
 *     live ─▶ fill(slot, reply) ─▶ written in order
 *     gone ─▶ retract() ─▶ sendSlot(): to a replica, as a miss would have gone
 * ```
 *
 * @module
 */

import { type CacheHit, nilReply } from "../../cache/mod.ts";
import { Route } from "../../resp/mod.ts";
import { atTurnEnd } from "../_io.ts";
import { type ShardRoutes, SLOT_CACHE_HIT } from "../_runtime.ts";
import type { SessionCore } from "./core.ts";
import { fill, newSlot } from "./fifo.ts";
import { sendSlot } from "./send.ts";

/** Sessions with hits to settle at the end of this turn. */
let due: SessionCore[] = [];
let spare: SessionCore[] = [];

/**
 * A shard port's read (the parser's command at hand, `buf[start, end)`):
 * true when `rt`'s near cache answers it (queued in order, settled at the
 * end of the turn). With read-your-writes on, only while the node the
 * cache is filled from is known to have what the session must see.
 */
export function fromCache(
  s: SessionCore,
  rt: ShardRoutes,
  buf: Uint8Array,
  start: number,
  end: number,
): boolean {
  const cache = rt.cache!;
  const gate = rt.gate;
  if (gate?.on && !s.gates().cacheOk(gate, cache.trackedNode)) return false;
  const hit = cache.lookup(s.parser, buf, s, s.now);
  if (hit === null) return false;
  answerFromCache(s, rt, hit, buf, start, end);
  return true;
}

/** Queues the read `buf[start, end)` of `s` as answered by `hit` of `rt`'s cache. */
function answerFromCache(
  s: SessionCore,
  rt: ShardRoutes,
  hit: CacheHit,
  buf: Uint8Array,
  start: number,
  end: number,
): void {
  const slot = newSlot(s, Route.READ);
  slot.rt = rt;
  slot.flags = SLOT_CACHE_HIT;
  slot.hit = hit;
  slot.reply = hit.reply ?? nilReply(s.proto);
  s.fifo.keep(slot, buf, start, end); // to forward it, should the entry go before the turn ends
  s.fifo.push(slot);
  if (s.hits.length === 0) {
    if (due.length === 0) atTurnEnd(settleAll);
    due.push(s);
  }
  s.hits.push(slot);
}

function settleAll(): void {
  const list = due;
  due = spare;
  spare = list;
  for (let i = 0; i < list.length; i++) settle(list[i]);
  list.length = 0;
}

/** Answers each of `s`'s waiting hits, or forwards it when its entry went meanwhile. */
function settle(s: SessionCore): void {
  const hits = s.hits;
  if (s.mode.kind === "closed") {
    hits.length = 0;
    return;
  }
  for (let i = 0; i < hits.length; i++) {
    const slot = hits[i];
    const hit = slot.hit!;
    slot.hit = null;
    if (hit.live) {
      fill(s, slot, slot.reply!);
      continue;
    }
    const rt = slot.rt!;
    rt.cache?.retract();
    s.now = s.rt.now(); // the send's clock (hedge delay, gate)
    slot.flags = 0;
    slot.reply = null;
    sendSlot(s, { rt, writer: false }, slot, slot.cmd!, slot.cmdStart, slot.cmdEnd);
  }
  hits.length = 0;
}
