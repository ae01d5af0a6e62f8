/**
 * The multiplexed path: each parsed command is answered here (connection
 * state), or goes where the port's routing decides — a shard's readers or
 * writer on a shared node connection, by its route, or a pin; a router
 * port's also to several shards, or held for a transaction.
 *
 * @module
 */

import {
  CLIENT_MAX_INFLIGHT,
  CLIENT_OUTPUT_HIGH_WATER,
  NODE_OUTPUT_HIGH_WATER,
} from "../../config/defaults.ts";
import { INCOMPLETE, Route, routeOf } from "../../resp/mod.ts";
import { parseHello } from "../_local.ts";
import { KeyVerdict, type LinkUse } from "../_runtime.ts";
import { SLOT_NOSCRIPT_RETRY } from "../_runtime.ts";
import { errorReply, ErrorText, Replies } from "../errors.ts";
import type { SessionCore, Target } from "./core.ts";
import {
  args,
  auth,
  clientState,
  commandName,
  hello,
  introspection,
  login,
  mayRun,
  reset,
  select,
} from "./conn_state.ts";
import { SESSION_ROUTES } from "./decision.ts";
import { local } from "./fifo.ts";
import { quietFifo, startClosing, waitForNode } from "./flow.ts";
import { broadcast, fanout, frameOf, scan } from "./fanout.ts";
import { BROKEN, frame } from "./framing.ts";
import { toPinned } from "./pinned.ts";
import { fromCache } from "./cache_hit.ts";
import { forward } from "./send.ts";

/** Feeds the multiplexed path; returns how far the input was consumed. */
export function feedMux(s: SessionCore, buf: Uint8Array, start: number, end: number): number {
  const fifo = s.fifo;
  const parser = s.parser;
  const batch = s.batch;
  let pos = start;
  batch.use = null;
  s.gate?.begin();
  while (pos < end && s.mode.kind === "mux" && fifo.length < CLIENT_MAX_INFLIGHT) {
    const next = frame(s, buf, pos, end);
    if (next === BROKEN) return end;
    if (next === INCOMPLETE) break;
    if (parser.argc > 0 && !muxCommand(s, buf, pos, next)) break;
    pos = next;
    const use = batch.use as LinkUse | null; // set by the command's send
    if (use !== null && use.link.writePending > NODE_OUTPUT_HIGH_WATER) {
      // The node is not taking bytes as fast as this client sends them.
      waitForNode(s, use.link);
      break;
    }
  }
  batch.use = null;
  s.gate?.flush(s.now);
  if (
    s.mode.kind === "mux" &&
    (fifo.length >= CLIENT_MAX_INFLIGHT || s.io.pending > CLIENT_OUTPUT_HIGH_WATER)
  ) {
    s.rt.counters.backpressurePauses++;
    s.io.pause();
  }
  return pos;
}

/**
 * Handles one parsed command on the multiplexed path; false when it was
 * not consumed (it is handled again once the session pinned or waited).
 */
