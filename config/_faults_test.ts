import assert from "node:assert/strict";
import { diffConfigs } from "./diff.ts";
import { DEFAULT_FAULT_ERROR, DEFAULT_FAULT_PERCENT } from "./defaults.ts";
import { parseBad as bad, parseOk as ok } from "./_test_parse.ts";

const SHARDS = `shards:
  users:
    readers: 127.0.0.1:7001
    writer: 127.0.0.1:7002
    nodes: [10.0.0.1:6379, 10.0.0.2:6379]
  orders:
    readers: 127.0.0.1:7021
    nodes: [10.0.1.1:6379]
`;

/** SHARDS plus a `faults:` list made of `lines` (indented under it). */
function faults(...lines: string[]): string {
  return `${SHARDS}faults:\n${lines.map((l) => `  ${l}`).join("\n")}\n`;
}

Deno.test("parseConfig() reads no faults when the file has none", () => {
  assert.deepEqual(ok(SHARDS).faults, []);
  assert.deepEqual(ok(`${SHARDS}faults:\n`).faults, []);
});

Deno.test("parseConfig() reads every fault key, and the defaults of the optional ones", () => {
  const c = ok(faults(
    `- { shard: users, role: readers, node: 10.0.0.2:6379, commands: [GET, mget], kind: error, percent: 10, error: "ERR rehearsal" }`,
    `- { kind: delay, delay: 50ms }`,
    `- { shard: orders, kind: delay, delay: 10ms-50ms, percent: 20.5, commands: get }`,
    `- { kind: drop, percent: 0.5 }`,
    `- { node: 10.0.1.1:6379, kind: blackhole }`,
    `- { kind: error }`,
  ));
  assert.deepEqual(c.faults, [
    {
      shard: "users",
      role: "readers",
      node: "10.0.0.2:6379",
      commands: ["get", "mget"],
      kind: "error",
      percent: 10,
      delayMs: 0,
      delayMaxMs: 0,
      error: "ERR rehearsal",
    },
    {
      shard: null,
      role: null,
      node: null,
      commands: null,
      kind: "delay",
      percent: DEFAULT_FAULT_PERCENT,
      delayMs: 50,
      delayMaxMs: 50,
      error: null,
    },
    {
      shard: "orders",
      role: null,
      node: null,
      commands: ["get"],
      kind: "delay",
      percent: 20.5,
      delayMs: 10,
      delayMaxMs: 50,
      error: null,
    },
    {
      shard: null,
      role: null,
      node: null,
      commands: null,
      kind: "drop",
      percent: 0.5,
      delayMs: 0,
      delayMaxMs: 0,
      error: null,
    },
    {
      shard: null,
      role: null,
      node: "10.0.1.1:6379",
      commands: null,
      kind: "blackhole",
      percent: 100,
      delayMs: 0,
      delayMaxMs: 0,
      error: null,
    },
    {
      shard: null,
      role: null,
      node: null,
      commands: null,
      kind: "error",
      percent: 100,
      delayMs: 0,
      delayMaxMs: 0,
      error: DEFAULT_FAULT_ERROR,
    },
  ]);
});

Deno.test("parseConfig() positions fault problems at file:line:col", () => {
  assert.deepEqual(
    bad(faults(
      `- { shard: nope, kind: error }`,
      `- { shard: orders, node: 10.0.0.1:6379, kind: drop }`,
      `- { kind: delay }`,
      `- { kind: delay, delay: 50ms-10ms }`,
      `- { kind: error, delay: 5ms, percent: 101 }`,
      `- { kind: drop, error: "ERR x" }`,
      `- { kind: explode }`,
      `- { role: primary, kind: drop }`,
      `- { kind: error, error: "-ERR x" }`,
      `- { kind: error, commands: [] }`,
      `- { shard: users }`,
      `- { kind: drop, bogus: 1 }`,
    )).sort(),
    [
      `10:14: faults[0].shard: no shard called "nope"`,
      `11:28: faults[1].node: no node 10.0.0.1:6379 in shard "orders" (write it as in the shard's nodes)`,
      `12:5: faults[2]: missing required key "delay" (e.g. 50ms, or 10ms-50ms)`,
      `13:27: faults[3].delay: the range 50ms-10ms runs backwards`,
      `14:41: faults[4].percent: 101 is out of range (expected a number 0..100)`,
      `14:20: faults[4].delay: only valid with kind: delay`,
      `15:19: faults[5].error: only valid with kind: error`,
      `16:13: faults[6].kind: expected "delay" or "error" or "drop" or "blackhole", got "explode"`,
      `17:13: faults[7].role: expected "readers" or "writer" or "router", got "primary"`,
      `18:27: faults[8].error: write it without the leading "-" (e.g. "ERR rehearsal")`,
      `19:30: faults[9].commands: must list at least one command (leave it out for all)`,
      `20:5: faults[10]: missing required key "kind" (delay, error, drop, blackhole)`,
      `21:19: faults[11].bogus: unknown key "bogus" (expected one of: shard, role, node, commands, kind, percent, delay, error)`,
    ].sort(),
  );
});

Deno.test("diffConfigs() notices changed fault rules, and only them", () => {
  const a = ok(SHARDS);
  const b = ok(faults(`- { shard: users, kind: error, percent: 10 }`));
  const d = diffConfigs(a, b);
  assert.equal(d.faultsChanged, true);
  assert.equal(d.summary, "faults 0→1 rules");
  assert.equal(
    diffConfigs(b, ok(faults(`- { shard: users, kind: error, percent: 10 }`))).faultsChanged,
    false,
  );
  assert.equal(
    diffConfigs(b, ok(faults(`- { shard: users, kind: error, percent: 20 }`))).faultsChanged,
    true,
  );
  assert.equal(diffConfigs(b, a).summary, "faults 1→0 rules");
});
