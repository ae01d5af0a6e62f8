/**
 * One client session's decisions, without sockets: what it holds, and the
 * entry points its socket (`client_session.ts`) and its node connections
 * call. The work is in the files beside it, each owning one part:
 *
 * ```
 *  feed(bytes) ─▶ mode (mode.ts, flow.ts)
 *     mux ─▶ mux.ts: framing.ts, then by route
 *              ├─ conn_state.ts  AUTH, HELLO, SELECT, RESET, CLIENT …  ─┐
 *              ├─ cache_hit.ts   near cache hits, settled at turn end   │
 *              ├─ send.ts        a node, its connection; held writes    │
 *              ├─ fanout.ts      SCAN cursors, every node, split/merge  ├─▶ fifo.ts ─▶ io.write()
 *              └─ pinned.ts      a connection of its own (PinTracker) ──┘   (in order)
 *  node replies ─▶ attempts.ts   retries, NOSCRIPT, READONLY, hedged reads
 * ```
 *
 * @module
 */

import { RequestParser } from "../../resp/mod.ts";
import { PortRole } from "../../telemetry/mod.ts";
import { CommandRecorder } from "../_record.ts";
import { turn } from "../_io.ts";
import type { HelloRequest } from "../_local.ts";
import type { Credential } from "../_credential.ts";
import type { ClientView } from "../_clients.ts";
import type {
  FailReason,
  KeyRouting,
  LinkUse,
  ListenerRole,
  NodeHandle,
  PinSink,
  PortContext,
  ShardRoutes,
  Slot,
  SlotOwner,
  WriterWaiter,
} from "../_runtime.ts";
import { hedge, onFail, onReply } from "./attempts.ts";
import { Decision } from "./decision.ts";
import { ReplyFifo } from "./fifo.ts";
import { end, maybeResume, startClosing } from "./flow.ts";
import { type Mode, type ModeKind, MUX } from "./mode.ts";
import { feedMux } from "./mux.ts";
import {
  feedPinned,
  leaveNode,
  onClosed,
  onData,
  onFrame,
  pinnedLink,
  watchNode,
} from "./pinned.ts";
import { failHeldWrites, HeldWrites, linkFor, sendHeldWrites, sendOn } from "./send.ts";
import { SessionGate } from "../session_gate.ts";
import { fill } from "./fifo.ts";
import { waitFor } from "./flow.ts";
import { errorReply } from "../errors.ts";

/** What the session core needs from its socket. */
export interface SessionIO {
  /** Queues reply bytes `buf[start, end)` (copied). */
  write(buf: Uint8Array, start?: number, end?: number): void;
  /** Queues reply bytes nobody changes afterwards (a near-cache entry's): large ones without a copy. */
  writeShared(bytes: Uint8Array): void;
  /** Reply bytes not written to the client yet. */
  readonly pending: number;
  /** True while input is paused. */
  readonly paused: boolean;
  /** Stops feeding input. */
  pause(): void;
  /** Feeds input again: first what was left unconsumed, then new bytes. */
  resume(): void;
  /** Writes out what is queued, half-closes, then closes (never a reset over a reply). */
  finish(): void;
  /** Closes now. */
  close(): void;
}

/** Where a command goes: a shard, and its writer (else its readers). */
export interface Target {
  /** The shard. */
  rt: ShardRoutes;
  /** To its writer (the primary). */
  writer: boolean;
}

/** The node connection one batch of input (one pipeline) stays on. */
export interface Batch {
  /** The connection, or null: pick afresh. */
  use: LinkUse | null;
  /** The shard of {@link use}. */
  rt: ShardRoutes | null;
  /** {@link use} is to the shard's writer. */
  writer: boolean;
}

let lastClientId = 0;

/**
 * One client connection's decisions. Its fields are the session's state,
 * shared by the files of this folder (each says which part it owns); from
 * outside, use the methods and the read-only getters.
 */
export class SessionCore implements SlotOwner, PinSink, WriterWaiter, ClientView {
  /** Listener role this client connected to. */
  readonly role: ListenerRole;
  /** The session's own client id (HELLO reports it). */
  readonly id: number = ++lastClientId;
  /** RESP version the client speaks. */
  proto: 2 | 3 = 2;
  /** Database the client selected. */
  db = 0;
  /** Client name (CLIENT SETNAME / HELLO SETNAME), or null. */
  name: string | null = null;
  /** The client's own user (AUTH without a listener password: the node checked it), or null. */
  user: Credential | null = null;
  /** CLIENT SETINFO lib-name, or null. */
  libName: string | null = null;
  /** CLIENT SETINFO lib-ver, or null. */
  libVer: string | null = null;
  /** Last time the client sent something (client_idle). */
  lastActive: number;
  /** When the session started (data-path ms). */
  readonly createdAt: number;
  /** The client's address, `ip:port` (set by the listener). */
  peer = "";
  /** The listener's address, `ip:port` (set by the listener). */
  local = "";

