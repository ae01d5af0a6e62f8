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
 * A process started by an upgrade serves the listening socket it inherited
 * for its address (`upgrade/sockets.ts`) with `node:net`, whose sockets
 * are adapted to what sessions read and write ({@link NodeConn}); every
 * other listener is a `Deno.listen` one.
 *
 * @module
 */

import type { Server, Socket as NetSocket } from "node:net";
import { CLOSE_LINGER_MS } from "../config/defaults.ts";
import type { Address } from "../config/types.ts";
import { inheritedSockets } from "../upgrade/mod.ts";
import type { KeyRouting, ListenerRole, PortContext } from "./_runtime.ts";
import { type AcceptedConn, NodeConn } from "./_node_socket.ts";
import { ClientSession } from "./client_session.ts";
import { Replies } from "./errors.ts";

/** A bound listening socket: a Deno listener, or a `node:net` server on an inherited one. */
interface Acceptor {
  close(): void;
}

/** Accepts from a Deno listener until it closes. */
function denoAcceptor(
  listener: Deno.TcpListener,
  onConn: (c: AcceptedConn) => void,
): { acceptor: Acceptor; done: Promise<void> } {
  const done = (async () => {
    try {
      for await (const conn of listener) onConn(conn);
    } catch {
      // listener closed
    }
  })();
  return { acceptor: listener, done };
}

/** `node:net`, loaded only by a process that inherited sockets ({@link loadNodeNet}). */
let nodeNet: typeof import("node:net") | null = null;

/**
 * Loads `node:net` for the listeners of a process started by an upgrade.
 * Others never load it: a fresh process serves with Deno.listen only.
 */
export async function loadNodeNet(): Promise<void> {
  nodeNet ??= await import("node:net");
}

/** Serves the inherited listening socket `fd` with `node:net`. */
function nodeAcceptor(
  fd: number,
  onConn: (c: AcceptedConn) => void,
): { acceptor: Acceptor; done: Promise<void> } {
  if (nodeNet === null) throw new Error("node:net is not loaded (loadNodeNet)");
  const server: Server = nodeNet.createServer({ allowHalfOpen: true, pauseOnConnect: false });
  server.on("connection", (sock: NetSocket) => onConn(new NodeConn(sock)));
  // node's server.close() waits for every accepted connection to end; the
  // sessions are not the acceptor's: it is done once it stops accepting.
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => stopped = resolve);
  server.on("error", () => {
    // a failed accept: the server goes on
  });
  server.listen({ fd });
  const close = () => {
    server.close();
    stopped();
  };
  return { acceptor: { close }, done };
}

/** One bound listen address: a shard's readers or writer port, or a router port. */
export class PortListener {
  /** Readers or writer. */
  readonly role: ListenerRole;
  /** The configured address. */
  readonly address: Address;
  #listener: Acceptor | null = null;
  #rt: PortContext;
  #sessions = new Set<ClientSession>();
  #accepting: Promise<void> | null = null;
  #bound: { host: string; port: number } = { host: "", port: 0 };
  /** Where new clients go after a hand-over (see {@link PortListener.handOver}). */
  #next: PortListener | null = null;
  /** The listener this one took its socket from (to give it back if the reload fails). */
  #from: PortListener | null = null;
  /** Each new session's routing (a shard port's: its shard, see `ShardPortRouting`). */
  #routing: () => KeyRouting;

  /**
   * Creates (does not bind) a listener for `role` of the port `rt`, whose
   * sessions route their commands as `routing` makes them.
   */
  constructor(
    role: ListenerRole,
    address: Address,
    rt: PortContext,
    routing: () => KeyRouting,
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

  /**
   * Binds the address, or takes the socket inherited for it in an upgrade;
   * throws when it cannot (in use, not local...).
   */
  listen(): void {
    const handed = this.address.port === 0 ? null : inheritedSockets.take(this.address.text);
    const onConn = (c: AcceptedConn) => this.#onConn(c);
    let started;
    if (handed !== null) {
      started = nodeAcceptor(handed.fd, onConn);
      this.#bound = { host: handed.host, port: handed.port };
    } else {
      const l = Deno.listen({ hostname: this.address.host, port: this.address.port });
      this.#bound = { host: l.addr.hostname, port: l.addr.port };
      started = denoAcceptor(l, onConn);
    }
    this.#listener = started.acceptor;
    this.#accepting = started.done;
  }

  /**
   * Gives this listener's bound socket to a new listener for `role` of the
   * runtime `rt`: clients accepted from now on are its. This one keeps its
   * sessions and no longer owns the socket (drain it). Undo with
   * {@link PortListener.giveBack} on the returned listener.
   */
  handOver(
    role: ListenerRole,
    address: Address,
    rt: PortContext,
    routing: () => KeyRouting,
  ): PortListener {
    const next = new PortListener(role, address, rt, routing);
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

  #onConn(conn: AcceptedConn): void {
    const target = this.#owner();
    if (target.#listener !== null) {
      target.#admit(conn);
      return;
    }
    // Accepted as the socket was being closed: nobody serves it.
    try {
      conn.close();
    } catch {
      // gone
    }
  }

  /** Who takes new clients: after hand-overs, the last listener in the chain. */
  #owner(): PortListener {
    return this.#next === null ? this : this.#next.#owner();
  }

  #admit(conn: AcceptedConn): void {
    const rt = this.#rt;
    if (this.#sessions.size >= rt.settings.maxClients) {
      rt.counters.clientsRejected++;
      void refuse(conn, Replies.maxClients);
      return;
    }
    conn.setNoDelay(true);
    rt.counters.clientsAccepted++;
    const session = new ClientSession(conn, this.role, rt, this.#routing(), (s) => {
      this.#sessions.delete(s);
    });
    if (conn instanceof NodeConn) {
      session.core.peer = conn.peer;
      session.core.local = conn.local;
    } else {
      const { remoteAddr: peer, localAddr: local } = conn as Deno.TcpConn;
      session.core.peer = `${peer.hostname}:${peer.port}`;
      session.core.local = `${local.hostname}:${local.port}`;
    }
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

  /**
   * The drain of an upgrade: stops accepting (the new process accepts on
   * the same socket), then closes each client at a command boundary: a
   * session not pinned finishes its in-flight replies and closes; a pinned
   * one does so once its pin ends. Whatever is left after `drainMs` is
   * closed.
   */
  async drainAtBoundary(drainMs: number): Promise<void> {
    await this.stopAccepting();
    const deadline = Date.now() + drainMs;
    while (this.#sessions.size > 0 && Date.now() < deadline) {
      for (const s of this.#sessions) if (!s.pinned) s.drain();
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
async function refuse(conn: AcceptedConn, reply: Uint8Array): Promise<void> {
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

function close(conn: AcceptedConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
