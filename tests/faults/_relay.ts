/**
 * A TCP relay in front of a real redis-server, for faults a real server
 * cannot produce on its own while keeping its data right. Listed in the
 * shardgate config in place of the node, it passes bytes both ways until
 * told to make the node answer every reply late (`delay`), or to stop
 * delivering anything while still accepting connections (`blackhole`: a
 * stalled network path; the bytes are held, not lost, and flow again when
 * the mode changes back, as TCP would deliver them). Health checks go
 * through it too, so shardgate's checker sees exactly what its traffic
 * sees.
 *
 * @module
 */

import { LoopbackServer, writeAll } from "./_loopback.ts";

/** How the relay treats bytes. */
export type RelayMode =
  | { readonly kind: "pass" }
  | { readonly kind: "delay"; readonly ms: number }
  | { readonly kind: "blackhole" };

const GET_FRAME = new TextEncoder().encode("$3\r\nGET\r\n");
const READ_SIZE = 64 * 1024;
const PASS: RelayMode = { kind: "pass" };

/** One direction of one relayed connection: writes in order, held while the path is stalled. */
class Lane {
  #to: Deno.Conn;
  #chain: Promise<void> = Promise.resolve();
  #held: Uint8Array[] = [];

  constructor(to: Deno.Conn) {
    this.#to = to;
  }

  /** Queues `chunk` (a copy) according to `mode`; returns the write's promise. */
  send(chunk: Uint8Array, mode: RelayMode): Promise<void> {
    if (mode.kind === "blackhole") {
      this.#held.push(chunk);
      return Promise.resolve();
    }
    const due = performance.now() + (mode.kind === "delay" ? mode.ms : 0);
    const held = this.#held;
    this.#held = [];
    this.#chain = this.#chain.then(async () => {
      for (const h of held) await writeAll(this.#to, h);
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await writeAll(this.#to, chunk);
    });
    return this.#chain;
  }

  /** Delivers what a stall held back. */
  release(): void {
    if (this.#held.length > 0) void this.send(new Uint8Array(0), PASS).catch(() => {});
  }

  /** Resolves once every byte queued so far was written (or failed). */
  settled(): Promise<void> {
    return this.#chain.catch(() => {});
  }
}

/** Counts occurrences of a byte pattern in a stream that arrives in chunks. */
class FrameCounter {
  #pattern: Uint8Array;
  #tail: Uint8Array = new Uint8Array(0);

  constructor(pattern: Uint8Array) {
    this.#pattern = pattern;
  }

  /** Occurrences completed by `chunk` (one split across chunks included). */
  count(chunk: Uint8Array): number {
    const p = this.#pattern;
    const all = new Uint8Array(this.#tail.length + chunk.length);
    all.set(this.#tail);
    all.set(chunk, this.#tail.length);
    let n = 0;
    outer: for (let i = 0; i + p.length <= all.length; i++) {
      for (let j = 0; j < p.length; j++) if (all[i + j] !== p[j]) continue outer;
      n++;
    }
    this.#tail = all.slice(Math.max(0, all.length - (p.length - 1)));
    return n;
  }
}

/** A relay listening on a free loopback port, forwarding to 127.0.0.1:`target`. */
export class FaultRelay extends LoopbackServer {
  /** GET commands received from shardgate so far, in every mode (delivered or not). */
  gets = 0;
  /** Reply chunks held back by `delay` so far. */
  delayed = 0;
  /** Chunks held by `blackhole` so far (both directions). */
  held = 0;
  readonly #target: number;
  readonly #lanes = new Set<Lane>();
  #mode: RelayMode = PASS;

  /** Listens on 127.0.0.1 (a free port) and relays every connection to `targetPort`. */
  constructor(targetPort: number) {
    super();
    this.#target = targetPort;
    this.listen();
  }

  /** The port of the node behind it. */
  get target(): number {
    return this.#target;
  }

  /** The current mode. */
  get mode(): RelayMode {
    return this.#mode;
  }

  /** Switches mode for open and new connections; leaving `blackhole` delivers what it held. */
  set mode(m: RelayMode) {
    this.#mode = m;
    if (m.kind !== "blackhole") { for (const lane of this.#lanes) lane.release(); }
  }

  /** Resolves once every late or held byte queued so far has been delivered. */
  async drained(): Promise<void> {
    await Promise.all([...this.#lanes].map((l) => l.settled()));
  }

  /** Relays one client connection to a new connection to the node. */
  protected override async serve(client: Deno.Conn): Promise<void> {
    let node: Deno.Conn;
    try {
      node = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      return;
    }
    this.adopt(node);
    const up = new Lane(node);
    const down = new Lane(client);
    this.#lanes.add(up);
    this.#lanes.add(down);
    const gets = new FrameCounter(GET_FRAME);
    await Promise.all([
      this.#pump(client, node, up, false, (chunk) => this.gets += gets.count(chunk)),
      this.#pump(node, client, down, true, () => {
        if (this.#mode.kind === "delay") this.delayed++;
      }),
    ]);
    this.#lanes.delete(up);
    this.#lanes.delete(down);
  }

  /** Reads `from` until it ends, sending every chunk down `lane` to `to`; then closes both. */
  async #pump(
    from: Deno.Conn,
    to: Deno.Conn,
    lane: Lane,
    late: boolean,
    seen: (chunk: Uint8Array) => void,
  ): Promise<void> {
    const buf = new Uint8Array(READ_SIZE);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        const chunk = buf.slice(0, n);
        seen(chunk);
        if (this.#mode.kind === "blackhole") this.held++;
        // Only replies are late; pass-through waits for its write (back-pressure).
        const mode = this.#mode.kind === "delay" && !late ? PASS : this.#mode;
        const written = lane.send(chunk, mode);
        if (mode.kind === "pass") await written;
        else written.catch(() => {});
      }
    } catch {
      // reset or closed
    }
    // One side ended: end the other too, as a TCP proxy does.
    this.drop(from);
    this.drop(to);
  }
}