  /** What the session does with input and replies now (`mode.ts`; changed by `flow.ts` `enter`). */
  mode: Mode = MUX;
  /** Tests: called on every mode change. */
  onTransition: ((from: ModeKind, to: ModeKind) => void) | null = null;
  /** The socket. */
  readonly io: SessionIO;
  /** The port: settings, counters, clock (a shard's own, or a router port's). */
  readonly rt: PortContext;
  /** Where each command goes: the port's routing and the decision at hand. */
  readonly decision: Decision;
  /** The target the decision picked for the command at hand (reused). */
  readonly routed: Target;
  /** The client's input parser. */
  readonly parser: RequestParser = new RequestParser();
  /** The reply FIFO (`fifo.ts`). */
  readonly fifo: ReplyFifo = new ReplyFifo();
  /** The listener's password was given (or there is none). */
  authed: boolean;
  /** The connection this batch of input goes to (`send.ts`). */
  readonly batch: Batch = { use: null, rt: null, writer: false };
  /** Per node and pool: the connection carrying the session's unanswered commands there. */
  readonly uses: LinkUse[] = [];
  /** Data-path ms of the input or timer turn at hand. */
  now = 0;
  /** Input is paused until a node connection takes its backlog. */
  nodeWait = false;
  /**
   * The client's own AUTH whose reply is awaited (`conn_state.ts` login);
   * `shards`: the credentials are the port's shard's own `auth`.
   */
  pendingLogin: {
    cred: Credential;
    hello: HelloRequest & { ok: true } | null;
    shards: boolean;
  } | null = null;
  /** Writes waiting for a shard's next primary (`send.ts`). */
  readonly held: HeldWrites = new HeldWrites();
  /** Metrics and spans of the commands. */
  readonly rec: CommandRecorder;
  /** Reads the near cache answered this turn, settled at its end (`cache_hit.ts`). */
  readonly hits: Slot[] = [];
  /** Read-your-writes (`session_gate.ts`), made once a command goes to a gated shard. */
  gate: SessionGate | null = null;
  /** Called once the session closed. */
  readonly onCloseFn: (core: SessionCore) => void;

  /**
   * A session for a client of `role` on the port `port`, writing to `io`;
   * `routing` picks each command's shard (a shard port's: always its own,
   * see `ShardPortRouting`).
   */
  constructor(
    io: SessionIO,
    role: ListenerRole,
    port: PortContext,
    routing: KeyRouting,
    onClose: (core: SessionCore) => void = () => {},
  ) {
    const rt = port;
    this.io = io;
    this.role = role;
    this.rt = rt;
    this.routed = { rt: routing.firstShard, writer: false };
    this.onCloseFn = onClose;
    this.decision = new Decision(routing);
    this.rec = new CommandRecorder(
      routing.introspects ? PortRole[role] : PortRole.router,
      rt.tracer,
    );
    this.authed = rt.settings.clientPassword === null;
    this.lastActive = this.createdAt = rt.now();
  }

  /**
   * Where connection state goes that a node decides (a client's own AUTH,
   * SELECT): the port's shard, or a router port's first shard's primary.
   */
  get stateShard(): Target {
    const r = this.decision.routing;
    return { rt: r.firstShard, writer: r.stateToWriter };
  }

  /** The ACL user the session runs as, as introspection shows it (the shard's `auth` user unless its own). */
  get userName(): string {
    return this.user?.user ?? this.rt.settings.auth?.username ?? "default";
  }

  /** The shard of the pinned connection (router ports: the one the session pinned to), or null. */
  get pinnedShard(): ShardRoutes | null {
    const m = this.mode;
    if (m.kind === "pinned" || m.kind === "raw") return m.shard;
    return m.kind === "closing" && m.link !== null ? m.pin?.shard ?? null : null;
  }

  /** The current mode's tag. */
  get modeKind(): ModeKind {
    return this.mode.kind;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.mode.kind === "closed";
  }

  /** True while the session has a node connection of its own. */
  get pinned(): boolean {
    return pinnedLink(this) !== null;
  }

  /** The node of the session's own connection, or null. */
  get pinnedNode(): string | null {
    const m = this.mode;
    if (m.kind === "pinned" || m.kind === "raw") return m.node;
    return m.kind === "closing" && m.link !== null ? m.pin?.node ?? null : null;
  }

