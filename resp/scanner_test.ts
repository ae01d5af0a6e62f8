import assert from "node:assert/strict";
import { INCOMPLETE, ReplyScanner, RespProtocolError, scanReply } from "./scanner.ts";

const te = new TextEncoder();
const bytes = (s: string): Uint8Array => te.encode(s);

/** Sample replies: every RESP2/RESP3 type, nesting, attributes, streamed forms. */
const FRAMES: readonly string[] = [
  "+OK\r\n",
  "+\r\n",
  "-ERR unknown command 'foo'\r\n",
  ":0\r\n",
  ":-1234567890\r\n",
  ":+5\r\n",
  "$5\r\nhello\r\n",
  "$0\r\n\r\n",
  "$4\r\n\r\n\r\n\r\n", // payload made of CRLFs
  "$-1\r\n",
  "*-1\r\n",
  "*0\r\n",
  "*3\r\n$3\r\nfoo\r\n:1\r\n$-1\r\n",
  "*2\r\n*2\r\n+a\r\n*1\r\n*0\r\n*1\r\n-ERR x\r\n",
  "_\r\n",
  ",3.14\r\n",
  ",-inf\r\n",
  "#t\r\n",
  "#f\r\n",
  "!21\r\nSYNTAX invalid syntax\r\n",
  "=15\r\ntxt:Some string\r\n",
  "(3492890328409238509324850943850943825024385\r\n",
  "%2\r\n+first\r\n:1\r\n+second\r\n*2\r\n:2\r\n:3\r\n",
  "%0\r\n",
  "~3\r\n+a\r\n+b\r\n:1\r\n",
  ">3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$2\r\nhi\r\n",
  // attribute + the value it describes, as one value
  "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.19\r\n$1\r\nb\r\n,0.05\r\n*2\r\n:2039123\r\n:9543892\r\n",
  // attribute on an element of an aggregate
  "*2\r\n|1\r\n+ttl\r\n:3600\r\n$3\r\nval\r\n:1\r\n",
  // an attribute whose value is itself a value with an attribute
  "|1\r\n+a\r\n|1\r\n+b\r\n:2\r\n:3\r\n:4\r\n",
  // an attribute describing a value that has its own attribute
  "|1\r\n+a\r\n:1\r\n|1\r\n+b\r\n:2\r\n:3\r\n",
  // streamed string and streamed aggregates (RESP3 spec; Redis never sends them)
  "$?\r\n;4\r\nHell\r\n;1\r\no\r\n;0\r\n",
  "*?\r\n:1\r\n*?\r\n+x\r\n.\r\n$?\r\n;1\r\na\r\n;0\r\n*1\r\n:2\r\n.\r\n",
  "%?\r\n+a\r\n:1\r\n.\r\n",
  "*1\r\n~?\r\n.\r\n",
];

/** Each frame placed after some unrelated bytes, followed by garbage that must never be read. */
function embed(frame: Uint8Array): { buf: Uint8Array; pos: number } {
  const pos = 3;
  const buf = new Uint8Array(pos + frame.length + 8).fill(0x3f); // '?' is an invalid type byte
  buf.set(frame, pos);
  return { buf, pos };
}

Deno.test("scanReply() finds the end of every sample frame at every prefix length", () => {
  for (const text of FRAMES) {
    const frame = bytes(text);
    const { buf, pos } = embed(frame);
    for (let k = 0; k < frame.length; k++) {
      assert.equal(scanReply(buf, pos, pos + k), INCOMPLETE, `${JSON.stringify(text)} prefix ${k}`);
    }
    assert.equal(scanReply(buf, pos, pos + frame.length), pos + frame.length, JSON.stringify(text));
  }
});

Deno.test("ReplyScanner.scan() resumes across every two-chunk split", () => {
  for (const text of FRAMES) {
    const frame = bytes(text);
    const { buf, pos } = embed(frame);
    for (let k = 0; k <= frame.length; k++) {
      const scanner = new ReplyScanner();
      const first = scanner.scan(buf, pos, pos + k);
      if (k < frame.length) assert.equal(first, INCOMPLETE, `${JSON.stringify(text)} split ${k}`);
      const second = k < frame.length ? scanner.scan(buf, pos, pos + frame.length) : first;
      assert.equal(second, pos + frame.length, `${JSON.stringify(text)} split ${k}`);
    }
  }
});

Deno.test("ReplyScanner.scan() resumes byte by byte", () => {
  const scanner = new ReplyScanner();
  for (const text of FRAMES) {
    const frame = bytes(text);
    for (let k = 0; k < frame.length; k++) {
      assert.equal(scanner.scan(frame, 0, k), INCOMPLETE, `${JSON.stringify(text)} at ${k}`);
    }
    assert.equal(scanner.scan(frame, 0, frame.length), frame.length, JSON.stringify(text));
  }
});

Deno.test("scanReply() frames pipelined replies one at a time", () => {
  const all = bytes(FRAMES.join(""));
  let pos = 0;
  for (const text of FRAMES) {
    const next = scanReply(all, pos, all.length);
    assert.equal(next - pos, bytes(text).length, JSON.stringify(text));
    pos = next;
  }
  assert.equal(pos, all.length);
});

