/**
 * A lag device for tests: a TCP relay between a replica and its primary
 * (the replica runs `REPLICAOF 127.0.0.1 <relay port>`) that holds the
 * replication stream — the bytes from the primary to the replica — for a
 * settable delay, in order, or stops delivering them until resumed.
 *
 * Unlike SIGSTOP, the replica keeps answering its clients: it is only
 * behind. Its `REPLCONF ACK`s go the other way at once, so the primary's
 * `INFO replication` still shows how far the replica has got.
 *
 * ```ts
 * await using relay = new LagRelay(primary.port);
 * const replica = await replicaThrough(relay); // replicaof 127.0.0.1:relay.port, link up
 * relay.delayMs = 50;   // every replicated byte reaches the replica 50 ms late
 * relay.pause();        // nothing more reaches it …
 * relay.resume();       // … until now (held bytes flow, still in order)
 * ```
 *
 * @module
 */

import { LoopbackServer, writeAll } from "./faults/_loopback.ts";
import { type RedisProcess, startRedis, waitFor } from "./helpers/mod.ts";

const READ_SIZE = 64 * 1024;

/** One chunk of the replication stream and when it may be delivered (its arrival + the delay then). */
interface Held {
  readonly bytes: Uint8Array;
  readonly arrived: number;
}

/** The primary-to-replica direction of one relayed connection: delivers in order, late or paused. */
class Stream {
  #to: Deno.Conn;
  #queue: Held[] = [];
  #relay: LagRelay;
  #wake: (() => void) | null = null;
  #done = false;

  constructor(to: Deno.Conn, relay: LagRelay) {
    this.#to = to;
    this.#relay = relay;
  }

  /** Queues a chunk that arrived now. */
  push(bytes: Uint8Array): void {
    this.#queue.push({ bytes, arrived: performance.now() });
    this.poke();
  }

  /** Something changed (a chunk, the delay, pause/resume): the pump looks again. */
  poke(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /** Stops the pump. */
  end(): void {
    this.#done = true;
    this.poke();
  }

  /** Writes queued chunks once each is due and the relay is not paused. */
  async pump(): Promise<void> {
    while (!this.#done) {
      const head = this.#queue[0];
      if (head === undefined || this.#relay.paused) {
        await new Promise<void>((r) => this.#wake = r);
        continue;
      }
      const wait = head.arrived + this.#relay.delayMs - performance.now();
      if (wait > 0) {
        // Woken early by a change of the delay or a pause; else at the due time.
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            this.#wake = null;
            r();
          }, wait);
          this.#wake = () => {
            clearTimeout(t);
            r();
          };
        });
        continue;
      }
      this.#queue.shift();
      await writeAll(this.#to, head.bytes);
      this.#relay.delivered += head.bytes.length;
    }
  }
}

/** A replication-stream relay on a free loopback port, forwarding to 127.0.0.1:`primaryPort`. */
export class LagRelay extends LoopbackServer {
  /** Bytes of the replication stream delivered to replicas so far. */
  delivered = 0;
  #delayMs = 0;
  #paused = false;
  readonly #target: number;
  readonly #streams = new Set<Stream>();

  /** Listens on 127.0.0.1 (a free port) and relays every connection to `primaryPort`. */
  constructor(primaryPort: number) {
    super();
    this.#target = primaryPort;
    this.listen();
  }

  /** How long each byte from the primary is held before the replica gets it (ms). */
  get delayMs(): number {
    return this.#delayMs;
  }

  /** Sets the delay; bytes already held become due by the new delay (order is kept). */
  set delayMs(ms: number) {
    this.#delayMs = Math.max(0, ms);
    for (const s of this.#streams) s.poke();
  }

  /** True while nothing is delivered to replicas. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Stops delivering the replication stream (the replica still answers its clients). */
  pause(): void {
    this.#paused = true;
  }

  /** Delivers again: what was held flows in order (each chunk once its delay has passed). */
  resume(): void {
    this.#paused = false;
    for (const s of this.#streams) s.poke();
  }

  /** Relays one replica connection to a new connection to the primary. */
  protected override async serve(replica: Deno.Conn): Promise<void> {
    let primary: Deno.Conn;
    try {
      primary = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      return;
    }
    this.adopt(primary);
    const down = new Stream(replica, this);
    this.#streams.add(down);
    const pumping = down.pump().catch(() => {});
    await Promise.all([
      // Replica → primary (PSYNC, REPLCONF ACK): at once.
      this.#copy(replica, primary, (b) => writeAll(primary, b)),
      // Primary → replica: held as configured.
      this.#copy(primary, replica, (b) => {
        down.push(b);
        return Promise.resolve();
      }),
    ]);
    down.end();
    await pumping;
    this.#streams.delete(down);
  }

  /** Reads `from` until it ends, handing every chunk to `to`; then closes both sides. */
  async #copy(
    from: Deno.Conn,
    other: Deno.Conn,
    to: (b: Uint8Array) => Promise<void>,
  ): Promise<void> {
    const buf = new Uint8Array(READ_SIZE);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        await to(buf.slice(0, n));
      }
    } catch {
      // reset or closed
    }
    this.drop(from);
    this.drop(other);
  }
}

/**
 * A redis-server replicating through `relay` (this file's or a fault
 * relay: anything listening for the primary), returned once its link is up;
 * stopped again if it never links.
 */
export async function replicaThrough(relay: { readonly port: number }): Promise<RedisProcess> {
  const replica = await startRedis({ args: ["--replicaof", "127.0.0.1", `${relay.port}`] });
  try {
    await waitFor(async () => (await replica.info()).master_link_status === "up", {
      message: "replica linked through the relay",
    });
    return replica;
  } catch (err) {
    await replica[Symbol.asyncDispose]();
    throw err;
  }
}
