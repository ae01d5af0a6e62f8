import assert from "node:assert/strict";
import { startRedis } from "../tests/helpers/mod.ts";
import { bulkArray, frameText, pipeline } from "../tests/_raw_resp.ts";
import { CommandKeys, findKeys, keyIndexes } from "./keys.ts";
import { encodeCommand } from "./encoder.ts";
import { RequestParser } from "./request.ts";

/** Commands whose keys must match COMMAND GETKEYS exactly (argument values are distinct words). */
const COMMANDS: readonly string[][] = [
  ["GET", "k"],
  ["SET", "k", "v", "EX", "10"],
  ["MGET", "a", "b", "c"],
  ["MSET", "a", "1", "b", "2"],
  ["MSETNX", "a", "1", "b", "2"],
  ["DEL", "a", "b"],
  ["UNLINK", "a", "b"],
  ["EXISTS", "a", "b", "a"],
  ["TOUCH", "a", "b"],
  ["EVAL", "return 1", "2", "k1", "k2", "arg1"],
  ["EVAL", "return 1", "0", "arg1"],
  ["EVAL", "return 1", "3", "k1"],
  ["EVAL_RO", "return 1", "1", "k1", "arg1"],
  ["EVALSHA", "abc", "1", "k1", "arg1"],
  ["FCALL", "f", "2", "k1", "k2", "arg1"],
  ["FCALL_RO", "f", "1", "k1"],
  ["ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"],
  ["ZINTERSTORE", "dst", "2", "a", "b", "AGGREGATE", "MAX"],
  ["ZDIFFSTORE", "dst", "2", "a", "b"],
  ["ZUNIONSTORE", "dst", "0", "a"],
  ["ZUNION", "2", "a", "b", "WITHSCORES"],
  ["ZINTERCARD", "2", "a", "b", "LIMIT", "1"],
  ["SINTERCARD", "2", "a", "b"],
  ["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"],
  ["xread", "block", "0", "streams", "s1", "$"],
  ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s1", "s2", ">", ">"],
  ["MIGRATE", "host", "1", "k", "0", "5"],
  ["MIGRATE", "host", "1", "", "0", "5", "COPY", "REPLACE", "AUTH", "pw", "KEYS", "k1", "k2"],
  ["MIGRATE", "host", "1", "", "0", "5", "AUTH2", "user", "keys", "KEYS", "k1"],
  ["SORT", "k", "BY", "w_*", "GET", "o_*", "LIMIT", "0", "10", "STORE", "dst"],
  ["SORT", "k", "STORE", "a", "STORE", "b"],
  ["SORT", "k"],
  ["SORT_RO", "k", "BY", "x"],
  ["GEORADIUS", "k", "0", "0", "1", "km", "STORE", "s"],
  ["GEORADIUS", "k", "0", "0", "1", "km", "STORE", "s", "STOREDIST", "t"],
  ["GEORADIUSBYMEMBER", "k", "m", "1", "km", "STOREDIST", "t"],
  ["GEORADIUS_RO", "k", "0", "0", "1", "km"],
  ["GEOSEARCHSTORE", "dst", "src", "FROMMEMBER", "m", "BYRADIUS", "1", "km"],
  ["LMPOP", "2", "a", "b", "LEFT"],
  ["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "2"],
  ["ZMPOP", "1", "z", "MIN"],
  ["BZMPOP", "0", "2", "a", "b", "MAX"],
  ["BLPOP", "a", "b", "0"],
  ["BZPOPMIN", "a", "b", "0"],
  ["BRPOPLPUSH", "a", "b", "0"],
  ["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
  ["LMOVE", "a", "b", "LEFT", "LEFT"],
  ["RPOPLPUSH", "a", "b"],
  ["SMOVE", "a", "b", "m"],
  ["RENAME", "a", "b"],
  ["COPY", "a", "b", "DB", "1", "REPLACE"],
  ["BITOP", "AND", "dst", "a", "b"],
  ["BITFIELD", "k", "GET", "u8", "0"],
  ["PFMERGE", "dst", "a", "b"],
  ["PFCOUNT", "a", "b"],
  ["SUNIONSTORE", "dst", "a", "b"],
  ["SDIFF", "a", "b"],
  ["LCS", "a", "b"],
  ["OBJECT", "ENCODING", "k"],
  ["object", "freq", "k"],
  ["MEMORY", "USAGE", "k"],
  ["XINFO", "STREAM", "s"],
  ["XGROUP", "CREATE", "s", "g", "$"],
  ["WATCH", "a", "b"],
  ["SPUBLISH", "ch", "msg"],
  ["SSUBSCRIBE", "ch1", "ch2"],
  ["PUBLISH", "ch", "msg"],
  ["PING"],
  ["INFO", "server"],
  ["SCAN", "0"],
  ["OBJECT", "HELP"],
  ["HSET", "h", "f", "v"],
  ["GETEX", "k", "PX", "10"],
];

/** COMMAND GETKEYS of `args` as key names; [] when Redis says there are none or the command is invalid. */
function getkeysNames(frame: Uint8Array): string[] {
  const text = frameText(frame);
  if (text.startsWith("-ERR The command has no key arguments")) return [];
  if (text.startsWith("-ERR Invalid arguments specified for command")) return [];
  // GETKEYS wants the command with at least one argument (PING alone has no keys anyway).
  if (text.startsWith("-ERR wrong number of arguments for 'command|getkeys'")) return [];
  if (text === "*0") return [];
  const dec = new TextDecoder();
  return bulkArray(frame).map((k) => dec.decode(k ?? new Uint8Array(0)));
}

Deno.test("keyIndexes() finds the keys COMMAND GETKEYS of a real redis-server finds", async () => {
  await using redis = await startRedis();
  const replies = await pipeline(redis.port, COMMANDS.map((c) => ["COMMAND", "GETKEYS", ...c]));
  for (const [i, command] of COMMANDS.entries()) {
    const expected = getkeysNames(replies[i]);
    const ours = keyIndexes(command).map((k) => command[k]);
    assert.deepEqual(ours, expected, `${command.join(" ")} (redis: ${frameText(replies[i])})`);
  }
});

Deno.test("keyIndexes() gives argument indexes in key-spec order", () => {
  assert.deepEqual(keyIndexes(["MSET", "a", "1", "b", "2"]), [1, 3]);
  assert.deepEqual(keyIndexes(["ZUNIONSTORE", "d", "2", "a", "b"]), [1, 3, 4]);
  assert.deepEqual(keyIndexes(["GEORADIUS", "k", "0", "0", "1", "km", "STORE", "s"]), [1, 7]);
  assert.deepEqual(keyIndexes(["EVAL", "s", "notanumber", "k"]), []);
  assert.deepEqual(keyIndexes(["NOSUCHCOMMAND", "k"]), []);
  assert.deepEqual(keyIndexes([]), []);
});

Deno.test("keyIndexes() with channels finds sharded pub/sub channels", () => {
  assert.deepEqual(keyIndexes(["SPUBLISH", "ch", "msg"], true), [1]);
  assert.deepEqual(keyIndexes(["SSUBSCRIBE", "a", "b"], true), [1, 2]);
  assert.deepEqual(keyIndexes(["SUNSUBSCRIBE", "a"], true), [1]);
  assert.deepEqual(keyIndexes(["SUNSUBSCRIBE"], true), []);
  assert.deepEqual(keyIndexes(["SPUBLISH", "ch", "msg"]), []);
  assert.deepEqual(keyIndexes(["SUBSCRIBE", "ch"], true), []);
});

Deno.test("findKeys() points into the parsed buffer and reuses its result", () => {
  const keys = new CommandKeys();
  const parser = new RequestParser();
  const names = Array.from({ length: 100 }, (_, i) => `key:${i}`);
  const frame = encodeCommand(["MGET", ...names]);
  const buf = new Uint8Array(frame.length + 7);
  buf.set(frame, 7);
  assert.equal(parser.parse(buf, 7, buf.length), buf.length);
  findKeys(parser, buf, keys);
  assert.equal(keys.count, 100);
  assert.equal(keys.buf, buf);
  const dec = new TextDecoder();
  assert.deepEqual(Array.from({ length: keys.count }, (_, i) => dec.decode(keys.key(i))), names);
  assert.deepEqual(Array.from(keys.index.subarray(0, 3)), [1, 2, 3]);

  const get = encodeCommand(["GET", "x"]);
  parser.parse(get, 0, get.length);
  assert.equal(findKeys(parser, get, keys), keys);
  assert.equal(keys.count, 1);
  assert.equal(dec.decode(keys.key(0)), "x");
});

Deno.test("findKeys() decodes inline commands first", () => {
  const keys = new CommandKeys();
  const parser = new RequestParser();
  const line = new TextEncoder().encode(`mget a "b c"\r\n`);
  parser.parse(line, 0, line.length);
  assert.equal(parser.inline, true);
  findKeys(parser, line, keys);
  assert.equal(keys.count, 2);
  assert.notEqual(keys.buf, line);
  assert.deepEqual([0, 1].map((i) => new TextDecoder().decode(keys.key(i))), ["a", "b c"]);
});