function muxCommand(s: SessionCore, buf: Uint8Array, start: number, end: number): boolean {
  const parser = s.parser;
  const route = routeOf(parser, buf);
  s.rec.tag(parser, buf);
  if (!mayRun(s, route)) {
    local(s, Replies.noAuth);
    return true;
  }
  if (!SESSION_ROUTES.has(route)) {
    if (
      route === Route.WRITE && s.decision.routing.introspects && parser.argc >= 2 &&
      isClientCommand(s, buf) && introspection(s, s.stateShard, buf, start, end)
    ) {
      return true;
    }
    return routed(s, route, buf, start, end);
  }
  switch (route) {
    case Route.SYNC:
    case Route.REPLCONF:
      if (s.role === "readers") {
        local(s, errorReply(ErrorText.replicationOnReaders(commandName(s, buf))));
        return true;
      }
      return toPinned(s, s.stateShard);
    case Route.QUIT:
      local(s, Replies.ok);
      startClosing(s);
      return true;
    case Route.AUTH:
      if (s.rt.settings.clientPassword === null) {
        return login(s, s.stateShard, buf, start, end, null);
      }
      local(s, auth(s, buf, start, end));
      return true;
    case Route.SELECT:
      // A router port's database: its first shard's primary says whether it exists.
      select(s, s.stateShard, buf, start, end);
      return true;
    case Route.HELLO:
      // The commands after it may go to connections of another protocol:
      // those before it run first.
      if (!quietFifo(s)) return false;
      if (s.rt.settings.clientPassword === null) {
        const req = parseHello(args(s, buf, start, end));
        if (req.ok && req.password !== null) return login(s, s.stateShard, buf, start, end, req);
      }
      local(s, hello(s, buf, start, end));
      return true;
    case Route.RESET:
      if (!quietFifo(s)) return false;
      reset(s);
      local(s, Replies.reset);
      return true;
    case Route.CLIENT_SETNAME:
    case Route.CLIENT_GETNAME:
    case Route.CLIENT_SETINFO:
      local(s, clientState(s, route, buf, start, end));
      return true;
    default:
      local(s, errorReply(ErrorText.refused(commandName(s, buf))));
      return true;
  }
}

/** Sends a command that goes to a node on the multiplexed path, by its route, to `to`. */
function forwardByRoute(
  s: SessionCore,
  to: Target,
  route: Route,
  buf: Uint8Array,
  start: number,
  end: number,
): void {
  switch (route) {
    case Route.SCRIPT_READ:
    case Route.SCRIPT_WRITE:
      forward(s, to, route, to.writer ? 0 : SLOT_NOSCRIPT_RETRY, buf, start, end);
      return;
    case Route.SCAN:
      if (!to.writer) scan(s, to, buf, start, end);
      else forward(s, to, Route.READ, 0, buf, start, end);
      return;
    case Route.BROADCAST:
      broadcast(s, to, buf, start, end);
      return;
    default:
      forward(s, to, route, 0, buf, start, end);
  }
}

/**
 * A command that goes where the port's routing decides (a shard port's:
 * always its shard); false when not consumed.
 */
function routed(s: SessionCore, route: Route, buf: Uint8Array, start: number, end: number) {
  const decision = s.decision;
  const routing = decision.routing;
  const verdict = decision.decide(s.parser, buf, route);
  switch (verdict) {
    case KeyVerdict.LOCAL:
      local(s, routing.reply!);
      return true;
    case KeyVerdict.HOLD:
      // Answered now (+OK, +QUEUED), sent once the transaction's shard is
      // known; the node's own replies to it are then not the client's.
      decision.held.push(frameOf(s, buf, start, end));
      local(s, routing.reply!);
      return true;
    case KeyVerdict.DROP_HELD:
    case KeyVerdict.ABORT:
      decision.held = [];
      local(s, routing.reply!);
      return true;
    case KeyVerdict.FANOUT:
      fanout(s, routing.parts, routing.merge);
      return true;
  }
  const to = s.routed;
  to.rt = routing.shard!;
  to.writer = routing.toWriter;
  if (
    route === Route.READ && !to.writer && routing.introspects && (to.rt.cache ?? null) !== null &&
    fromCache(s, to.rt, buf, start, end)
  ) {
    return true;
  }
  if (routing.transaction || route === Route.PIN) {
    const consumed = toPinned(s, to);
    if (!consumed) decision.keep(verdict);
    return consumed;
  }
  forwardByRoute(s, to, route, buf, start, end);
  return true;
}

/** A cheap first look: is the parsed command CLIENT (any case)? */
function isClientCommand(s: SessionCore, buf: Uint8Array): boolean {
  const p = s.parser;
  if (p.inline) return false;
  const b = p.argStart[0];
  return p.argEnd[0] - b === 6 && (buf[b] | 0x20) === 99 && (buf[b + 1] | 0x20) === 108; // "cl"
}
