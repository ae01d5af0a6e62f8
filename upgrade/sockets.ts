/**
 * Listening sockets handed from a running shardgate to its successor.
 *
 * The old process finds the file descriptor of each bound listener
 * ({@link listeningFd}, through libc: `_libc.ts`), puts
 * them at the successor's descriptors 3, 4, … and names them in the
 * {@link UPGRADE_FDS_ENV} variable. The successor {@link InheritedSockets.take}s
 * the one of each configured listen address instead of binding it; the
 * kernel keeps one accept queue for both processes, so no connection is
 * refused while they overlap.
 *
 * @module
 */

import { findListeningFd } from "./_libc.ts";

/** The variable naming the handed-over descriptors: JSON {@link HandedSocket}[]. */
export const UPGRADE_FDS_ENV = "SHARDGATE_UPGRADE_FDS";

/** One listening socket handed over. */
export interface HandedSocket {
  /** The configured listen address (`127.0.0.1:6400`), which the successor matches. */
  readonly address: string;
  /** The bound host and port (the real port of a configured port 0). */
  readonly host: string;
  readonly port: number;
  /** Its descriptor in the receiving process. */
  readonly fd: number;
}

/** The sockets this process inherited from the one it replaces. */
export class InheritedSockets {
  #left = new Map<string, HandedSocket>();
  /** True when this process was started by an upgrade (the variable was set). */
  readonly fromUpgrade: boolean;

  /** Wraps a list (tests); see {@link InheritedSockets.fromEnv}. */
  constructor(sockets: readonly HandedSocket[] = [], fromUpgrade = sockets.length > 0) {
    for (const s of sockets) this.#left.set(s.address, s);
    this.fromUpgrade = fromUpgrade;
  }

  /**
   * Reads (and removes, so that nothing else inherits a stale list) the
   * {@link UPGRADE_FDS_ENV} variable; empty when this is not an upgrade.
   */
  static fromEnv(): InheritedSockets {
    let text: string | undefined;
    try {
      text = Deno.env.get(UPGRADE_FDS_ENV);
      if (text !== undefined) Deno.env.delete(UPGRADE_FDS_ENV);
    } catch {
      return new InheritedSockets();
    }
    if (text === undefined || text === "") return new InheritedSockets();
    return new InheritedSockets(JSON.parse(text) as HandedSocket[], true);
  }

  /** True when this process was started by an upgrade. */
  get any(): boolean {
    return this.#left.size > 0;
  }

  /** The inherited socket of the configured address `address`, once; null if none. */
  take(address: string): HandedSocket | null {
    const s = this.#left.get(address);
    if (s === undefined) return null;
    this.#left.delete(address);
    return s;
  }

  /** What was handed over but not taken (a listener the new config moved or removed). */
  left(): HandedSocket[] {
    const out = [...this.#left.values()];
    this.#left.clear();
    return out;
  }
}

/** Sockets inherited by this process (filled from the environment at start). */
export const inheritedSockets: InheritedSockets = InheritedSockets.fromEnv();

/**
 * The descriptor of this process's listening socket on `host:port`, or null
 * (not Linux, or nothing of ours listens there).
 */
export function listeningFd(host: string, port: number): number | null {
  return findListeningFd(host, port);
}

/** Closes an inherited descriptor this process will not serve. */
export async function closeInheritedFd(fd: number): Promise<void> {
  try {
    const { closeSync } = await import("node:fs");
    closeSync(fd);
  } catch {
    // not open
  }
}
