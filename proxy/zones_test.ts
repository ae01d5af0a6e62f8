import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { parseConfig } from "../config/mod.ts";
import { silentLogger } from "../telemetry/logger.ts";
import type { Balancer } from "./balancer.ts";
import { balancerCases, type CaseNode } from "./_test_balancer_cases.ts";
import { always, FakeNode, GET, request } from "./_test_fake_node.ts";
import { Shard } from "./mod.ts";
import { Locality, LocalityCounter, ZonedBalancer, type ZonedNode } from "./zones.ts";

type ZCase = CaseNode & ZonedNode;

/** The shared cases through a ZonedBalancer whose candidates all have `locality`. */
function zonedCases(locality: Locality): Balancer<CaseNode> {
  const inner = new ZonedBalancer<ZCase>("round-robin");
  const counter = new LocalityCounter(locality);
  return {
    reset(nodes) {
      inner.reset(nodes.map((n) => Object.assign(n, { locality: counter })));
    },
    pick(skip) {
      return inner.pick(skip as ((n: ZCase) => boolean) | undefined);
    },
  };
}

balancerCases("ZonedBalancer(no zone)", () => zonedCases(Locality.unknown));
balancerCases("ZonedBalancer(all local)", () => zonedCases(Locality.same));
balancerCases("ZonedBalancer(all cross)", () => zonedCases(Locality.cross));

function zNode(name: string, locality: Locality, weight = 1): ZCase {
  return { name, weight, pending: 0, locality: new LocalityCounter(locality) };
}

Deno.test("ZonedBalancer.pick() takes the local zone while one may be picked, then the others", () => {
  const b = new ZonedBalancer<ZCase>("round-robin");
  const a1 = zNode("a1", Locality.same, 1);
  const a2 = zNode("a2", Locality.same, 3);
  const b1 = zNode("b1", Locality.cross);
  const u1 = zNode("u1", Locality.unknown);
  b.reset([b1, a1, u1, a2]);
  const seen = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const n = b.pick()!.name;
    seen.set(n, (seen.get(n) ?? 0) + 1);
  }
  // Weights hold within the local tier; nothing goes elsewhere.
  assertEquals(Object.fromEntries(seen), { a1: 100, a2: 300 });
  // A local node skipped (backing off, or the node a hedge avoids): the other local one.
  assertEquals(b.pick((n) => n === a2)!.name, "a1");
  // No local node may be picked: the other zones share the reads.
  const other = new Set<string>();
  for (let i = 0; i < 10; i++) {
    other.add(b.pick((n) => n.locality.locality === Locality.same)!.name);
  }
  assertEquals([...other].sort(), ["b1", "u1"]);
  // Nothing at all: undefined.
  assertEquals(b.pick(() => true), undefined);
});

Deno.test("ZonedBalancer.reset() follows a node that changed zone (routes re-applied)", () => {
  const b = new ZonedBalancer<ZCase>("least-pending");
  const x = zNode("x", Locality.cross);
  const y = zNode("y", Locality.same);
  b.reset([x, y]);
  assertEquals(b.pick()!.name, "y");
  x.locality = new LocalityCounter(Locality.same);
  y.locality = new LocalityCounter(Locality.cross);
  b.reset([x, y]);
  for (let i = 0; i < 5; i++) assertEquals(b.pick()!.name, "x");
  // No local candidate left: picks are the plain balancer's over all.
  x.locality = new LocalityCounter(Locality.unknown);
  b.reset([x, y]);
  const both = new Set([b.pick()!.name, b.pick()!.name]);
  assertEquals([...both].sort(), ["x", "y"]);
});

/** A shard over fake nodes with the given top-level text (zone:) and node list. */
function zonedShard(top: string, nodes: string): Shard {
  const res = parseConfig(
    `${top}\nshards:\n  s:\n    readers: 127.0.0.1:0\n    hedge: false\n    nodes: ${nodes}\n`,
    "test.yaml",
    {},
  );
  if (res.config === null) throw new Error(JSON.stringify(res.issues));
  return new Shard(res.config.shards[0], { logger: silentLogger });
}

Deno.test("Shard sends reads to the node in its zone, counts them as same, and learns zones", async () => {
  const a = new FakeNode(always("$1\r\na\r\n"));
  const b = new FakeNode(always("$1\r\nb\r\n"));
  const shard = zonedShard(
    "zone: az-a",
    `[{ address: "${a.address}", zone: az-b }, "${b.address}"]`,
  );
  try {
    shard.start();
    const port = shard.bound()[0].port;
    // b has no zone yet (unknown), a is in another zone: both serve, spread.
    for (let i = 0; i < 10; i++) await request(port, GET, 2);
    assert(a.commands > 0 && b.commands > 0, `a ${a.commands} b ${b.commands}`);
    const z0 = shard.zones.snapshot(shard.config.nodes, shard.config.zone);
    assertEquals(z0.nodes.map((n) => [n.zone, n.source, n.locality]), [
      ["az-b", "config", "cross"],
      [null, null, "unknown"],
    ]);
    // b reports availability_zone az-a: it becomes the local replica.
    assert(shard.zones.learn(b.address, "az-a"));
    assert(!shard.zones.learn(b.address, "az-a"), "the same zone again is no change");
    shard.setRoutes(shard.routes);
    const before = [a.commands, b.commands];
    for (let i = 0; i < 20; i++) assertEquals(await request(port, GET, 2), "$1\r\nb\r\n");
    assertEquals([a.commands - before[0], b.commands - before[1]], [0, 20]);
    const z1 = shard.zones.snapshot(shard.config.nodes, shard.config.zone);
    assertEquals(z1.nodes[1], { id: b.address, zone: "az-a", source: "learned", locality: "same" });
    assert(z1.reads.same >= 20, JSON.stringify(z1.reads));
    assertEquals(z1.bytes.same, z1.reads.same * 7); // "$1\r\nb\r\n"
    assert(z1.reads.cross > 0 && z1.reads.unknown > 0, JSON.stringify(z1.reads));
    // A learned zone never overrides a configured one.
    shard.zones.learn(a.address, "az-a");
    shard.setRoutes(shard.routes);
    assertEquals(
      shard.zones.snapshot(shard.config.nodes, shard.config.zone).nodes[0].locality,
      "cross",
    );
  } finally {
    await shard.close(0);
    await a.close();
    await b.close();
  }
});

Deno.test("Shard without zone: reads spread over every node as before", async () => {
  const a = new FakeNode(always("+a\r\n"));
  const b = new FakeNode(always("+b\r\n"));
  const shard = zonedShard("", `[{ address: "${a.address}", zone: az-a }, "${b.address}"]`);
  try {
    shard.start();
    const port = shard.bound()[0].port;
    for (let i = 0; i < 20; i++) await request(port, GET, 1);
    assertEquals([a.commands, b.commands], [10, 10]);
    const z = shard.zones.snapshot(shard.config.nodes, shard.config.zone);
    assertEquals(z.zone, null);
    assertEquals(z.reads, { same: 0, cross: 0, unknown: 20 });
  } finally {
    await shard.close(0);
    await a.close();
    await b.close();
  }
});
