/**
 * A scripted node for the near cache's unit tests: a {@link TrackerSocket}
 * whose replies the test writes, so orderings a real node produces only by
 * chance (an invalidation between a fill's GET and PTTL replies) are exact.
 *
 * @module
 */

import type { TrackerSocket, TrackerTarget } from "./tracker.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** An in-memory socket: `send()` is what the node says, `written` what it was told. */
export class FakeNodeSocket implements TrackerSocket {
  /** Everything written to the node, as text. */
  written = "";
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
    for (const fn of this.#onWrite.splice(0)) fn();
    return Promise.resolve(p.length);
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
