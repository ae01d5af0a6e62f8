import assert from "node:assert/strict";
import { diffConfigs } from "./diff.ts";
import { parseBad, parseOk } from "./_test_parse.ts";

/** Three shards; the first node of `users` is written in mixed case on purpose. */
const SHARDS = `shards:
  users:
    readers: 127.0.0.1:7001
    writer: 127.0.0.1:7002
    nodes: [Users-001.Example.COM:6379, 10.0.0.2:6379]
  sessions:
    readers: 127.0.0.1:7011
    nodes: [{ address: 10.0.1.1:11211, weight: 2 }]
  orders:
    readers: 127.0.0.1:7021
    nodes: ["\${ORDERS_NODE}"]
`;
const ENV = { ORDERS_NODE: "orders-1.internal:6380" };
const ok = (text: string) => parseOk(text, ENV);
const bad = (text: string) => parseBad(text, ENV);

/** SHARDS plus a `routers:` section made of `lines` (indented under it). */
function routers(...lines: string[]): string {
  return `${SHARDS}routers:\n${lines.map((l) => `  ${l}`).join("\n")}\n`;
}

Deno.test("parseConfig() reads a ketama router with defaults and twemproxy's default ring names", () => {
  const config = ok(
    routers("cache:", "  listen: 127.0.0.1:6400", "  shards: [users, sessions, orders]"),
  );
  assert.equal(config.routers.length, 1);
  const r = config.routers[0];
  assert.equal(r.name, "cache");
  assert.equal(r.listen.text, "127.0.0.1:6400");
  assert.equal(r.allowRemote, false);
  assert.equal(r.distribution, "ketama");
  assert.equal(r.hash, "fnv1a_64");
  assert.equal(r.hashTag, null);
  assert.equal(r.reads, "readers");
  assert.deepEqual(r.shards, [
    // As written (twemproxy hashes the name's bytes), not the normalised lower-case id.
    { shard: "users", name: "Users-001.Example.COM:6379", weight: 1, slots: [] },
    // Port 11211: twemproxy leaves it out (libmemcached's rule).
    { shard: "sessions", name: "10.0.1.1", weight: 1, slots: [] },
    // ${ENV} is expanded first.
    { shard: "orders", name: "orders-1.internal:6380", weight: 1, slots: [] },
  ]);
  assert.ok(Object.isFrozen(r.shards[0]));
  assert.deepEqual(ok(SHARDS).routers, []);
});

Deno.test("parseConfig() reads every router key", () => {
  const config = ok(routers(
    "cache:",
    "  listen: 0.0.0.0:6400",
    "  allow_remote: true",
    "  distribution: ketama",
    "  hash: md5",
    `  hash_tag: "{}"`,
    "  reads: writer",
    "  shards:",
    `    - { shard: users, name: "10.0.0.1:6379", weight: 2 }`,
    "    - sessions",
    "reads:",
    "  listen: 127.0.0.1:6401",
    "  hash: murmur",
    `  hash_tag: "::"`,
    "  shards: [orders]",
  ));
  const [cache, second] = config.routers;
  assert.equal(cache.listen.text, "0.0.0.0:6400");
  assert.equal(cache.allowRemote, true);
  assert.equal(cache.hash, "md5");
  assert.equal(cache.hashTag, "{}");
  assert.equal(cache.reads, "writer");
  assert.deepEqual(cache.shards.map((s) => [s.shard, s.name, s.weight]), [
    ["users", "10.0.0.1:6379", 2],
    ["sessions", "10.0.1.1", 1],
  ]);
  assert.equal(second.hash, "murmur");
  assert.equal(second.hashTag, "::");
});

Deno.test("parseConfig() reads a slots router and its slot table", () => {
  const config = ok(routers(
    "cluster:",
    "  listen: 127.0.0.1:6500",
    "  distribution: slots",
    "  shards:",
    `    - { shard: users, slots: "0-8191" }`,
    `    - { shard: sessions, slots: ["8192-12000", 12001-16000] }`,
    `    - { shard: orders, slots: "16001-16382, 16383" }`,
  ));
  const r = config.routers[0];
  assert.equal(r.distribution, "slots");
  assert.equal(r.hashTag, "{}");
  assert.deepEqual(r.shards.map((s) => [s.shard, s.slots]), [
    ["users", [{ first: 0, last: 8191 }]],
    ["sessions", [{ first: 8192, last: 12000 }, { first: 12001, last: 16000 }]],
    ["orders", [{ first: 16001, last: 16382 }, { first: 16383, last: 16383 }]],
  ]);
});

