/**
 * Test-only fakes for the session core: a shard runtime, nodes whose
 * connections record what was sent and let a test answer, and a client
 * side that feeds bytes the way the socket plumbing does.
 *
 * @module
 */

import type { ShardSettings } from "../config/types.ts";
import { parseConfig } from "../config/mod.ts";
import type { ServerIdentity } from "./_local.ts";
import type { Credential } from "./_credential.ts";
import { type ClientView, rewriteClientList } from "./_clients.ts";
import {
  type CursorNode,
  type ListenerRole,
  type MuxLink,
  type NodeHandle,
  type PinnedLink,
  ShardPortRouting,
  type ShardRoutes,
  type Slot,
  type WriterWaiter,
} from "./_runtime.ts";
import { ShardCounters } from "./metrics.ts";
import { COMMAND_NAMES } from "../resp/mod.ts";
import { CommandStats } from "../telemetry/mod.ts";
import type { ConnectionSetup, PinSink } from "./node_connection.ts";
import { SessionCore, type SessionIO } from "./session/mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** A multiplexed connection that records commands; the test answers them. */
export class FakeMux implements MuxLink {
  /** Commands sent, oldest first, with the slot waiting for each. */
  readonly sent: { slot: Slot; text: string }[] = [];
  closed = false;
  writePending = 0;

  constructor(readonly node: FakeNodeHandle, readonly proto: 2 | 3, readonly db: number) {}

  send(slot: Slot, src: Uint8Array, start: number, end: number): void {
    slot.attempts++;
    slot.nodeId = this.node.id;
    this.sent.push({ slot, text: td.decode(src.subarray(start, end)) });
  }

  whenDrained(fn: () => void): void {
    fn();
  }

