/**
 * A scripted node for the near cache's unit tests: a {@link TrackerSocket}
 * whose replies the test writes, so orderings a real node produces only by
 * chance (an invalidation between a fill's GET and PTTL replies) are exact.
 *
 * @module
 */

import { INCOMPLETE, ReplyScanner, RequestParser } from "../resp/mod.ts";
import type { TrackerSocket, TrackerTarget } from "./tracker.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/**
 * An in-memory socket: `send()` is what the node says, `written` what it
 * was told. It answers a `PING` (the cache's probe) itself, in order: once
 * every request before it has its reply — unless {@link stalled}.
 */
export class FakeNodeSocket implements TrackerSocket {
  /** Everything written to the node, as text. */
  written = "";
  /** True: PINGs are not answered (a stalled node); false again answers those owed. */
  #stalled = false;
  /** Per request written, in order: is it a PING? */
  #requests: boolean[] = [];
  /** Replies sent (pushes aside). */
  #answered = 0;
  #parser = new RequestParser();
  #scanner = new ReplyScanner();
  #inbox: Uint8Array[] = [];
  #reader: ((n: number | null) => void) | null = null;
  #target: Uint8Array | null = null;
  #closed = false;
  #onWrite: (() => void)[] = [];

  /** @inheritdoc */
  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.resolve(null);
    const next = this.#inbox.shift();
    if (next !== undefined) {
      p.set(next);
      return Promise.resolve(next.length);
    }
    this.#target = p;
    return new Promise((resolve) => this.#reader = resolve);
  }

  /** @inheritdoc */
  write(p: Uint8Array): Promise<number> {
    this.written += td.decode(p);
    for (let pos = 0; pos < p.length;) {
      const next = this.#parser.parse(p, pos, p.length);
      if (next === INCOMPLETE) break;
      const name = td.decode(p.subarray(this.#parser.argStart[0], this.#parser.argEnd[0]));
      this.#requests.push(name.toUpperCase() === "PING");
      pos = next;
    }
    this.#pong();
    for (const fn of this.#onWrite.splice(0)) fn();
    return Promise.resolve(p.length);
  }

  /** Whether PINGs go unanswered (a stalled node). */
  get stalled(): boolean {
    return this.#stalled;
  }
  set stalled(on: boolean) {
    this.#stalled = on;
    this.#pong();
  }

  /** PINGs written so far. */
  get pings(): number {
    return this.#requests.filter((x) => x).length;
  }

  /** Answers the PINGs next in line. */
  #pong(): void {
    while (
      !this.#stalled && this.#answered < this.#requests.length && this.#requests[this.#answered]
    ) {
      this.#answered++;
      this.#deliver(te.encode("+PONG\r\n"));
    }
  }

  /** @inheritdoc */
  close(): void {
    this.#closed = true;
    this.#reader?.(null);
    this.#reader = null;
  }

  /** The node sends `text` (RESP). */
  send(text: string): void {
    const b = te.encode(text);
    for (let pos = 0; pos < b.length;) {
      const next = this.#scanner.scan(b, pos, b.length);
      if (next === INCOMPLETE) break;
      if (b[pos] !== 62) this.#answered++; // a push (">") answers nothing
      pos = next;
    }
    this.#deliver(b);
    this.#pong();
  }

  #deliver(b: Uint8Array): void {
    if (this.#reader !== null) {
      this.#target!.set(b);
      const r = this.#reader;
      this.#reader = null;
      r(b.length);
    } else this.#inbox.push(b);
  }

  /** Resolves once `count` occurrences of `text` were written. */
  async waitWritten(text: string, count = 1): Promise<void> {
    while (this.written.split(text).length - 1 < count) {
      await new Promise<void>((r) => this.#onWrite.push(r));
    }
  }
}

/** A target dialling `sock`. */
export function fakeTarget(id: string, sock: FakeNodeSocket): TrackerTarget {
  return { id, auth: null, dial: () => Promise.resolve(sock) };
}