Deno.test("parseConfig() positions router problems", () => {
  assert.deepEqual(
    bad(routers(
      "cache:",
      "  listen: 10.1.1.1:6400",
      "  hash: fnv1a64",
      "  hash_tag: {}",
      "  reads: primary",
      "  distribushun: ketama",
      "  shards: [users, userz, users, { shard: orders, weigth: 2 }, { shard: sessions, weight: 0 }]",
    )),
    [
      '14:13: routers.cache.listen: 10.1.1.1:6400 is not a loopback address; set allow_remote: true in router "cache" to listen on it',
      `15:11: routers.cache.hash: expected "fnv1a_64" or "md5" or "one_at_a_time" or "crc16" or "crc32" or "crc32a" or "fnv1_64" or "fnv1_32" or "fnv1a_32" or "hsieh" or "murmur" or "jenkins", got "fnv1a64"`,
      `16:15: routers.cache.hash_tag: expected two characters in quotes, e.g. "{}", got a map`,
      `17:12: routers.cache.reads: expected "readers" or "writer", got "primary"`,
      `18:5: routers.cache.distribushun: unknown key "distribushun" (did you mean "distribution"?)`,
      `19:21: routers.cache.shards[1]: unknown shard "userz" (did you mean "users"?)`,
      `19:28: routers.cache.shards[2]: shard "users" is listed twice (also routers.cache.shards[0])`,
      `19:52: routers.cache.shards[3].weigth: unknown key "weigth" (did you mean "weight"?)`,
      `19:92: routers.cache.shards[4].weight: 0 is out of range (expected an integer >= 1)`,
    ],
  );
  assert.deepEqual(bad(routers("cache:", "  shards: []", "bad name:", "  listen: 127.0.0.1:1")), [
    `13:3: routers.cache: missing required key "listen"`,
    "14:13: routers.cache.shards: must list at least one shard",
    `15:3: routers.bad name: router name "bad name" may only hold letters, digits, "_" and "-"`,
    `15:3: routers.bad name: missing required key "shards"`,
  ]);
  assert.deepEqual(
    bad(routers("cache:", `  listen: 127.0.0.1:1`, `  hash_tag: "{"`, "  shards: [users]")),
    [
      `15:15: routers.cache.hash_tag: must be exactly two characters, e.g. "{}"`,
    ],
  );
  assert.deepEqual(
    bad(routers("cache:", "  listen: 127.0.0.1:1", "  readers: 127.0.0.1:2", "  shards: [users]")),
    [
      `15:5: routers.cache.readers: unknown key "readers" (a router has one address: "listen")`,
    ],
  );
});

Deno.test("parseConfig() refuses clashing router listeners and duplicate ring names", () => {
  assert.deepEqual(
    bad(routers(
      "a:",
      "  listen: 127.0.0.1:7001",
      "  shards: [users]",
      "b:",
      "  listen: localhost:6400",
      "  shards: [users, { shard: sessions, name: Users-001.Example.COM:6379 }]",
      "c:",
      "  listen: 127.0.0.1:6400",
      "  shards: [users]",
    )),
    [
      "14:13: routers.a.listen: listen address 127.0.0.1:7001 is already used by shards.users.readers",
      `18:46: routers.b.shards[1].name: ring name "Users-001.Example.COM:6379" is also used by routers.b.shards[0]; ketama names must differ`,
      "20:13: routers.c.listen: listen address 127.0.0.1:6400 clashes with routers.b.listen (localhost:6400)",
    ],
  );
});

Deno.test("parseConfig() refuses ring names too long for twemproxy's point buffer", () => {
  const long = "n".repeat(83);
  assert.deepEqual(
    bad(
      routers(
        "cache:",
        "  listen: 127.0.0.1:1",
        `  shards: [users, { shard: orders, name: ${long} }]`,
      ),
    ),
    [
      `15:44: routers.cache.shards[1].name: ring name "${long}" is 83 bytes; twemproxy's ketama takes at most 82 with 2 shards (give a shorter name)`,
    ],
  );
  ok(
    routers(
      "cache:",
      "  listen: 127.0.0.1:1",
      `  shards: [users, { shard: orders, name: ${long.slice(1)} }]`,
    ),
  );
});

