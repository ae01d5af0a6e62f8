import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { InheritedSockets, listeningFd, listeningInodes, parseProcAddress } from "./sockets.ts";

Deno.test("parseProcAddress() reads /proc/net/tcp and tcp6 local addresses", () => {
  assertEquals(parseProcAddress("0100007F:1A0B"), { host: "127.0.0.1", port: 6667 });
  assertEquals(parseProcAddress("00000000000000000000000001000000:0050"), {
    host: "::1",
    port: 80,
  });
});

Deno.test("listeningInodes() keeps LISTEN rows of the port (and IPv4 host)", () => {
  const tcp = [
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "   0: 0100007F:1A0B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1",
    "   1: 0100007F:1A0B 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 222 1",
    "   2: 0200007F:1A0B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1",
  ].join("\n");
  assertEquals(listeningInodes([tcp], "127.0.0.1", 6667), ["111"]);
  assertEquals(listeningInodes([tcp], "localhost", 6667), ["111", "333"]);
  assertEquals(listeningInodes([tcp], "127.0.0.1", 80), []);
});

Deno.test("listeningFd() finds the descriptor of a Deno listener, and null for a free port", () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const fd = listeningFd("127.0.0.1", l.addr.port);
    assertEquals(typeof fd, "number");
    assertEquals(Deno.readLinkSync(`/proc/self/fd/${fd}`).startsWith("socket:["), true);
  } finally {
    l.close();
  }
  assertEquals(listeningFd("127.0.0.1", 1), null);
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
