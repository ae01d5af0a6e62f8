/**
 * `host:port` addresses: parsing and normalisation (lower-case host names,
 * canonical IPv6 in brackets), the loopback test for listeners, and whether
 * two listen addresses would fight over the same socket.
 *
 * @module
 */

import type { Address } from "./types.ts";

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Parses `host:port` (`[v6]:port` for IPv6) into a normalised {@link Address}.
 * The port range is the caller's to check (0 is returned as is).
 *
 * @throws {SyntaxError} with a message fit for a config issue.
 */
export function parseAddress(text: string): Address {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0) throw new SyntaxError(`"${text}" is missing "]" after the IPv6 address`);
    host = text.slice(1, end);
    if (text[end + 1] !== ":") {
      throw new SyntaxError(`"${text}" has no port (expected [ipv6]:port)`);
    }
    portText = text.slice(end + 2);
    const v6 = normaliseIPv6(host);
    if (v6 === null) throw new SyntaxError(`"${host}" is not an IPv6 address`);
    host = v6;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) {
      throw new SyntaxError(`"${text}" has no port (expected host:port, e.g. 127.0.0.1:6379)`);
    }
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) {
      throw new SyntaxError(
        `"${text}": write IPv6 addresses in brackets, e.g. "[::1]:6379" (quoted in YAML)`,
      );
    }
    if (host === "") throw new SyntaxError(`"${text}" has no host (expected host:port)`);
    host = normaliseHost(host);
  }
  if (!/^\d{1,5}$/.test(portText)) {
    throw new SyntaxError(`"${text}" has no valid port (expected a number 0..65535)`);
  }
  const port = Number(portText);
  if (port > 65_535) throw new SyntaxError(`port ${port} in "${text}" is out of range 0..65535`);
  return { host, port, text: formatAddress(host, port) };
}

/** Formats host and port as `host:port`, bracketing IPv6 hosts. */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function normaliseHost(raw: string): string {
  const host = raw.toLowerCase().replace(/\.$/, "");
  if (/^[\d.]+$/.test(host)) {
    if (!IPV4.test(host)) throw new SyntaxError(`"${raw}" is not an IPv4 address`);
    for (const part of host.split(".")) {
      if (Number(part) > 255 || (part.length > 1 && part.startsWith("0"))) {
        throw new SyntaxError(`"${raw}" is not an IPv4 address`);
      }
    }
    return host;
  }
  if (host.length > 253 || !host.split(".").every((label) => LABEL.test(label))) {
    throw new SyntaxError(`"${raw}" is not a valid host name`);
  }
  return host;
}

/** RFC 5952 form of an IPv6 address (lower case, zeros compressed), or null. */
export function normaliseIPv6(text: string): string | null {
  let s = text.toLowerCase();
  let v4Tail: number[] = [];
  const lastColon = s.lastIndexOf(":");
  const tail = s.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (!IPV4.test(tail)) return null;
    v4Tail = tail.split(".").map(Number);
    if (v4Tail.some((n) => n > 255)) return null;
    s = s.slice(0, lastColon + 1) + "0:0";
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const groups = part.split(":");
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  if (head === null || rest === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    if (head.length !== 8) return null;
    groups = head;
  }
  if (v4Tail.length === 4) {
    groups[6] = v4Tail[0] * 256 + v4Tail[1];
    groups[7] = v4Tail[2] * 256 + v4Tail[3];
  }
  // IPv4-mapped addresses keep the dotted tail (RFC 5952 section 5).
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`;
  }
  // Compress the longest run (>= 2) of zero groups, the first one on a tie.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLen).join(":")}`;
}

/** True for `localhost`, 127.0.0.0/8, `::1` and IPv4-mapped 127.0.0.0/8. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(host);
}

function family(host: string): "v4" | "v6" | "name" {
  if (host.includes(":")) return "v6";
  return IPV4.test(host) ? "v4" : "name";
}

function hostsOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  // "::" is dual-stack on Linux by default: it takes the port on every address.
  if (a === "::" || b === "::") return true;
  if (a === "0.0.0.0" || b === "0.0.0.0") {
    const other = a === "0.0.0.0" ? b : a;
    return family(other) !== "v6" || other.startsWith("::ffff:");
  }
  const loop = (h: string) => h === "localhost" ? ["127.0.0.1", "::1"] : [h];
  const la = loop(a);
  const lb = loop(b);
  return la.some((h) => lb.includes(h));
}

/**
 * True when binding both listen addresses would conflict: the same port on
 * the same host, or on a wildcard (`0.0.0.0`, `::`) and an address it covers,
 * or `localhost` and the loopback address it resolves to. Port 0 never
 * conflicts (the system picks a free port).
 */
export function listenAddressesClash(a: Address, b: Address): boolean {
  return a.port !== 0 && a.port === b.port && hostsOverlap(a.host, b.host);
}