  /** Commands waiting for their reply (multiplexed, and owed on the pinned connection). */
  get inflight(): number {
    return this.fifo.length + (this.#pin()?.tracker.owed ?? 0);
  }

  /** When the pinned node stopped serving while a reply was still owed (ms), or 0. */
  get leavingSince(): number {
    return this.#pin()?.leavingSince ?? 0;
  }

  /** When the oldest held write was held (data-path ms), or -1 when none is. */
  get heldSince(): number {
    return this.held.slots.length === 0 ? -1 : this.held.since;
  }

  /**
   * Takes the client's bytes `buf[start, end)`; returns how far they were
   * consumed (the rest is fed again after {@link SessionIO.resume}).
   * `moved`: the caller moved its unconsumed bytes since the last call.
   */
  feed(buf: Uint8Array, start: number, end: number, moved = false): number {
    if (moved) this.parser.reset();
    this.now = this.lastActive = turn.now = this.rt.now();
    let pos = start;
    for (;;) {
      const mode = this.mode;
      if (mode.kind === "mux") pos = feedMux(this, buf, pos, end);
      else if (mode.kind === "pinned") {
        if (mode.waiting) return pos;
        pos = feedPinned(this, buf, pos, end);
      } else if (mode.kind === "raw") {
        mode.link.sendRaw(buf, pos, end);
        watchNode(this);
        return end;
      } else if (mode.kind === "closing" || mode.kind === "closed") return end;
      else return pos;
      if (pos >= end || this.mode === mode || this.io.paused) return pos;
    }
  }

  /** Every reply written: resume reading (multiplexed or pinned), finish a close. */
  onDrained(): void {
    pinnedLink(this)?.resumeReading();
    maybeResume(this);
  }

  /**
   * Closes now: the client went away, or it must go (timeouts, drain
   * deadline). The pinned connection closes with it.
   */
  close(): void {
    if (this.mode.kind !== "closed") end(this, false);
  }

  /** Finishes in-flight replies, then closes (drain on reload or shutdown). */
  drain(): void {
    const kind = this.mode.kind;
    if (kind === "closed" || kind === "closing") return;
    if (kind === "raw") return this.close();
    startClosing(this);
  }

  /**
   * The pinned node stopped serving this session's port (down, ejected,
   * lagging, removed, no longer the primary): close at once if nothing is
   * owed, else right after the owed reply (the shard's ticker closes it if
   * that takes longer than the server timeout).
   */
  leaveNode(): void {
    leaveNode(this);
  }

  /** A reply for `slot` arrived from its node. */
  onReply(slot: Slot, buf: Uint8Array, start: number, end: number): void {
    onReply(this, slot, buf, start, end);
  }

  /** The node connection of `slot` failed before its reply. */
  onFail(
    slot: Slot,
    reason: FailReason,
    nodeId: string,
    sent: boolean,
    detail: string | null,
  ): void {
    onFail(this, slot, reason, nodeId, sent, detail);
  }

  /**
   * A read has waited past the hedge delay: send a copy to another serving
   * node if the budget allows (see `attempts.ts`).
   */
  hedge(slot: Slot, now: number, stalled = false): boolean {
    return hedge(this, slot, now, stalled);
  }

  /** The shard named a primary (see {@link ShardRoutes.awaitWriter}): send what was held. */
  writerChanged(): void {
    sendHeldWrites(this);
  }

  /** Held past `timeouts.failover`: each held write gets a clear error. */
  holdExpired(): void {
    failHeldWrites(this);
  }

  /** A frame from the pinned connection: to the client, then counted. */
  onFrame(buf: Uint8Array, start: number, end: number): void {
    onFrame(this, buf, start, end);
  }

  /** Raw mode: node bytes to the client. */
  onData(buf: Uint8Array, start: number, end: number): void {
    onData(this, buf, start, end);
  }

  /** The pinned connection ended: its state is gone, so the client goes too (after its replies). */
  onClosed(reason: FailReason | null, _detail: string | null): void {
    onClosed(this, reason);
  }

  /** The session's read-your-writes part, made on first use. */
  gates(): SessionGate {
    return this.gate ??= new SessionGate(this, !this.decision.routing.introspects);
  }

  /** A gated read was probed or held: no more input until every reply before it is out. */
  holdInput(): void {
    if (this.mode.kind === "mux") waitFor(this, "gate");
  }

  /** The gate sends a read it held to `node` (null: no node to send it to). */
  gateRelease(slot: Slot, node: NodeHandle | null): void {
    if (this.mode.kind === "closed" || slot.done) return;
    const rt = slot.rt!;
    if (node === null) return fill(this, slot, errorReply(rt.noNodeError("readers")));
    this.now = rt.now();
    sendOn(linkFor(this, node, this.db), slot, slot.cmd!, slot.cmdStart, slot.cmdEnd, this.now);
  }

  /** When the oldest reply owed on the pinned connection was asked for (server timeout). */
  pendingSince(): number {
    return this.#pin()?.tracker.pendingSince() ?? -1;
  }

  /** The pin whose replies are counted (pinned, or closing after them), or null. */
  #pin() {
    const m = this.mode;
    return m.kind === "pinned" ? m : m.kind === "closing" ? m.pin : null;
  }
}
