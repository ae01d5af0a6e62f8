/**
 * A shard's listening socket (readers or writer port): accepts clients up
 * to `max_clients` and hands each to a {@link ClientSession}.
 *
 * @module
 */

import type { Address } from "../config/types.ts";
import type { ListenerRole, ShardRuntime } from "./_runtime.ts";
import { ClientSession } from "./client_session.ts";
import { Replies } from "./errors.ts";

/** One bound listen address of a shard. */
export class ShardListener {
  /** Readers or writer. */
  readonly role: ListenerRole;
  /** The configured address. */
  readonly address: Address;
  #listener: Deno.TcpListener | null = null;
  #rt: ShardRuntime;
  #sessions = new Set<ClientSession>();
  #accepting: Promise<void> | null = null;

  /** Creates (does not bind) a listener. */
  constructor(role: ListenerRole, address: Address, rt: ShardRuntime) {
    this.role = role;
    this.address = address;
    this.#rt = rt;
  }

  /** The bound address (the real port when the config said 0). */
  get bound(): { host: string; port: number } {
    const a = this.#listener!.addr;
    return { host: a.hostname, port: a.port };
  }

  /** Open client sessions. */
  get sessions(): ReadonlySet<ClientSession> {
    return this.#sessions;
  }

  /** Binds the address; throws when it cannot (in use, not local...). */
  listen(): void {
    this.#listener = Deno.listen({ hostname: this.address.host, port: this.address.port });
    this.#accepting = this.#accept(this.#listener);
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    const rt = this.#rt;
    try {
      for await (const conn of listener) {
        if (this.#sessions.size >= rt.settings.maxClients) {
          rt.counters.clientsRejected++;
          conn.write(Replies.maxClients).catch(() => {}).finally(() => {
            try {
              conn.close();
            } catch {
              // gone
            }
          });
          continue;
        }
        conn.setNoDelay(true);
        rt.counters.clientsAccepted++;
        rt.counters.clientsOpen++;
        const session = new ClientSession(conn, this.role, rt, (s) => {
          if (this.#sessions.delete(s)) rt.counters.clientsOpen--;
        });
        this.#sessions.add(session);
        void session.run();
      }
    } catch {
      // listener closed
    }
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
