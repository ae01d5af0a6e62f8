import assert from "node:assert/strict";
import { roleOffset } from "./_offsets.ts";

const te = new TextEncoder();
const off = (s: string) => {
  const b = te.encode(s);
  return roleOffset(b, 0, b.length);
};

Deno.test("roleOffset() reads the primary's offset before its replica list", () => {
  assert.equal(off("*3\r\n$6\r\nmaster\r\n:3129659\r\n*0\r\n"), 3129659);
  assert.equal(
    off(
      "*3\r\n$6\r\nmaster\r\n:42\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9001\r\n$2\r\n40\r\n",
    ),
    42,
  );
});

Deno.test("roleOffset() reads a replica's applied offset, past its primary's port", () => {
  assert.equal(
    off("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:3167038\r\n"),
    3167038,
  );
  assert.equal(
    off("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$7\r\nconnect\r\n:-1\r\n"),
    -1,
  );
});

Deno.test("roleOffset() gives -1 for errors, sentinels and cut replies", () => {
  assert.equal(off("-ERR unknown command 'ROLE'\r\n"), -1);
  assert.equal(off("*2\r\n$8\r\nsentinel\r\n*0\r\n"), -1);
  assert.equal(off("*3\r\n$6\r\nmaster\r\n"), -1);
  assert.equal(off("*5\r\n$5\r\nslave\r\n$9\r\n127.0"), -1);
});
