import assert from "node:assert/strict";
import {
  benchmarkArgs,
  cellById,
  cellRunsOn,
  CELLS,
  keyName,
  LARGE_KEYS,
  needsRouter,
  rotatedOrder,
  ROUTER_TARGETS,
  runOrder,
  SMALL_KEYS,
} from "./_cells.ts";

Deno.test("keyName() pads like redis-benchmark's __rand_int__", () => {
  assert.equal(keyName(SMALL_KEYS, 42), "key:000000000042");
  assert.equal(keyName(LARGE_KEYS, 0), "key1k:000000000000");
});

Deno.test("benchmarkArgs() gives the same options to every target, with -r over the key space", () => {
  const cell = cellById("get_50c_p16");
  assert.deepEqual(benchmarkArgs(cell, "127.0.0.1", 6000, 1000), [
    "-h",
    "127.0.0.1",
    "-p",
    "6000",
    "-c",
    "50",
    "-n",
    "1000",
    "-r",
    String(SMALL_KEYS.count),
    "-P",
    "16",
    "--csv",
    "GET",
    "key:__rand_int__",
  ]);
});

Deno.test("CELLS match the issue's matrix", () => {
  const mget = cellById("mget10_50c");
  assert.equal(mget.command.length, 11);
  assert.ok(mget.command.slice(1).every((k) => k === "key:__rand_int__"));
  assert.equal(cellById("get_200c_1k").keys, LARGE_KEYS);
  assert.equal(cellById("get_200c_1k").clients, 200);
  assert.deepEqual(CELLS.filter((c) => c.write).map((c) => c.id), ["set_50c"]);
  for (const c of CELLS) assert.ok(c.quickRequests < c.requests, c.id);
});

Deno.test("rotatedOrder() puts every target first once per full rotation", () => {
  const targets = ["a", "b", "c", "d"];
  const firsts = [0, 1, 2, 3].map((round) => rotatedOrder(targets, round, 0)[0]);
  assert.deepEqual(firsts.sort(), targets);
  assert.deepEqual(rotatedOrder(targets, 1, 2), ["d", "a", "b", "c"]);
  assert.deepEqual(rotatedOrder([], 3, 1), []);
});

Deno.test("router cells run on twemproxy and shardgate only, alternating who goes first", () => {
  const all = ["direct", "haproxy", "twemproxy", "shardgate"] as const;
  for (const id of ["router_get_50c", "router_mget10_50c"] as const) {
    const cell = cellById(id);
    assert.deepEqual(all.filter((t) => cellRunsOn(cell, t)), ROUTER_TARGETS);
    assert.equal(cell.clients, 50);
    assert.equal(cell.pipeline, 1);
    assert.equal(cell.keys, SMALL_KEYS);
    assert.equal(cell.write, false);
  }
  assert.deepEqual(cellById("router_get_50c").command, ["GET", "key:__rand_int__"]);
  assert.deepEqual(cellById("router_mget10_50c").command, cellById("mget10_50c").command);
  const cell = cellById("router_get_50c");
  const firsts = [0, 1, 2, 3].map((round) => runOrder(cell, all, round, 0)[0]);
  assert.deepEqual(firsts, ["twemproxy", "shardgate", "twemproxy", "shardgate"]);
  // Other cells keep the rotation over every target.
  assert.deepEqual(runOrder(cellById("get_50c"), all, 1, 0), rotatedOrder(all, 1, 0));
  assert.ok(!cellRunsOn(cellById("get_50c_r3"), "twemproxy"));
});

Deno.test("needsRouter() is true only when a router cell is selected", () => {
  assert.equal(needsRouter(["get_50c", "mget10_50c"]), false);
  assert.equal(needsRouter(["get_50c", "router_mget10_50c"]), true);
});
