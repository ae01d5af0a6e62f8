import assert from "node:assert/strict";
import { isLoopbackHost, listenAddressesClash, normaliseIPv6, parseAddress } from "./address.ts";

Deno.test("parseAddress() normalises host names, IPv4 and IPv6", () => {
  const cases: [string, string, number, string][] = [
    ["127.0.0.1:6379", "127.0.0.1", 6379, "127.0.0.1:6379"],
    ["Users-001.Example.COM:6379", "users-001.example.com", 6379, "users-001.example.com:6379"],
    ["localhost.:0", "localhost", 0, "localhost:0"],
    ["[::1]:6379", "::1", 6379, "[::1]:6379"],
    ["[0:0:0:0:0:0:0:1]:6379", "::1", 6379, "[::1]:6379"],
    ["[2001:DB8:0:0:1:0:0:1]:1", "2001:db8::1:0:0:1", 1, "[2001:db8::1:0:0:1]:1"],
    ["[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80, "[::ffff:127.0.0.1]:80"],
    ["10.0.0.1:06379", "10.0.0.1", 6379, "10.0.0.1:6379"],
  ];
  for (const [text, host, port, normal] of cases) {
    assert.deepEqual(parseAddress(text), { host, port, text: normal }, text);
  }
});

Deno.test("parseAddress() explains what is wrong", () => {
  const cases: [string, RegExp][] = [
    ["localhost", /no port/],
    [":6379", /no host/],
    ["::1:6379", /brackets/],
    ["[::1]6379", /no port/],
    ["[::1:6379", /missing "\]"/],
    ["[::g]:1", /not an IPv6 address/],
    ["[1::2::3]:1", /not an IPv6 address/],
    ["host:http", /no valid port/],
    ["host:65536", /out of range/],
    ["300.0.0.1:1", /not an IPv4 address/],
    ["010.0.0.1:1", /not an IPv4 address/],
    ["bad host:1", /not a valid host name/],
    ["-x.com:1", /not a valid host name/],
  ];
  for (const [text, message] of cases) assert.throws(() => parseAddress(text), message, text);
});

Deno.test("normaliseIPv6() compresses the longest zero run, the first on a tie", () => {
  assert.equal(normaliseIPv6("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
  assert.equal(normaliseIPv6("1:0:0:2:3:0:0:4"), "1::2:3:0:0:4");
  assert.equal(normaliseIPv6("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
  assert.equal(normaliseIPv6("::"), "::");
  assert.equal(normaliseIPv6("1:2:3:4:5:6:7"), null);
});

Deno.test("isLoopbackHost() accepts 127.0.0.0/8, ::1 and localhost only", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"]) {
    assert.ok(isLoopbackHost(h), h);
  }
  for (const h of ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "localhost.example.com", "example"]) {
    assert.ok(!isLoopbackHost(h), h);
  }
});

Deno.test("listenAddressesClash() sees same ports on overlapping hosts, never port 0", () => {
  const clash = (a: string, b: string) => listenAddressesClash(parseAddress(a), parseAddress(b));
  assert.ok(clash("127.0.0.1:7000", "127.0.0.1:7000"));
  assert.ok(clash("0.0.0.0:7000", "127.0.0.1:7000"));
  assert.ok(clash("127.0.0.2:7000", "0.0.0.0:7000"));
  assert.ok(clash("localhost:7000", "127.0.0.1:7000"));
  assert.ok(clash("localhost:7000", "[::1]:7000"));
  assert.ok(clash("[::]:7000", "127.0.0.1:7000"));
  assert.ok(!clash("127.0.0.1:7000", "127.0.0.1:7001"));
  assert.ok(!clash("127.0.0.1:7000", "127.0.0.2:7000"));
  assert.ok(!clash("0.0.0.0:7000", "[::1]:7000"));
  assert.ok(!clash("127.0.0.1:0", "127.0.0.1:0"));
  assert.ok(!clash("0.0.0.0:0", "127.0.0.1:0"));
});
