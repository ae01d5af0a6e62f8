/**
 * Free loopback ports for test servers.
 *
 * @module
 */

/** How many handed-out ports are remembered and not handed out again. */
const REMEMBERED_PORTS = 1024;
const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads the
 * port the kernel chose, closes. The kernel may offer a just-closed port again,
 * so a port this process handed out recently is skipped. Another process can
 * still take it meanwhile, so spawners retry on "address in use".
 */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}

/** `count` distinct free ports, none handed out recently by this process. */
export function freePorts(count: number): Promise<number[]> {
  const held: Deno.Listener[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      held.push(listener);
      const port = (listener.addr as Deno.NetAddr).port;
      if (handedOut.has(port)) continue;
      ports.push(port);
      remember(port);
    }
    return Promise.resolve(ports);
  } finally {
    for (const l of held) l.close();
  }
}

function remember(port: number): void {
  handedOut.add(port);
  if (handedOut.size > REMEMBERED_PORTS) {
    handedOut.delete(handedOut.values().next().value!);
  }
}
