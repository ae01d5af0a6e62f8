/**
 * Dialling a Redis node: TCP or TLS, bounded by the connect timeout, with
 * the AUTH command to send first. Shared by the proxy's node connections
 * and the health checker so both reach a node the same way.
 *
 * @module
 */

import type { Address, AuthConfig, TlsConfig } from "../config/types.ts";
import { encodeCommand } from "../resp/mod.ts";

/** How to reach a node. */
export interface DialOptions {
  /** TLS settings, or null for plain TCP. */
  readonly tls: TlsConfig | null;
  /** Connect timeout in ms (0 = none). */
  readonly connectMs: number;
}

/** A connected node socket. */
export type NodeSocket = Deno.TcpConn | Deno.TlsConn;

const caCache = new Map<string, string>();

/** Opens a connection to `address`; rejects on refusal, timeout or TLS failure. */
export async function dialNode(address: Address, opts: DialOptions): Promise<NodeSocket> {
  const signal = opts.connectMs > 0 ? AbortSignal.timeout(opts.connectMs) : undefined;
  const tcp = await Deno.connect({
    hostname: address.host,
    port: address.port,
    signal,
  });
  tcp.setNoDelay(true);
  tcp.setKeepAlive(true);
  if (opts.tls === null) return tcp;
  try {
    const tls = opts.tls;
    let caCerts: string[] | undefined;
    if (tls.caFile !== null) {
      let pem = caCache.get(tls.caFile);
      if (pem === undefined) {
        pem = await Deno.readTextFile(tls.caFile);
        caCache.set(tls.caFile, pem);
      }
      caCerts = [pem];
    }
    return await Deno.startTls(tcp, {
      hostname: tls.servername ?? address.host,
      caCerts,
      unsafelyDisableHostnameVerification: tls.insecure,
    });
  } catch (err) {
    tcp.close();
    throw err;
  }
}

/** The AUTH command for `auth`, or null when no credentials are configured. */
export function authCommand(auth: AuthConfig | null): Uint8Array | null {
  if (auth === null) return null;
  return auth.username === null
    ? encodeCommand(["AUTH", auth.password])
    : encodeCommand(["AUTH", auth.username, auth.password]);
}
