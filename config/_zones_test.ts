import assert from "node:assert/strict";
import { diffConfigs } from "./diff.ts";
import { parseBad as bad, parseOk as ok } from "./_test_parse.ts";

const zoned = (zone: string, nodes = `[10.0.0.1:6379, { address: 10.0.0.2:6379, zone: b }]`) =>
  [
    ...(zone === "" ? [] : [`zone: ${zone}`]),
    "shards:",
    "  s:",
    "    readers: 127.0.0.1:7001",
    `    nodes: ${nodes}`,
    "",
  ].join("\n");

Deno.test("parseConfig() reads the sidecar's zone and node zones", () => {
  const c = ok(
    zoned("us-east-1a", `[10.0.0.1:6379, { address: 10.0.0.2:6379, zone: us-east-1b, weight: 2 }]`),
  );
  assert.equal(c.zone, "us-east-1a");
  const s = c.shards[0];
  assert.equal(s.zone, "us-east-1a");
  assert.equal(s.nodes[0].zone ?? null, null);
  assert.equal(s.nodes[1].zone, "us-east-1b");
  assert.equal(s.nodes[1].weight, 2);
});

Deno.test("parseConfig() takes zone: from the environment; empty or unset-with-default means none", () => {
  assert.equal(ok(zoned("${AZ}"), { AZ: "eu-west-1c" }).shards[0].zone, "eu-west-1c");
  assert.equal(ok(zoned("${AZ:-}"), {}).shards[0].zone ?? null, null);
  assert.equal(ok(zoned("${AZ:-use1-az2}"), {}).zone, "use1-az2");
  assert.equal(ok(zoned("~")).zone ?? null, null);
  assert.equal(ok(zoned("")).zone ?? null, null);
  assert.deepEqual(bad(zoned("${AZ}"), {}), ["1:7: zone: environment variable AZ is not set"]);
});

Deno.test("parseConfig() refuses bad zone names with file positions", () => {
  assert.deepEqual(bad(zoned("'a b'")), [
    `1:7: zone: expected a zone name (letters, digits, ".", "_", ":", "-"; e.g. us-east-1a), got "a b"`,
  ]);
  assert.deepEqual(bad(zoned("[a]")), [
    `1:7: zone: expected a zone name (letters, digits, ".", "_", ":", "-"; e.g. us-east-1a), got a list`,
  ]);
  assert.deepEqual(bad(zoned("a", `[{ address: 10.0.0.2:6379, zone: "x/y" }]`)), [
    `5:45: shards.s.nodes[0].zone: expected a zone name (letters, digits, ".", "_", ":", "-"; e.g. us-east-1a), got "x/y"`,
  ]);
  assert.deepEqual(bad(zoned("z".repeat(65))), [
    "1:7: zone: zone name longer than 64 characters",
  ]);
  assert.deepEqual(bad(zoned("a", `[{ address: 10.0.0.2:6379, zonee: b }]`)), [
    `5:39: shards.s.nodes[0].zonee: unknown key "zonee" (did you mean "zone"?)`,
  ]);
});

Deno.test("diffConfigs() reports zone changes as an in-place shard change", () => {
  const a = ok(zoned("a"));
  const same = diffConfigs(a, ok(zoned("a")));
  assert.equal(same.summary, "no change");
  const moved = diffConfigs(a, ok(zoned("b")));
  assert.equal(moved.changedShards.length, 1);
  assert.equal(moved.changedShards[0].readersMoved, false);
  assert.equal(moved.summary, "shard s: zone a→b");
  const unset = diffConfigs(a, ok(zoned("")));
  assert.equal(unset.summary, "shard s: zone a→none");
  const node = diffConfigs(
    a,
    ok(zoned("a", `[{ address: 10.0.0.1:6379, zone: a }, { address: 10.0.0.2:6379 }]`)),
  );
  assert.equal(node.summary, "shard s: zone 10.0.0.1:6379 none→a, zone 10.0.0.2:6379 b→none");
  assert.equal(node.changedShards[0].addedNodes.length, 0);
});

Deno.test("parseConfig() points a zone: in a shard or defaults to the top level and the node form", () => {
  const hint =
    `unknown key "zone" (the sidecar's zone is the top-level "zone:"; a node's is { address, zone })`;
  assert.deepEqual(
    bad("shards:\n  s:\n    readers: 127.0.0.1:7001\n    nodes: [10.0.0.1:6379]\n    zone: a\n"),
    [`5:5: shards.s.zone: ${hint}`],
  );
  assert.deepEqual(
    bad(
      "defaults:\n  zone: a\nshards:\n  s: { readers: 127.0.0.1:7001, nodes: [10.0.0.1:6379] }\n",
    ),
    [`2:3: defaults.zone: ${hint}`],
  );
});
