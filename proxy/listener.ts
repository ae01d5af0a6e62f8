/**
 * One listening port — a shard's readers or writer port, or a router port —
 * accepts clients up to `max_clients` and hands each to a
 * {@link ClientSession}.
 *
 * A reload that gives an address to another shard or role (a renamed
 * shard, swapped ports) hands the bound socket over instead of closing and
 * re-binding it, so no connection is refused or reset meanwhile: the old
 * listener's accept loop goes on, admitting new clients into the new
 * listener, and the old one keeps only its own sessions, to drain.
 *
 * @module
 */

import { CLOSE_LINGER_MS } from "../config/defaults.ts";
import type { Address } from "../config/types.ts";
import type { KeyRouting, ListenerRole, SessionRuntime } from "./_runtime.ts";
import { ClientSession } from "./client_session.ts";
import { Replies } from "./errors.ts";

/** One bound listen address: a shard's readers or writer port, or a router port. */
export class PortListener {
  /** Readers or writer. */
  readonly role: ListenerRole;
  /** The configured address. */
  readonly address: Address;
  #listener: Deno.TcpListener | null = null;
  #rt: SessionRuntime;
  #sessions = new Set<ClientSession>();
  #accepting: Promise<void> | null = null;
  #bound: { host: string; port: number } = { host: "", port: 0 };
  /** Where new clients go after a hand-over (see {@link PortListener.handOver}). */
  #next: PortListener | null = null;
  /** The listener this one took its socket from (to give it back if the reload fails). */
  #from: PortListener | null = null;
  /** A router port's per-session shard choice, or null for a shard's port. */
  #routing: (() => KeyRouting) | null;

  /**
   * Creates (does not bind) a listener; with `routing`, a router port whose
   * sessions pick a shard per command.
   */
  constructor(
    role: ListenerRole,
    address: Address,
    rt: SessionRuntime,
    routing: (() => KeyRouting) | null = null,
  ) {
    this.role = role;
    this.address = address;
    this.#rt = rt;
    this.#routing = routing;
  }

  /** The bound address (the real port when the config said 0). */
  get bound(): { host: string; port: number } {
    return this.#bound;
  }

  /** Open client sessions. */
  get sessions(): ReadonlySet<ClientSession> {
    return this.#sessions;
  }

  /** Binds the address; throws when it cannot (in use, not local...). */
  listen(): void {
    this.#listener = Deno.listen({ hostname: this.address.host, port: this.address.port });
    const a = this.#listener.addr;
    this.#bound = { host: a.hostname, port: a.port };
    this.#accepting = this.#accept(this.#listener);
  }

  /**
   * Gives this listener's bound socket to a new listener for `role` of the
   * runtime `rt`: clients accepted from now on are its. This one keeps its
   * sessions and no longer owns the socket (drain it). Undo with
   * {@link PortListener.giveBack} on the returned listener.
   */
  handOver(role: ListenerRole, address: Address, rt: SessionRuntime): PortListener {
    const next = new PortListener(role, address, rt);
    next.#listener = this.#listener;
    next.#accepting = this.#accepting;
    next.#bound = this.#bound;
    next.#from = this;
    this.#listener = null;
    this.#next = next;
    return next;
  }

  /** Undoes a hand-over that is not applied after all (another part of the reload failed). */
  giveBack(): void {
    const from = this.#from;
    if (from === null) return;
    from.#listener = this.#listener;
    from.#next = null;
    this.#listener = null;
    this.#from = null;
  }

  /** Undoes a listen or a hand-over of a reload that is not applied. */
  abandon(): Promise<void> {
    if (this.#from === null) return this.stopAccepting();
    this.giveBack();
    return Promise.resolve();
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    try {
      for await (const conn of listener) {
        const target = this.#owner();
        if (target.#listener !== null) {
          target.#admit(conn);
          continue;
        }
        // Accepted as the socket was being closed: nobody serves it.
        try {
          conn.close();
        } catch {
          // gone
        }
      }
    } catch {
      // listener closed
    }
  }

  /** Who takes new clients: after hand-overs, the last listener in the chain. */
  #owner(): PortListener {
    return this.#next === null ? this : this.#next.#owner();
  }

  #admit(conn: Deno.TcpConn): void {
    const rt = this.#rt;
    if (this.#sessions.size >= rt.settings.maxClients) {
      rt.counters.clientsRejected++;
      void refuse(conn, Replies.maxClients);
      return;
    }
    conn.setNoDelay(true);
    rt.counters.clientsAccepted++;
    rt.counters.clientsOpen++;
    const session = new ClientSession(conn, this.role, rt, (s) => {
      if (this.#sessions.delete(s)) rt.counters.clientsOpen--;
    }, this.#routing?.() ?? null);
    const peer = conn.remoteAddr, local = conn.localAddr;
    session.core.peer = `${peer.hostname}:${peer.port}`;
    session.core.local = `${local.hostname}:${local.port}`;
    this.#sessions.add(session);
    void session.run();
  }

  /** Stops accepting new clients (existing ones keep being served). */
  async stopAccepting(): Promise<void> {
    const l = this.#listener;
    this.#listener = null;
    if (l === null) return;
    try {
      l.close();
    } catch {
      // closed
    }
    await this.#accepting;
  }

  /**
   * Stops accepting, lets every client finish its in-flight replies, then
   * closes them; clients still busy after `drainMs` are closed anyway.
   */
  async drain(drainMs: number): Promise<void> {
    await this.stopAccepting();
    for (const s of this.#sessions) s.drain();
    const deadline = Date.now() + drainMs;
    while (this.#sessions.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const s of [...this.#sessions]) s.close();
  }
}

/**
 * Answers a client that is not served with one error reply, then ends the
 * connection without a reset over it: write, half-close, read to the
 * client's EOF (bounded by CLOSE_LINGER_MS), close.
 */
async function refuse(conn: Deno.TcpConn, reply: Uint8Array): Promise<void> {
  const deadline = setTimeout(() => close(conn), CLOSE_LINGER_MS);
  try {
    await conn.write(reply);
    await conn.closeWrite();
    const sink = new Uint8Array(1024);
    while ((await conn.read(sink)) !== null) {
      // discard what the client still sends
    }
  } catch {
    // gone, or closed by the deadline
  }
  clearTimeout(deadline);
  close(conn);
}

function close(conn: Deno.TcpConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
