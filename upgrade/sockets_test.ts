import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { spawn } from "node:child_process";
import { isNonBlocking, parseSockaddr, setNonBlocking } from "./_libc.ts";
import { InheritedSockets, listeningFd } from "./sockets.ts";

Deno.test("parseSockaddr() reads IPv4 and IPv6 socket addresses", () => {
  assertEquals(parseSockaddr(new Uint8Array([2, 0, 0x1a, 0x0b, 127, 0, 0, 1])), {
    family: 2,
    host: "127.0.0.1",
    port: 6667,
  });
  const v6 = new Uint8Array(28);
  v6.set([10, 0, 0, 80]);
  v6[23] = 1;
  assertEquals(parseSockaddr(v6), { family: 10, host: "::1", port: 80 });
});

Deno.test("listeningFd() finds the descriptor of a Deno listener, and null for a port not ours", () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const fd = listeningFd("127.0.0.1", l.addr.port);
    assert(fd !== null && fd > 2, `fd ${fd}`);
    assert(isNonBlocking(fd));
    assertEquals(listeningFd("127.0.0.2", l.addr.port), null);
  } finally {
    l.close();
  }
  assertEquals(listeningFd("127.0.0.1", 1), null);
});

Deno.test("spawning a child with a socket clears its O_NONBLOCK; setNonBlocking() gives it back", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const fd = listeningFd("127.0.0.1", l.addr.port)!;
    const child = spawn("sleep", ["5"], { stdio: ["ignore", "ignore", "ignore", fd] });
    const exited = new Promise((r) => child.once("exit", r));
    try {
      // Why the old process restores it at once: a blocking accept() would stall it.
      assert(!isNonBlocking(fd), "node:child_process left O_NONBLOCK set");
      assert(setNonBlocking(fd));
      assert(isNonBlocking(fd));
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
  } finally {
    l.close();
  }
});

Deno.test("InheritedSockets.take() gives each configured address once; left() lists the rest", () => {
  const s = new InheritedSockets([
    { address: "127.0.0.1:6400", host: "127.0.0.1", port: 6400, fd: 3 },
    { address: "127.0.0.1:9180", host: "127.0.0.1", port: 9180, fd: 4 },
  ]);
  assertEquals(s.any, true);
  assertEquals(s.take("127.0.0.1:6400")?.fd, 3);
  assertEquals(s.take("127.0.0.1:6400"), null);
  assertEquals(s.take("127.0.0.1:6401"), null);
  assertEquals(s.left().map((x) => x.fd), [4]);
  assertEquals(s.any, false);
});