  /** Answers the oldest unanswered command with `reply`. */
  reply(reply: string): void {
    const next = this.sent.find((s) => !this.#answered.has(s));
    if (next === undefined) throw new Error(`nothing to answer on ${this.node.id}`);
    this.#answered.add(next);
    const bytes = te.encode(reply);
    next.slot.owner.onReply(next.slot, bytes, 0, bytes.length);
  }

  /** Fails every unanswered command as a broken connection would. */
  fail(): void {
    this.closed = true;
    for (const s of this.sent) {
      if (this.#answered.has(s)) continue;
      this.#answered.add(s);
      s.slot.owner.onFail(s.slot, "connection lost", this.node.id, true, null);
    }
  }

  #answered = new Set<{ slot: Slot; text: string }>();
}

/** A pinned connection that records what the session sent; the test pushes frames. */
export class FakePinned implements PinnedLink {
  /** Everything the session sent, as text. */
  text = "";
  closed = false;
  raw = false;
  writePending = 0;

  constructor(
    readonly node: FakeNodeHandle,
    readonly sink: PinSink,
    readonly setup: ConnectionSetup,
  ) {}

  sendRaw(src: Uint8Array, start: number, end: number): void {
    this.text += td.decode(src.subarray(start, end));
  }
  toRaw(): void {
    this.raw = true;
  }
  pauseReading(): void {}
  resumeReading(): void {}
  whenDrained(fn: () => void): void {
    fn();
  }
  close(): void {
    this.closed = true;
  }
  /** The fake's nodes need no AUTH. */
  reauth(): boolean {
    return false;
  }
  /** Released to the node's idle pool (the fake just closes it). */
  release(): void {
    this.closed = true;
  }

  /** The node sends `frames` (each one complete frame). */
  frames(...frames: string[]): void {
    for (const f of frames) {
      const b = te.encode(f);
      this.sink.onFrame(b, 0, b.length);
    }
  }
}

/** A node of the fake shard. */
export class FakeNodeHandle implements NodeHandle {
  /** Multiplexed connections by `proto/db`. */
  readonly mux = new Map<string, FakeMux>();
  /** Pinned connections opened, oldest first. */
  readonly pinned: FakePinned[] = [];
  /**
   * Connections per pool: with more than 1, each call of connection()
   * hands out the next one in turn (a pool the session must not scatter
   * its commands over); `mux` keeps the first of each pool.
   */
  poolSize = 1;
  /** Every connection of each pool by `proto/db`, when poolSize > 1. */
  readonly pools = new Map<string, FakeMux[]>();
  #turn = 0;

  constructor(readonly id: string) {}

  connection(proto: 2 | 3, db: number, user: Credential | null = null): FakeMux {
    const key = user === null ? `${proto}/${db}` : `${user.user}/${proto}/${db}`;
    if (this.poolSize > 1) {
      let pool = this.pools.get(key);
      if (pool === undefined) {
        pool = Array.from({ length: this.poolSize }, () => new FakeMux(this, proto, db));
        this.pools.set(key, pool);
        this.mux.set(key, pool[0]);
      }
      return pool[this.#turn++ % pool.length];
    }
    let c = this.mux.get(key);
    if (c === undefined || c.closed) {
      c = new FakeMux(this, proto, db);
      this.mux.set(key, c);
    }
    return c;
  }

  openPinned(sink: PinSink, setup: ConnectionSetup): FakePinned {
    const p = new FakePinned(this, sink, setup);
    this.pinned.push(p);
    return p;
  }

  /** The RESP2 database 0 connection. */
  get main(): FakeMux {
    return this.connection(2, 0);
  }
}

/** A shard of fake nodes: the first is the primary, readers round-robin over the rest. */
export class FakeRuntime implements ShardRoutes {
  readonly name = "fake";
  readonly counters = new ShardCounters();
  readonly commandStats: CommandStats = new CommandStats(COMMAND_NAMES);
  readonly tracer = null;
  readonly nodes: FakeNodeHandle[];
  settings: ShardSettings;
  readers: FakeNodeHandle[];
  primary: FakeNodeHandle | null;
  clock = 1_000;
  #rr = 0;
  #tags = new Map<string, number>();

  constructor(nodeCount = 3, yaml = "") {
    this.nodes = Array.from({ length: nodeCount }, (_, i) => new FakeNodeHandle(`n${i}:6379`));
    this.primary = this.nodes[0];
    this.readers = this.nodes.slice(1);
    const cfg = parseConfig(
      `shards:\n  s:\n    readers: 127.0.0.1:0\n    nodes: [127.0.0.1:1]\n${yaml}`,
      "fake.yaml",
    );
    if (cfg.config === null) throw new Error(JSON.stringify(cfg.issues));
    this.settings = cfg.config.shards[0];
  }

  now(): number {
    return this.clock;
  }
  pickReader(excludeId: string): FakeNodeHandle | null {
    const pool = this.readers.filter((n) => n.id !== excludeId);
    if (pool.length === 0) {
      return this.primary !== null && this.primary.id !== excludeId ? this.primary : null;
    }
    return pool[this.#rr++ % pool.length];
  }
  writer(): FakeNodeHandle | null {
    return this.primary;
  }
  noNodeError(role: ListenerRole): string {
    return `ERR no node for ${role}`;
  }
  broadcastNodes(): FakeNodeHandle[] {
    return this.nodes.filter((n) => n === this.primary || this.readers.includes(n));
  }
  scanTag(nodeId: string): number {
    let t = this.#tags.get(nodeId);
    if (t === undefined) this.#tags.set(nodeId, t = this.#tags.size + 1);
    return t;
  }
  cursorNode(tag: number): CursorNode | null {
    for (const [id, t] of this.#tags) {
      if (t !== tag) continue;
      const n = this.nodes.find((x) => x.id === id)!;
      return { id, node: this.readers.includes(n) || n === this.primary ? n : null };
    }
    return null;
  }
  /** The nodes' version, as their INFO would say. */
  version = "7.2.4";
  server(): ServerIdentity {
    return { server: "redis", version: this.version, mode: "standalone" };
  }
  hasReplicas(): boolean {
    return this.readers.length > 0;
  }
  /** Client sessions CLIENT LIST shows (the test adds them). */
  readonly sessions: ClientView[] = [];
  clientList(_nodeId: string, text: string): string {
    return rewriteClientList(text, new Set(), this.sessions, this.clock);
  }
  clientSessions(): Iterable<ClientView> {
    return this.sessions;
  }
  /** Sessions waiting for a primary (the test calls `wakeWriters()`). */
  readonly writerWaiters: WriterWaiter[] = [];
  awaitWriter(waiter: WriterWaiter): void {
    this.writerWaiters.push(waiter);
  }
  /** The routes changed: every waiting session hears of it. */
  wakeWriters(): void {
    for (const w of this.writerWaiters.splice(0)) w.writerChanged();
  }
  /** Times a batch of reads asked for a hedge check. */
  armed = 0;
  /** Hedges the budget still allows. */
  hedgeBudget = 100;
  armHedge(): void {
    this.armed++;
  }
  takeHedge(stalled = false): boolean {
    if (this.hedgeBudget <= 0 && !stalled) return false;
    this.hedgeBudget--;
    return true;
  }
}

/** The client side of a session core: feeds bytes as the plumbing does and collects replies. */
export class FakeClient implements SessionIO {
  /** The session under test. */
  readonly core: SessionCore;
  /** Every byte written to the client, as text. */
  out = "";
  paused = false;
  finished = false;
  closedNow = false;
  #input = new Uint8Array(0);

  constructor(readonly rt: FakeRuntime, role: ListenerRole = "readers") {
    this.core = new SessionCore(this, role, rt, new ShardPortRouting(rt, role));
  }

  get pending(): number {
    return 0;
  }
  write(buf: Uint8Array, start = 0, end: number = buf.length): void {
    this.out += td.decode(buf.subarray(start, end));
  }
  writeShared(bytes: Uint8Array): void {
    this.write(bytes);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.#feed();
  }
  finish(): void {
    this.finished = true;
  }
  close(): void {
    this.closedNow = true;
  }

  /** The client sends `text` (commands, inline or RESP). */
  send(text: string): void {
    const more = te.encode(text);
    const all = new Uint8Array(this.#input.length + more.length);
    all.set(this.#input);
    all.set(more, this.#input.length);
    this.#input = all;
    if (!this.paused) this.#feed();
  }

  /** Sends commands as RESP multibulk frames. */
  command(...args: string[]): void {
    this.send(resp(...args));
  }

  /** Takes what was written so far. */
  take(): string {
    const o = this.out;
    this.out = "";
    return o;
  }

  #feed(): void {
    const used = this.core.feed(this.#input, 0, this.#input.length);
    this.#input = this.#input.slice(used);
  }
}

/** A command as a RESP multibulk frame. */
export function resp(...args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${te.encode(a).length}\r\n${a}\r\n`).join("");
}
