import assert from "node:assert/strict";
import { LAST_DIGIT, TEST_SHARDS } from "./_test_distribution.ts";
import { CommandRouter, RouterAction, type ShardPorts } from "./route.ts";
import { KetamaDistribution } from "./distribution.ts";
import { md5 } from "./hash.ts";
import { RequestParser } from "../resp/mod.ts";

const SHARDS = TEST_SHARDS;
const PORTS: ShardPorts[] = [
  { name: "users", readers: "127.0.0.1:6401", writer: "127.0.0.1:6400" },
  { name: "sessions", readers: "127.0.0.1:6411", writer: "127.0.0.1:6410" },
  { name: "orders", readers: "127.0.0.1:6421", writer: null },
];
const text = (b: Uint8Array | null) => b === null ? null : new TextDecoder().decode(b);

function router(): CommandRouter {
  return new CommandRouter(LAST_DIGIT, PORTS);
}

Deno.test("CommandRouter answers PING and ECHO itself", () => {
  const r = router();
  assert.equal(r.routeArgs(["PING"]), RouterAction.LOCAL);
  assert.equal(text(r.reply), "+PONG\r\n");
  assert.equal(r.routeArgs(["ping", "hello"]), RouterAction.LOCAL);
  assert.equal(text(r.reply), "$5\r\nhello\r\n");
  assert.equal(r.routeArgs(["ECHO", "ключ"]), RouterAction.LOCAL);
  assert.equal(text(r.reply), "$8\r\nключ\r\n");
  assert.equal(r.routeArgs(["ECHO"]), RouterAction.REFUSE);
  assert.equal(r.error, "ERR wrong number of arguments for 'echo' command");
  assert.equal(r.routeArgs(["PING", "a", "b"]), RouterAction.REFUSE);
});

Deno.test("CommandRouter refuses per-shard commands, naming each shard's own port", () => {
  const r = router();
  for (const cmd of [["SCAN", "0"], ["KEYS", "*"], ["INFO"], ["DBSIZE"], ["RANDOMKEY"]]) {
    assert.equal(r.routeArgs(cmd), RouterAction.REFUSE, cmd[0]);
    assert.equal(
      r.error,
      `ERR shardgate: '${cmd[0].toLowerCase()}' would see only one shard through a router port; ` +
        "send it to each shard's own port: users 127.0.0.1:6401, sessions 127.0.0.1:6411, " +
        "orders 127.0.0.1:6421",
    );
  }
  assert.equal(r.routeArgs(["FLUSHALL"]), RouterAction.REFUSE);
  assert.match(
    r.error ?? "",
    /users 127\.0\.0\.1:6400, sessions 127\.0\.0\.1:6410, orders \(no writer port\)$/,
  );
  assert.equal(r.routeArgs(["flushdb", "ASYNC"]), RouterAction.REFUSE);
});

Deno.test("CommandRouter routes sharded pub/sub by channel and refuses the rest of pub/sub", () => {
  const r = router();
  assert.equal(r.routeArgs(["SPUBLISH", "news1", "hi"]), RouterAction.SHARD);
  assert.equal(r.shard, 1);
  assert.equal(r.routeArgs(["SSUBSCRIBE", "a2", "b5"]), RouterAction.SHARD);
  assert.equal(r.shard, 2);
  assert.equal(r.routeArgs(["SSUBSCRIBE", "a2", "b3"]), RouterAction.REFUSE);
  assert.equal(r.routeArgs(["SUNSUBSCRIBE"]), RouterAction.ANY);
  for (
    const cmd of [["SUBSCRIBE", "a1"], ["PSUBSCRIBE", "a*"], ["PUBLISH", "a1", "m"], [
      "PUBSUB",
      "CHANNELS",
    ]]
  ) {
    assert.equal(r.routeArgs(cmd), RouterAction.REFUSE, cmd[0]);
    assert.match(
      r.error ?? "",
      /has no key to pick a shard by on a router port; use sharded pub\/sub/,
    );
  }
});

