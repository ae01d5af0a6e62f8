import assert from "node:assert/strict";
import { diffConfigs } from "./diff.ts";
import { parseConfig } from "./load.ts";
import type { Config } from "./types.ts";

const ENV = { PW: "one", PW2: "two" };

function config(text: string): Config {
  const result = parseConfig(text, "t.yaml", ENV);
  if (result.config === null) throw new Error(JSON.stringify(result.issues));
  return result.config;
}

const BASE = `
admin: { listen: 127.0.0.1:9180 }
shards:
  users:
    readers: 127.0.0.1:6401
    writer: 127.0.0.1:6400
    nodes: [10.0.0.1:6379, { address: 10.0.0.2:6379, weight: 1 }]
  orders:
    readers: 127.0.0.1:6411
    nodes: [10.0.1.1:6379]
`;

Deno.test("diffConfigs() of equal configs is empty", () => {
  const diff = diffConfigs(config(BASE), config(BASE));
  assert.deepEqual(diff, {
    addedShards: [],
    removedShards: [],
    changedShards: [],
    addedRouters: [],
    removedRouters: [],
    changedRouters: [],
    adminChanged: false,
    telemetryChanged: false,
    faultsChanged: false,
    summary: "no change",
  });
});

Deno.test("diffConfigs() ignores node and shard order", () => {
  const reordered = `
admin: { listen: 127.0.0.1:9180 }
shards:
  orders:
    readers: 127.0.0.1:6411
    nodes: [10.0.1.1:6379]
  users:
    readers: 127.0.0.1:6401
    writer: 127.0.0.1:6400
    nodes: [10.0.0.2:6379, 10.0.0.1:6379]
`;
  assert.equal(diffConfigs(config(BASE), config(reordered)).summary, "no change");
});

Deno.test("diffConfigs() finds added, removed and reweighted nodes", () => {
  const next = BASE.replace(
    "[10.0.0.1:6379, { address: 10.0.0.2:6379, weight: 1 }]",
    "[{ address: 10.0.0.2:6379, weight: 3 }, 10.0.0.3:6379]",
  );
  const diff = diffConfigs(config(BASE), config(next));
  assert.equal(diff.changedShards.length, 1);
  const c = diff.changedShards[0];
  assert.equal(c.next.name, "users");
  assert.equal(c.prev.nodes.length, 2);
  assert.deepEqual(c.addedNodes.map((n) => n.id), ["10.0.0.3:6379"]);
  assert.deepEqual(c.removedNodes.map((n) => n.id), ["10.0.0.1:6379"]);
  assert.deepEqual(c.reweightedNodes.map((n) => [n.id, n.weight]), [["10.0.0.2:6379", 3]]);
  assert.deepEqual([c.readersMoved, c.writerMoved, c.settingsChanged], [false, false, []]);
  assert.equal(
    diff.summary,
    "shard users: +node 10.0.0.3:6379, -node 10.0.0.1:6379, weight 10.0.0.2:6379 1→3",
  );
});

Deno.test("diffConfigs() finds added and removed shards", () => {
  const next = BASE.replace("  orders:", "  carts:").replace("6411", "6421");
  const diff = diffConfigs(config(BASE), config(next));
  assert.deepEqual(diff.addedShards.map((s) => s.name), ["carts"]);
  assert.deepEqual(diff.removedShards.map((s) => s.name), ["orders"]);
  assert.deepEqual(diff.changedShards, []);
  assert.equal(diff.summary, "+shard carts; -shard orders");
});

Deno.test("diffConfigs() finds moved listeners, added and removed writers", () => {
  const moved = BASE.replace("6401", "6402").replace("    writer: 127.0.0.1:6400\n", "");
  const diff = diffConfigs(config(BASE), config(moved));
  const c = diff.changedShards[0];
  assert.deepEqual([c.readersMoved, c.writerMoved], [true, true]);
  assert.equal(
    diff.summary,
    "shard users: readers 127.0.0.1:6401→127.0.0.1:6402, writer 127.0.0.1:6400→none",
  );
  const back = diffConfigs(config(moved), config(BASE));
  assert.equal(back.changedShards[0].writerMoved, true);
  const writerOnly = diffConfigs(config(BASE), config(BASE.replace("6400", "6409")));
  assert.deepEqual(
    [writerOnly.changedShards[0].readersMoved, writerOnly.changedShards[0].writerMoved],
    [false, true],
  );
});