Deno.test("parseConfig() checks that slots cover 0..16383 exactly once", () => {
  assert.deepEqual(
    bad(routers(
      "cluster:",
      "  listen: 127.0.0.1:6500",
      "  distribution: slots",
      "  hash: md5",
      "  shards:",
      `    - { shard: users, slots: "0-8191", weight: 2 }`,
      `    - { shard: sessions, slots: ["8000-9000", "100"] }`,
      `    - orders`,
    )),
    [
      "16:5: routers.cluster.hash: applies to distribution: ketama only (slots hash with CRC16 and {tag})",
      "18:42: routers.cluster.shards[0].weight: applies to distribution: ketama only (slots hash with CRC16 and {tag})",
      `19:36: routers.cluster.shards[1].slots[0]: slots 8000-8191 already belong to shard "users" (routers.cluster.shards[0])`,
      `19:49: routers.cluster.shards[1].slots[1]: slots 100 already belong to shard "users" (routers.cluster.shards[0])`,
      "20:9: routers.cluster.shards[2]: expected { shard, slots } with distribution: slots",
    ],
  );
  assert.deepEqual(
    bad(routers(
      "cluster:",
      "  listen: 127.0.0.1:6500",
      "  distribution: slots",
      "  shards:",
      `    - { shard: users, slots: "0-100,200-8000" }`,
      `    - { shard: sessions, slots: "8001-16382" }`,
    )),
    ["17:7: routers.cluster.shards: slots 101-199,16383 belong to no shard (each slot 0..16383 needs exactly one)"],
  );
  assert.deepEqual(
    bad(routers(
      "cluster:",
      "  listen: 127.0.0.1:6500",
      "  distribution: slots",
      "  shards:",
      `    - { shard: users, slots: "0-16384" }`,
      `    - { shard: sessions, slots: "9-2" }`,
      `    - { shard: orders, slots: "x" }`,
      `    - { shard: users, slots: [] }`,
    )),
    [
      "17:32: routers.cluster.shards[0].slots: slot 16384 is out of range 0..16383",
      "18:35: routers.cluster.shards[1].slots: range 9-2 runs backwards",
      `19:33: routers.cluster.shards[2].slots: "x" is not a slot or a range of slots (e.g. 0-8191)`,
      `20:18: routers.cluster.shards[3].shard: shard "users" is listed twice (also routers.cluster.shards[0])`,
      "20:32: routers.cluster.shards[3].slots: must list at least one slot",
    ],
  );
  assert.deepEqual(
    bad(routers("c:", "  listen: 127.0.0.1:1", "  shards: [{ shard: users, slots: 0-16383 }]")),
    ["15:30: routers.c.shards[0].slots: applies to distribution: slots only"],
  );
});

Deno.test("parseConfig() does not call a shard with problems of its own unknown", () => {
  const text = SHARDS.replace("nodes: [{ address: 10.0.1.1", "nodez: [{ address: 10.0.1.1") +
    "routers:\n  cache:\n    listen: 127.0.0.1:6400\n    shards: [users, sessions]\n";
  const issues = bad(text);
  assert.ok(issues.every((i) => !i.includes("routers.")), issues.join("\n"));
});

Deno.test("diffConfigs() reports routers added, removed and changed", () => {
  const base = ok(routers(
    "cache:",
    "  listen: 127.0.0.1:6400",
    "  shards: [users, { shard: sessions, weight: 2 }]",
    "old:",
    "  listen: 127.0.0.1:6401",
    "  shards: [users]",
  ));
  assert.deepEqual(diffConfigs(base, base).changedRouters, []);
  assert.equal(diffConfigs(base, base).summary, "no change");

  const next = ok(routers(
    "cache:",
    "  listen: 127.0.0.1:6410",
    "  hash: md5",
    `  hash_tag: "{}"`,
    "  shards: [{ shard: sessions, weight: 3 }, orders]",
    "new:",
    "  listen: 127.0.0.1:6402",
    "  reads: writer",
    "  shards: [orders]",
  ));
  const diff = diffConfigs(base, next);
  assert.deepEqual(diff.addedRouters.map((r) => r.name), ["new"]);
  assert.deepEqual(diff.removedRouters.map((r) => r.name), ["old"]);
  assert.equal(diff.changedRouters.length, 1);
  const c = diff.changedRouters[0];
  assert.equal(c.listenMoved, true);
  assert.equal(c.ringChanged, true);
  assert.deepEqual(c.changed, ["listen", "hash", "hash_tag", "shards"]);
  assert.equal(
    diff.summary,
    "+router new; -router old; router cache: listen 127.0.0.1:6400→127.0.0.1:6410, hash fnv1a_64→md5, " +
      "hash_tag none→{}, weight sessions 2→3, +shard orders, -shard users",
  );

  // reads alone does not touch the ring; a reordered list is a ring change that moves no key.
  const reads = ok(routers(
    "cache:",
    "  listen: 127.0.0.1:6400",
    "  reads: writer",
    "  shards: [{ shard: sessions, weight: 2 }, users]",
    "old:",
    "  listen: 127.0.0.1:6401",
    "  shards: [users]",
  ));
  const d2 = diffConfigs(base, reads);
  assert.deepEqual(d2.changedRouters.map((c) => [c.changed, c.ringChanged]), [[
    ["reads", "shards"],
    true,
  ]]);
  assert.equal(d2.summary, "router cache: reads readers→writer, shard order");
});

Deno.test("diffConfigs() sees a ring name change made by editing a shard's first node", () => {
  const text = routers("cache:", "  listen: 127.0.0.1:6400", "  shards: [users, sessions]");
  const before = ok(text);
  const after = ok(text.replace("Users-001.Example.COM:6379, 10.0.0.2:6379", "10.0.0.2:6379"));
  const diff = diffConfigs(before, after);
  assert.equal(diff.changedRouters[0].ringChanged, true);
  assert.match(
    diff.summary,
    /router cache: ring name users Users-001\.Example\.COM:6379→10\.0\.0\.2:6379/,
  );
});
