/**
 * What zone affinity costs a read's node pick (issue 17): nanoseconds per
 * `pick()` of the plain smooth round robin (today's balancer), of the zoned
 * balancer without a sidecar zone (every node `unknown`), and of the zoned
 * balancer with one of three replicas local, with the skip function the
 * shard passes. Pure CPU, no I/O: the figure is the balancer's alone.
 *
 *   node_modules/.bin/deno run bench/zone_pick.ts [rounds=7] [picks=2000000]
 *
 * Prints each round's ns/pick per variant and the medians.
 *
 * @module
 */

import { type Balancer, SmoothRoundRobin } from "../proxy/balancer.ts";
import { Locality, LocalityCounter, ZonedBalancer, type ZonedNode } from "../proxy/zones.ts";

interface Node extends ZonedNode {
  readonly id: string;
  available: boolean;
}

function nodes(localities: Locality[]): Node[] {
  return localities.map((l, i) => ({
    id: `n${i}`,
    weight: 1,
    pending: 0,
    available: true,
    locality: new LocalityCounter(l),
  }));
}

const exclude = { id: "" };
const skip = (n: Node): boolean => !n.available || n.id === exclude.id;

function run(b: Balancer<Node>, picks: number): number {
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < picks; i++) sink += b.pick(skip)!.weight;
  const ns = (performance.now() - t0) * 1e6 / picks;
  if (sink !== picks) throw new Error("a pick failed");
  return ns;
}

const rounds = Number(Deno.args[0] ?? 7);
const picks = Number(Deno.args[1] ?? 2_000_000);
const U = Locality.unknown, S = Locality.same, C = Locality.cross;
const variants: [string, () => Balancer<Node>][] = [
  ["plain round robin, 3 replicas", () => {
    const b = new SmoothRoundRobin<Node>();
    b.reset(nodes([U, U, U]));
    return b;
  }],
  ["zoned, no zone (3 unknown)", () => {
    const b = new ZonedBalancer<Node>("round-robin");
    b.reset(nodes([U, U, U]));
    return b;
  }],
  ["zoned, 1 same + 2 cross", () => {
    const b = new ZonedBalancer<Node>("round-robin");
    b.reset(nodes([S, C, C]));
    return b;
  }],
];
const results = new Map<string, number[]>(variants.map(([name]) => [name, []]));
for (let r = 1; r <= rounds; r++) {
  // Rotate the order per round so warm-up and drift do not favour one variant.
  for (let k = 0; k < variants.length; k++) {
    const [name, make] = variants[(k + r) % variants.length];
    const ns = run(make(), picks);
    results.get(name)!.push(ns);
    console.log(`round=${r} variant="${name}" ns_per_pick=${ns.toFixed(2)}`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, xs] of results) {
  console.log(`median variant="${name}" ns_per_pick=${median(xs).toFixed(2)}`);
}
