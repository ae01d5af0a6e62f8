/**
 * What comes back for a multiplexed command: its reply (rewritten where
 * the session must: SCAN cursors, CLIENT LIST, a login), a retry on
 * another node for a read that met "not now" or a failure, NOSCRIPT sent
 * on to the primary, a demoted primary's READONLY held for the next one,
 * and hedged reads (a second copy of a slow read; the pair settles in
 * `HedgedRead`).
 *
 * @module
 */

import { Route, slabCopy } from "../../resp/mod.ts";
import { attemptEnded } from "../_record.ts";
import { HedgedRead, Settle } from "../_hedged_read.ts";
import { replyText, textReply } from "../_clients.ts";
import { rewriteScanReply } from "../_scan.ts";
import {
  type FailReason,
  Slot,
  SLOT_AFTER_WRITE,
  SLOT_BOUND,
  SLOT_CLIENT_LIST,
  SLOT_GATED,
  SLOT_KEEP,
  SLOT_LOGIN,
  SLOT_NOSCRIPT_RETRIED,
  SLOT_NOSCRIPT_RETRY,
  SLOT_OFFSET,
  SLOT_SCAN,
  SLOT_STALE,
  SLOT_WRITER,
} from "../_runtime.ts";
import { errorReply, ErrorText } from "../errors.ts";
import { startsWith, unavailableReply } from "../node_connection.ts";
import type { SessionCore } from "./core.ts";
import { loggedIn } from "./conn_state.ts";
import { deliver, fill } from "./fifo.ts";
import { startClosing } from "./flow.ts";
import {
  answered,
  hold,
  holdable,
  linkFor,
  replayable,
  retry,
  retryOnPrimary,
  sendOn,
} from "./send.ts";

const MINUS = 45;
const te = new TextEncoder();
const NOSCRIPT = te.encode("-NOSCRIPT");
const READONLY = te.encode("-READONLY ");

/** A reply for `slot` arrived from its node. */
export function onReply(
  s: SessionCore,
  slot: Slot,
  buf: Uint8Array,
  start: number,
  end: number,
): void {
  answered(slot);
  if (
    (slot.flags & (SLOT_OFFSET | SLOT_STALE)) !== 0 &&
    s.gates().reply(slot.rt!.gate!, slot, s.mode.kind === "closed")
  ) {
    return; // a read its probe found behind: it waits (read-your-writes)
  }
  if (s.mode.kind === "closed") return;
  let main = slot; // the slot in the FIFO (a hedge's original)
  const pair = slot.hedged;
  if (pair !== null) {
    main = pair.main;
    const notNow = unavailableReply(buf, start, end) !== null ||
      startsWith(buf, start, end, NOSCRIPT);
    switch (pair.settle(slot, notNow)) {
      case Settle.DROP: // the other copy answered first
        attemptEnded(main.trace, slot.nodeId, "lost");
        return;
      case Settle.WAIT: // "not now" from one node: the other copy may still answer
        attemptEnded(main.trace, slot.nodeId, "error");
        return;
      case Settle.WON: {
        const rt = main.rt!;
        rt.commandStats?.recordHedge(true);
        attemptEnded(main.trace, slot.nodeId, "won");
        break;
      }
    }
  }
  if (main.trace !== null) {
    attemptEnded(main.trace, slot.nodeId, buf[start] === MINUS ? "error" : "ok");
  }
  if ((main.flags & SLOT_CLIENT_LIST) !== 0 && buf[start] !== MINUS) {
    const text = replyText(buf, start, end);
    const rt = main.rt!;
    if (text !== null) return fill(s, main, textReply(s.proto, rt.clientList(slot.nodeId, text)));
  }
  if ((main.flags & SLOT_LOGIN) !== 0) {
    return fill(s, main, loggedIn(s, main, buf[start] !== MINUS, buf, start, end));
  }
  if (buf[start] === MINUS) {
    if (
      replayable(main) && main.cmd !== null && main.attempts <= s.rt.settings.retries &&
      unavailableReply(buf, start, end) !== null && retry(s, main)
    ) {
      return;
    }
    if (
      (main.flags & (SLOT_NOSCRIPT_RETRY | SLOT_NOSCRIPT_RETRIED)) === SLOT_NOSCRIPT_RETRY &&
      main.cmd !== null && startsWith(buf, start, end, NOSCRIPT) && retryOnPrimary(s, main)
    ) {
      return;
    }
    // The node we took for the primary was demoted: the write did not
    // run. It waits for the new primary (in order with the session's others).
    if (startsWith(buf, start, end, READONLY) && holdable(s, main)) {
      return hold(s, main, slot.nodeId);
    }
  } else if (main.route === Route.SELECT) {
    s.db = main.selectDb;
  } else if ((main.flags & SLOT_SCAN) !== 0) {
    const out = rewriteScanReply(buf, start, end, main.rt!.scanTag(slot.nodeId));
    if (out !== null) return fill(s, main, out);
  }
  if ((main.flags & SLOT_WRITER) !== 0) main.rt!.cache?.acked(main); // before the client sees it
  if (main.group !== null) return fill(s, main, slabCopy(buf, start, end));
  deliver(s, main, buf, start, end);
}

