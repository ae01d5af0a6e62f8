import assert from "node:assert/strict";
import { decodeReply, encodeCommand, parseClientList, parseInfo, ReplyError } from "./_redis.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("encodeCommand() writes a RESP array of bulk strings with byte lengths", () => {
  assert.equal(
    new TextDecoder().decode(encodeCommand(["SET", "k", "é"])),
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n",
  );
});

Deno.test("decodeReply() decodes every RESP2 type and waits for incomplete input", () => {
  const buf = bytes("*4\r\n+OK\r\n:12\r\n$3\r\nabc\r\n$-1\r\n-ERR no\r\n");
  const first = decodeReply(buf, 0, buf.length);
  assert.deepEqual(first?.reply, ["OK", 12, "abc", null]);
  const err = decodeReply(buf, first!.end, buf.length);
  assert.ok(err?.reply instanceof ReplyError);
  assert.equal((err.reply as ReplyError).message, "ERR no");
  assert.equal(err.end, buf.length);
  const partial = bytes("$5\r\nab");
  assert.equal(decodeReply(partial, 0, partial.length), null);
});

Deno.test("parseInfo() and parseClientList() read fields", () => {
  const info = parseInfo("# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n");
  assert.equal(info.get("master_link_status"), "up");
  const list = parseClientList(
    "id=3 addr=127.0.0.1:50000 laddr=127.0.0.1:6379 fd=8 name= cmd=get\n" +
      "id=4 addr=127.0.0.1:50001 laddr=127.0.0.1:6379 fd=9 name= cmd=ping\n",
  );
  assert.deepEqual(list.map((e) => [e.get("addr"), e.get("cmd")]), [
    ["127.0.0.1:50000", "get"],
    ["127.0.0.1:50001", "ping"],
  ]);
});
