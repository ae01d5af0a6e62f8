/**
 * Host name resolution for node addresses, through the system resolver
 * (getaddrinfo: /etc/hosts, then DNS), as the connect itself resolves. Used
 * to notice that a node's name now points elsewhere.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

/** Resolves a host name to its addresses. */
export type Resolver = (host: string) => Promise<string[]>;

/** The system resolver (honours /etc/hosts). IP literals resolve to themselves. */
export const systemResolver: Resolver = async (host: string): Promise<string[]> => {
  if (isIP(host) !== 0) return [host];
  const found = await lookup(host, { all: true });
  return found.map((a) => a.address);
};

/** True when `host` is an IP literal (nothing to re-resolve). */
export function isIpLiteral(host: string): boolean {
  return isIP(host) !== 0;
}
