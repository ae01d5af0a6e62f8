import { deepEqual, equal } from "node:assert/strict";
import { encodeCommand, RequestParser } from "../resp/mod.ts";
import {
  baseKey,
  BULK,
  commandFrame,
  INT,
  kindOf,
  MAP,
  resp2Of,
  variantKey,
  variantOf,
} from "./variants.ts";

const td = new TextDecoder();
const te = new TextEncoder();

function parsed(args: (string | Uint8Array)[]): { p: RequestParser; buf: Uint8Array } {
  const buf = encodeCommand(args);
  const p = new RequestParser();
  p.parse(buf, 0, buf.length);
  return { p, buf };
}

Deno.test("variantOf: HGET, HGETALL and one-key EXISTS in any case; other forms are not", () => {
  for (
    const [args, name] of [
      [["HGET", "h", "f"], "HGET"],
      [["hgetall", "h"], "HGETALL"],
      [["Exists", "k"], "EXISTS"],
      [["EXISTS", "a", "b"], undefined],
      [["HGET", "h"], undefined],
      [["HMGET", "h", "f"], undefined],
      [["GET", "k"], undefined],
    ] as const
  ) {
    const { p, buf } = parsed([...args]);
    equal(variantOf(p, buf)?.name, name, args.join(" "));
  }
});

Deno.test("variantKey: no plain key can equal it; baseKey gives the key back, with any bytes", () => {
  const key = new Uint8Array([0xff, 0x00, 0x41]);
  const { p, buf } = parsed(["HGET", key, "f"]);
  const ck = variantKey(variantOf(p, buf)!, p, buf);
  equal(ck.charCodeAt(0) > 0xff, true);
  equal(baseKey(ck), "\u00ff\u0000A");
  equal(kindOf(ck), BULK);
  const all = parsed(["HGETALL", "h"]);
  const ck2 = variantKey(variantOf(all.p, all.buf)!, all.p, all.buf);
  equal(baseKey(ck2), "h");
  equal(kindOf(ck2), MAP);
  const ex = parsed(["EXISTS", "h"]);
  const ck3 = variantKey(variantOf(ex.p, ex.buf)!, ex.p, ex.buf);
  equal(kindOf(ck3), INT);
  // Distinct reads of one key are distinct entries.
  equal(
    new Set([ck, ck2, ck3, variantKey(variantOf(p, buf)!, ...reparse(["HGET", key, "g"]))]).size,
    4,
  );
  equal(baseKey("plain"), null);
});

function reparse(args: (string | Uint8Array)[]): [RequestParser, Uint8Array] {
  const { p, buf } = parsed(args);
  return [p, buf];
}

Deno.test("commandFrame: the command framed again, byte for byte", () => {
  const { p, buf } = parsed(["hget", new Uint8Array([0, 13, 10, 200]), "field"]);
  deepEqual(commandFrame(p, buf), buf);
});

Deno.test("resp2Of: a map becomes an array of twice as many; other replies stay", () => {
  equal(
    td.decode(resp2Of(MAP, te.encode("%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"))!),
    "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
  );
  equal(td.decode(resp2Of(MAP, te.encode("%0\r\n"))!), "*0\r\n");
  equal(resp2Of(INT, te.encode(":1\r\n")), null);
  equal(resp2Of(BULK, te.encode("$1\r\nx\r\n")), null);
  equal(resp2Of(BULK, null), null);
});