/** The node connection of `failed` failed before its reply. */
export function onFail(
  s: SessionCore,
  failed: Slot,
  reason: FailReason,
  nodeId: string,
  sent: boolean,
  detail: string | null,
): void {
  answered(failed);
  if ((failed.flags & SLOT_OFFSET) !== 0) s.gates().reply(failed.rt!.gate!, failed, true);
  if (s.mode.kind === "closed" || failed.done) return; // done: a hedged read's late loser
  let slot = failed;
  const pair = failed.hedged;
  if (pair !== null) {
    slot = pair.main;
    const settled = pair.settle(failed, true);
    if (settled === Settle.DROP) return;
    attemptEnded(slot.trace, nodeId, reason);
    if (settled === Settle.WAIT) return; // the other copy may answer
  } else attemptEnded(slot.trace, nodeId, reason);
  const rt = slot.rt!;
  const bound = (slot.flags & SLOT_BOUND) !== 0;
  // A write that never reached the primary (it could not be connected to)
  // waits for a primary that can take it.
  if (!sent && reason === "connect failed" && holdable(s, slot)) return hold(s, slot, nodeId);
  if (
    slot.cmd !== null && !bound && reason !== "handshake refused" &&
    (replayable(slot) || !sent) && slot.attempts <= rt.settings.retries && retry(s, slot)
  ) {
    return;
  }
  if ((slot.flags & SLOT_LOGIN) !== 0) {
    // The node refused the client's credentials: its own words (-WRONGPASS …).
    const words = reason === "handshake refused" && detail !== null
      ? detail
      : ErrorText.writeLost(nodeId, reason);
    s.pendingLogin = null;
    return fill(s, slot, errorReply(words));
  }
  if (reason === "handshake refused" && s.user !== null && detail !== null) {
    // The node no longer takes this client's credentials (user deleted,
    // password changed): its words, and the session ends, as Redis ends
    // a deleted user's connections.
    fill(s, slot, errorReply(detail));
    return startClosing(s);
  }
  let msg: string;
  if (reason === "handshake refused") {
    msg = slot.route === Route.SELECT && detail !== null
      ? detail
      : ErrorText.setupRefused(nodeId, detail ?? "");
  } else if (bound) msg = ErrorText.scanLost(nodeId, reason);
  else if (replayable(slot)) msg = ErrorText.readFailed(nodeId, reason, slot.attempts);
  else msg = ErrorText.writeLost(nodeId, reason);
  fill(s, slot, errorReply(msg));
}

/**
 * A read has waited past the hedge delay (the shard's hedge check): send
 * a copy to another serving node, if the budget allows. The first reply
 * wins; the other is dropped when it comes. True for a read that could be
 * hedged (its node is then avoided until it answers). A read is hedged at
 * most once.
 */
export function hedge(s: SessionCore, slot: Slot, now: number, stalled: boolean): boolean {
  const r = slot.route;
  if (
    s.mode.kind === "closed" || slot.cmd === null || slot.done || !HedgedRead.mayHedge(slot) ||
    (r !== Route.READ && r !== Route.SCAN && r !== Route.SCRIPT_READ) ||
    (slot.flags & (SLOT_BOUND | SLOT_WRITER | SLOT_AFTER_WRITE)) !== 0
  ) {
    return false;
  }
  const rt = slot.rt!;
  const node = rt.pickReader(slot.nodeId);
  if (
    node !== null && (slot.flags & SLOT_GATED) !== 0 && !s.gates().hedgeOk(rt.gate!, slot, node.id)
  ) {
    return true; // a gated read goes only to a node known to have what it needs
  }
  if (node === null || node.id === slot.nodeId || !rt.takeHedge(stalled)) return true;
  const copy = new Slot(s, slot.route);
  copy.flags = SLOT_KEEP | (slot.flags & SLOT_SCAN);
  copy.rt = slot.rt;
  slot.flags |= SLOT_KEEP;
  new HedgedRead(slot, copy);
  rt.commandStats?.recordHedge(false);
  sendOn(linkFor(s, node, s.db), copy, slot.cmd, slot.cmdStart, slot.cmdEnd, now);
  slot.trace?.push({
    kind: "hedge",
    node: copy.nodeId,
    time: performance.timeOrigin + now,
    result: "",
  });
  return true;
}
