/**
 * Binding a shard's listen addresses: each port's listener with its
 * routing, a socket a reload released taken over instead of bound again,
 * and the error that names the config key of an address that cannot be
 * bound.
 *
 * @module
 */

import type { Address } from "../config/types.ts";
import { type ListenerRole, ShardPortRouting, type ShardRoutes } from "./_runtime.ts";
import { PortListener } from "./listener.ts";

/** Whether two listen addresses (or their absence) are the same. */
export function sameAddress(a: Address | null, b: Address | null): boolean {
  return a === null || b === null ? a === b : a.text === b.text;
}

/** A listen address that cannot be bound; names the config key and the address. */
export class ListenError extends Error {
  /** Dotted config key of the address, e.g. `shards.users.readers`. */
  readonly configPath: string;
  /** What failed, without the key: `cannot listen on 127.0.0.1:6401: …`. */
  readonly reason: string;

  /**
   * Creates the error for the listener configured at `configPath`
   * (`shards.users.readers`, `routers.cache.listen`, `admin.listen`).
   */
  constructor(configPath: string, address: Address, cause: unknown) {
    const reason = `cannot listen on ${address.text}: ${
      cause instanceof Error ? cause.message : String(cause)
    }`;
    super(`${configPath}: ${reason}`);
    this.name = "ListenError";
    this.configPath = configPath;
    this.reason = reason;
  }
}

/**
 * Sockets a reload releases (listeners of removed shards, listeners that
 * move), by address, so a new listener on the same address takes the bound
 * socket over instead of failing to bind it while the old one still holds
 * it: a renamed shard or swapped ports apply without a refused connection.
 */
export class ReleasedSockets {
  #byAddress = new Map<string, PortListener>();

  /** Offers `shard`'s listener of `role` (its shard goes, or it moves away). */
  offer(
    shard: { listener(role: ListenerRole): PortListener | undefined },
    role: ListenerRole,
  ): void {
    const l = shard.listener(role);
    if (l !== undefined && l.address.port !== 0) this.#byAddress.set(l.address.text, l);
  }

  /** The offered listener bound at `address` (never for port 0: any free port), once. */
  take(address: Address): PortListener | null {
    const l = this.#byAddress.get(address.text);
    if (l === undefined) return null;
    this.#byAddress.delete(address.text);
    return l;
  }
}

/**
 * Binds each (role, address), or takes over a released socket bound there;
 * on a failure undoes what it did and throws a {@link ListenError}.
 */
export function bindAll(
  wanted: [ListenerRole, Address | null][],
  rt: ShardRoutes,
  released?: ReleasedSockets,
): PortListener[] {
  const bound: PortListener[] = [];
  for (const [role, address] of wanted) {
    if (address === null) continue;
    // One per session: a split port's decision is kept while its command waits.
    const routes = () => new ShardPortRouting(rt, role);
    const from = released?.take(address) ?? null;
    if (from !== null) {
      bound.push(from.handOver(role, address, rt, routes));
      continue;
    }
    const l = new PortListener(role, address, rt, routes);
    try {
      l.listen();
    } catch (err) {
      for (const b of bound) void b.abandon();
      throw new ListenError(`shards.${rt.name}.${role}`, address, err);
    }
    bound.push(l);
  }
  return bound;
}