Deno.test("ReplyScanner state survives the caller moving its unconsumed bytes", () => {
  const frame = bytes("*3\r\n$5\r\nhello\r\n*2\r\n:1\r\n:2\r\n+done\r\n");
  const scanner = new ReplyScanner();
  const before = new Uint8Array(100);
  before.set(frame.subarray(0, 20), 50);
  assert.equal(scanner.scan(before, 50, 70), INCOMPLETE);
  const after = new Uint8Array(frame.length); // compacted: the reply now starts at 0
  after.set(frame);
  assert.equal(scanner.scan(after, 0, frame.length), frame.length);
});

Deno.test("scanReply() throws RespProtocolError on malformed replies", () => {
  const cases: readonly [string, RegExp][] = [
    ["?x\r\n", /invalid reply type byte '\?'/],
    [";4\r\n", /invalid reply type byte ';'/],
    ["$abc\r\n", /invalid bulk length/],
    ["$-2\r\n", /invalid bulk length/],
    ["$\r\n", /invalid bulk length/],
    ["$3\r\nfooXX", /bulk not ended by CRLF/],
    ["!?\r\n", /invalid bulk length/],
    ["*-2\r\n", /invalid multibulk length/],
    ["*1x\r\n", /invalid multibulk length/],
    ["*2\r\n:1\r\n*1\r\n$99999999999999999999999\r\n", /invalid bulk length/],
    ["|-1\r\n", /invalid multibulk length/],
    [":12a\r\n", /invalid integer/],
    [":\r\n", /invalid integer/],
    ["_x\r\n", /invalid null/],
    ["#x\r\n", /invalid boolean/],
    ["+OK\rX\n", /expected LF after CR/],
    [".\r\n", /unexpected end of streamed aggregate/],
    ["*?\r\n*2\r\n:1\r\n.\r\n", /unexpected end of streamed aggregate/],
    ["$?\r\n+x\r\n", /invalid streamed string chunk/],
  ];
  for (const [text, re] of cases) {
    const buf = bytes(text);
    assert.throws(
      () => scanReply(buf, 0, buf.length),
      (e: unknown) => e instanceof RespProtocolError && re.test(e.message),
      JSON.stringify(text),
    );
  }
});

Deno.test("ReplyScanner is usable again after an error", () => {
  const scanner = new ReplyScanner();
  const bad = bytes("*2\r\n:1\r\n?");
  assert.throws(() => scanner.scan(bad, 0, bad.length), RespProtocolError);
  const good = bytes(":7\r\n");
  assert.equal(scanner.scan(good, 0, good.length), good.length);
});

/** Feeds `frame` to a fresh scanner in `chunk`-byte steps; returns bytes scanned. */
function feedInChunks(frame: Uint8Array, chunk: number): number {
  const scanner = new ReplyScanner();
  let result = INCOMPLETE;
  let calls = 0;
  for (let end = Math.min(chunk, frame.length);; end = Math.min(end + chunk, frame.length)) {
    calls++;
    result = scanner.scan(frame, 0, end);
    if (end === frame.length) break;
    assert.equal(result, INCOMPLETE);
  }
  assert.equal(result, frame.length);
  assert.ok(calls >= frame.length / chunk, `fed in ${calls} calls`);
  return scanner.bytesScanned;
}

Deno.test("ReplyScanner resumes a 10 MB bulk linearly", () => {
  const size = 10 * 1024 * 1024;
  const header = bytes(`$${size}\r\n`);
  const frame = new Uint8Array(header.length + size + 2);
  frame.set(header);
  frame.set(bytes("\r\n"), header.length + size);
  const scanned = feedInChunks(frame, 64 * 1024);
  assert.ok(scanned <= frame.length, `scanned ${scanned} of ${frame.length}`);
});

Deno.test("ReplyScanner resumes a reply of a million elements linearly", () => {
  const count = 1_000_000;
  const frame = bytes(`*${count}\r\n` + ":1\r\n".repeat(count));
  const scanned = feedInChunks(frame, 64 * 1024);
  // Rescanning from the start on every chunk would cost ~frame.length * 30.
  assert.ok(scanned <= frame.length, `scanned ${scanned} of ${frame.length}`);
});

Deno.test("ReplyScanner resumes a long simple line without rescanning it", () => {
  const frame = bytes(`-ERR ${"x".repeat(200_000)}\r\n`);
  const scanned = feedInChunks(frame, 1024);
  assert.ok(scanned <= frame.length, `scanned ${scanned} of ${frame.length}`);
});

Deno.test("scanReply() takes a push inside an aggregate as out of band (EXEC of a PUBLISH to itself)", () => {
  const reply = te.encode("*1\r\n>3\r\n$7\r\nmessage\r\n$2\r\nc0\r\n$1\r\nx\r\n:1\r\n");
  assert.equal(scanReply(reply, 0, reply.length), reply.length);
  const top = te.encode(">3\r\n$7\r\nmessage\r\n$2\r\nc0\r\n$1\r\nx\r\n:1\r\n");
  assert.equal(scanReply(top, 0, top.length), top.length - 4, "a push at the top is one value");
});

Deno.test("scanReply() counts a subscribe confirmation pushed inside EXEC's reply as its element", () => {
  const exec = te.encode("*1\r\n>3\r\n$9\r\nsubscribe\r\n$2\r\nc0\r\n:1\r\n");
  const next = te.encode("_\r\n");
  const both = new Uint8Array([...exec, ...next]);
  assert.equal(scanReply(both, 0, both.length), exec.length);
  for (let cut = 1; cut < exec.length; cut++) {
    assert.equal(scanReply(both, 0, cut), INCOMPLETE, `cut at ${cut}`);
  }
});
