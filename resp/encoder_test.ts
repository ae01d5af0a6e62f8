import assert from "node:assert/strict";
import { encodeBulk, encodeCommand, encodeError, encodeInteger, encodeSimple } from "./encoder.ts";
import { RequestParser } from "./request.ts";
import { scanReply } from "./scanner.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const text = (b: Uint8Array): string => td.decode(b);

Deno.test("encodeCommand() writes a RESP multibulk array", () => {
  assert.equal(text(encodeCommand(["SET", "k", "v"])), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
  assert.equal(text(encodeCommand([])), "*0\r\n");
  assert.equal(text(encodeCommand(["GET", ""])), "*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
  // UTF-8 lengths are byte lengths; a lone surrogate encodes as U+FFFD (3 bytes).
  assert.equal(text(encodeCommand(["é€😀"])), "*1\r\n$9\r\né€😀\r\n");
  assert.deepEqual(
    Array.from(encodeCommand(["\ud800"]).subarray(8, 11)),
    Array.from(te.encode("\ufffd")),
  );
});

Deno.test("encodeCommand() round-trips through RequestParser and scanReply()", () => {
  const binary = new Uint8Array(300);
  for (let i = 0; i < binary.length; i++) binary[i] = i & 0xff; // includes CR, LF, NUL
  const cases: readonly (readonly (string | Uint8Array)[])[] = [
    ["PING"],
    ["SET", "key", binary],
    ["MSET", "a", "1", "b", "2", "c", "3"],
    ["ECHO", "x".repeat(12345)],
    ["ECHO", "é\r\n€"],
  ];
  for (const args of cases) {
    const frame = encodeCommand(args);
    const parser = new RequestParser();
    assert.equal(parser.parse(frame, 0, frame.length), frame.length);
    assert.equal(parser.argc, args.length);
    assert.equal(parser.inline, false);
    for (let i = 0; i < Math.min(args.length, 4); i++) {
      const a = args[i];
      const expected = typeof a === "string" ? te.encode(a) : a;
      assert.deepEqual(frame.subarray(parser.argStart[i], parser.argEnd[i]), expected);
    }
    // A multibulk command is also a valid reply (an array of bulk strings).
    assert.equal(scanReply(frame, 0, frame.length), frame.length);
  }
});

Deno.test("encodeError() and encodeSimple() fold CR and LF into spaces", () => {
  assert.equal(text(encodeError("ERR shardgate: boom")), "-ERR shardgate: boom\r\n");
  assert.equal(text(encodeError("ERR a\r\nb\nc\rd")), "-ERR a  b c d\r\n");
  assert.equal(text(encodeSimple("OK")), "+OK\r\n");
  assert.equal(text(encodeSimple("x\ny")), "+x y\r\n");
  for (const b of [encodeError("ERR é\r\n"), encodeSimple("PONG")]) {
    assert.equal(scanReply(b, 0, b.length), b.length);
  }
});

Deno.test("encodeInteger() and encodeBulk() write replies the scanner accepts", () => {
  assert.equal(text(encodeInteger(0)), ":0\r\n");
  assert.equal(text(encodeInteger(-42)), ":-42\r\n");
  assert.equal(text(encodeInteger(9007199254740991)), ":9007199254740991\r\n");
  assert.throws(() => encodeInteger(1.5), RangeError);
  assert.equal(text(encodeBulk(null)), "$-1\r\n");
  assert.equal(text(encodeBulk("héllo")), "$6\r\nhéllo\r\n");
  assert.equal(text(encodeBulk(new Uint8Array([13, 10]))), "$2\r\n\r\n\r\n");
  for (const b of [encodeInteger(-7), encodeBulk(null), encodeBulk("abc")]) {
    assert.equal(scanReply(b, 0, b.length), b.length);
  }
});