Deno.test("CommandRouter sends a command whose keys are on one shard there, EVAL and blocking included", () => {
  const r = router();
  const cases: [string[], number][] = [
    [["GET", "user:2"], 2],
    [["SET", "k4", "v", "EX", "10"], 1],
    [["EVAL", "return 1", "2", "a1", "b4", "arg0"], 1],
    [["EVALSHA", "abc", "1", "k0"], 0],
    [["FCALL", "f", "2", "a5", "b8"], 2],
    [["ZUNIONSTORE", "d1", "2", "a4", "b7"], 1],
    [["BLPOP", "a3", "b6", "0"], 0],
    [["XREAD", "BLOCK", "0", "STREAMS", "s1", "t4", "$", "$"], 1],
    [["MGET", "a1", "b4", "c7"], 1],
    [["WATCH", "a2", "b5"], 2],
    [["OBJECT", "ENCODING", "k9"], 0],
  ];
  for (const [cmd, shard] of cases) {
    assert.equal(r.routeArgs(cmd), RouterAction.SHARD, cmd.join(" "));
    assert.equal(r.shard, shard, cmd.join(" "));
    assert.equal(r.plan, null);
  }
});

Deno.test("CommandRouter splits MGET/MSET/DEL/UNLINK/EXISTS/TOUCH across shards and refuses other cross-shard commands", () => {
  const r = router();
  assert.equal(r.routeArgs(["MGET", "a0", "b1", "c2", "d3"]), RouterAction.SPLIT);
  assert.deepEqual(r.plan?.parts.map((p) => [p.shard, p.positions]), [[0, [0, 3]], [1, [1]], [2, [
    2,
  ]]]);
  assert.equal(r.routeArgs(["MSET", "a0", "1", "b1", "2"]), RouterAction.SPLIT);
  for (const name of ["DEL", "UNLINK", "EXISTS", "TOUCH"]) {
    assert.equal(r.routeArgs([name, "a0", "b1"]), RouterAction.SPLIT, name);
  }
  assert.equal(r.routeArgs(["MSETNX", "a0", "1", "b1", "2"]), RouterAction.REFUSE);
  assert.equal(
    r.error,
    "ERR shardgate: 'msetnx' has keys on several shards ('users', 'sessions') of this router port; " +
      "put them on one shard with a hash tag, e.g. {user1}:a and {user1}:b",
  );
  assert.equal(r.routeArgs(["EVAL", "return 1", "2", "a0", "b2"]), RouterAction.REFUSE);
  assert.equal(r.routeArgs(["RENAME", "a0", "b1"]), RouterAction.REFUSE);
  assert.equal(r.routeArgs(["SORT", "a0", "STORE", "b1"]), RouterAction.REFUSE);
});

Deno.test("CommandRouter leaves keyless commands to the session and broadcasts script loads", () => {
  const r = router();
  for (
    const cmd of [["MULTI"], ["EXEC"], ["TIME"], ["CLIENT", "LIST"], ["NOSUCH", "k1"], [
      "EVAL",
      "return 1",
      "0",
    ]]
  ) {
    assert.equal(r.routeArgs(cmd), RouterAction.ANY, cmd.join(" "));
  }
  assert.equal(r.routeArgs(["SCRIPT", "LOAD", "return 1"]), RouterAction.ALL);
  assert.equal(r.command, "script|load");
  assert.equal(r.routeArgs(["FUNCTION", "LOAD", "#!lua name=x\n"]), RouterAction.ALL);
  assert.equal(r.routeArgs(["SCRIPT", "EXISTS", "abc"]), RouterAction.ANY);
});

Deno.test("CommandRouter with a ketama ring keeps hash-tagged keys together", () => {
  const ring = new KetamaDistribution(
    SHARDS.map((shard, i) => ({ shard, name: `10.0.0.${i + 1}:6379`, weight: 1 })),
    md5,
    "{}",
  );
  const r = new CommandRouter(ring, PORTS);
  assert.equal(
    r.routeArgs(["MGET", "{user7}:name", "{user7}:mail", "{user7}:cart"]),
    RouterAction.SHARD,
  );
  assert.equal(r.shard, ring.shardOf(new TextEncoder().encode("user7")));
  assert.deepEqual(r.shards, SHARDS);
  // An inline command is routed the same way.
  const line = new TextEncoder().encode("mget {user7}:a {user7}:b\r\n");
  const parser = new RequestParser();
  parser.parse(line, 0, line.length);
  assert.equal(r.route(parser, line), RouterAction.SHARD);
  assert.equal(r.shard, ring.shardOf(new TextEncoder().encode("user7")));
  const split = new TextEncoder().encode("DEL a0 b1\r\n");
  parser.parse(split, 0, split.length);
  const flat = new CommandRouter(LAST_DIGIT, PORTS);
  assert.equal(flat.route(parser, split), RouterAction.SPLIT);
  assert.equal(flat.plan?.parts.length, 2);
});
