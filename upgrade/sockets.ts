/**
 * Listening sockets handed from a running shardgate to its successor.
 *
 * The old process finds the file descriptor of each bound listener
 * ({@link listeningFd}: Linux's `/proc/net/tcp{,6}` give the socket inode of
 * a listening address, `/proc/self/fd` the descriptor that holds it), puts
 * them at the successor's descriptors 3, 4, … and names them in the
 * {@link UPGRADE_FDS_ENV} variable. The successor {@link InheritedSockets.take}s
 * the one of each configured listen address instead of binding it; the
 * kernel keeps one accept queue for both processes, so no connection is
 * refused while they overlap.
 *
 * @module
 */

import { closeSync } from "node:fs";

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

  /** Wraps a list (tests); see {@link InheritedSockets.fromEnv}. */
  constructor(sockets: readonly HandedSocket[] = []) {
    for (const s of sockets) this.#left.set(s.address, s);
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
    return new InheritedSockets(JSON.parse(text) as HandedSocket[]);
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

/** `0100007F:1A0B` (a /proc/net/tcp local address) → `{ host: "127.0.0.1", port: 6667 }`. */
export function parseProcAddress(text: string): { host: string; port: number } {
  const [hex, portHex] = text.split(":");
  const port = parseInt(portHex, 16);
  if (hex.length === 8) {
    const b = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16)).reverse();
    return { host: b.join("."), port };
  }
  // IPv6: four 32-bit words, each in host (little-endian) byte order.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let i = 6; i >= 0; i -= 2) bytes.push(parseInt(word.slice(i, i + 2), 16));
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return { host: groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::"), port };
}

/**
 * The inodes of the listening TCP sockets bound to `port` (and to `host`
 * when it is an IPv4 address), from `/proc/net/tcp` and `/proc/net/tcp6`.
 */
export function listeningInodes(procNet: readonly string[], host: string, port: number): string[] {
  const inodes: string[] = [];
  const v4 = /^\d+\.\d+\.\d+\.\d+$/.test(host) && host !== "0.0.0.0";
  for (const table of procNet) {
    for (const line of table.split("\n").slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10 || c[3] !== "0A") continue; // 0A: LISTEN
      const local = parseProcAddress(c[1]);
      if (local.port !== port) continue;
      if (v4 && c[1].length === 13 && local.host !== host) continue;
      inodes.push(c[9]);
    }
  }
  return inodes;
}

/**
 * The descriptor of this process's listening socket on `host:port`, or null
 * (not Linux, or nothing of ours listens there).
 */
export function listeningFd(host: string, port: number): number | null {
  let tables: string[];
  try {
    tables = ["/proc/net/tcp", "/proc/net/tcp6"].map((f) => {
      try {
        return Deno.readTextFileSync(f);
      } catch {
        return "";
      }
    });
  } catch {
    return null;
  }
  const inodes = new Set(listeningInodes(tables, host, port));
  if (inodes.size === 0) return null;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync("/proc/self/fd")];
  } catch {
    return null;
  }
  const fds = entries.map((e) => Number(e.name)).filter((n) => n > 2).sort((a, b) => a - b);
  for (const fd of fds) {
    let link: string;
    try {
      link = Deno.readLinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m !== null && inodes.has(m[1])) return fd;
  }
  return null;
}

/** Closes an inherited descriptor this process will not serve. */
export function closeInheritedFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // not open
  }
}