Deno.test("diffConfigs() names changed settings, inherited ones included", () => {
  const next = BASE.replace(
    "shards:",
    [
      "defaults:",
      "  retries: 3",
      "  timeouts: { server: 5s }",
      "  check: { serve_when_link_down: false }",
      "shards:",
    ].join("\n"),
  ).replace(
    "    nodes: [10.0.1.1:6379]",
    "    nodes: [10.0.1.1:6379]\n    balance: least-pending\n    dns_refresh: 1m",
  );
  const diff = diffConfigs(config(BASE), config(next));
  const byName = new Map(diff.changedShards.map((c) => [c.next.name, c.settingsChanged]));
  assert.deepEqual(byName.get("users"), [
    "retries",
    "timeouts.server",
    "check.serve_when_link_down",
  ]);
  assert.deepEqual(byName.get("orders"), [
    "balance",
    "retries",
    "timeouts.server",
    "check.serve_when_link_down",
    "dns_refresh",
  ]);
  assert.equal(
    diff.summary,
    "shard users: retries 2→3, timeouts.server 2s→5s, check.serve_when_link_down true→false; " +
      "shard orders: balance round-robin→least-pending, retries 2→3, timeouts.server 2s→5s, " +
      "check.serve_when_link_down true→false, dns_refresh 30s→1m",
  );
});

Deno.test("diffConfigs() names secret changes without showing them", () => {
  const withAuth = BASE.replace(
    "shards:",
    "defaults:\n  auth: { password: '${PW}' }\n  client_password: '${PW}'\nshards:",
  );
  const rotated = withAuth.replaceAll("${PW}", "${PW2}");
  const on = diffConfigs(config(BASE), config(withAuth));
  assert.deepEqual(on.changedShards[0].settingsChanged, ["auth", "client_password"]);
  const diff = diffConfigs(config(withAuth), config(rotated));
  assert.deepEqual(diff.changedShards[0].settingsChanged, ["auth.password", "client_password"]);
  assert.equal(
    diff.summary,
    "shard users: auth.password changed, client_password changed; " +
      "shard orders: auth.password changed, client_password changed",
  );
  for (const d of [on, diff]) {
    assert.ok(!d.summary.includes("one") && !d.summary.includes("two"), d.summary);
  }
});

Deno.test("diffConfigs() sees TLS switched on and its settings changed", () => {
  const tls = BASE.replace("shards:", "defaults:\n  tls: true\nshards:");
  const named = BASE.replace("shards:", "defaults:\n  tls: { servername: r.internal }\nshards:");
  assert.deepEqual(diffConfigs(config(BASE), config(tls)).changedShards[0].settingsChanged, [
    "tls",
  ]);
  const diff = diffConfigs(config(tls), config(named));
  assert.deepEqual(diff.changedShards[0].settingsChanged, ["tls.servername"]);
  assert.match(diff.summary, /tls\.servername default→r\.internal/);
});

Deno.test("diffConfigs() flags admin and telemetry changes", () => {
  const next = BASE.replace("9180", "9181") + "telemetry: { sample_ratio: 0.5 }\n";
  const diff = diffConfigs(config(BASE), config(next));
  assert.deepEqual([diff.adminChanged, diff.telemetryChanged], [true, true]);
  assert.deepEqual(diff.changedShards, []);
  assert.equal(
    diff.summary,
    "admin 127.0.0.1:9180→127.0.0.1:9181; telemetry.sample_ratio 0.01→0.5",
  );
  const noAdmin = diffConfigs(config(BASE), config(BASE.replace(/^admin:.*$/m, "")));
  assert.deepEqual([noAdmin.adminChanged, noAdmin.summary], [true, "admin 127.0.0.1:9180→none"]);
});
