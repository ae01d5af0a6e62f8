/**
 * Free loopback ports for test servers.
 *
 * @module
 */

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads the
 * port the kernel chose, closes. Another process can take it meanwhile, so
 * spawners retry on "address in use".
 */
export function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return Promise.resolve((listener.addr as Deno.NetAddr).port);
  } finally {
    listener.close();
  }
}
