import { deepEqual, equal, notEqual } from "node:assert/strict";
import { keyString, parseInvalidation } from "./tracker.ts";

const te = new TextEncoder();

Deno.test("keyString() keeps every byte: distinct keys stay distinct, long ones too", () => {
  notEqual(keyString(new Uint8Array([0x80]), 0, 1), keyString(new Uint8Array([0x81]), 0, 1));
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const s = keyString(bytes, 0, 256);
  equal(s.length, 256);
  for (let i = 0; i < 256; i++) equal(s.charCodeAt(i), i);
  const long = new Uint8Array(20_000).fill(65);
  equal(keyString(long, 0, long.length), "A".repeat(20_000));
  // Short keys come from a reused array: at an offset, after a longer one, at its size limit.
  const frame = te.encode("$5\r\nkey:1\r\n");
  equal(keyString(bytes, 100, 229).length, 129);
  equal(keyString(frame, 4, 9), "key:1");
  equal(keyString(bytes, 128, 256), String.fromCharCode(...bytes.subarray(128)));
  equal(keyString(bytes, 127, 256), String.fromCharCode(...bytes.subarray(127)));
  equal(keyString(frame, 4, 4), "");
});

Deno.test("parseInvalidation() reads keys, a flush (null) and ignores other pushes", () => {
  const push = te.encode(">2\r\n$10\r\ninvalidate\r\n*2\r\n$1\r\na\r\n$2\r\nbc\r\n");
  deepEqual(parseInvalidation(push, 0, push.length), ["a", "bc"]);
  const flush = te.encode(">2\r\n$10\r\ninvalidate\r\n_\r\n");
  equal(parseInvalidation(flush, 0, flush.length), null);
  const other = te.encode(">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n");
  equal(parseInvalidation(other, 0, other.length), undefined);
  const binary = new Uint8Array([
    ...te.encode(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\n"),
    0x9f,
    13,
    10,
  ]);
  deepEqual(parseInvalidation(binary, 0, binary.length), [keyString(new Uint8Array([0x9f]), 0, 1)]);
});
