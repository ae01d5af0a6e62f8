import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { formatIssue, issueAt, loadConfig, parseConfig } from "./load.ts";
import type { Config, ShardConfig } from "./types.ts";
import {
  DEFAULT_CHECK_INTERVAL_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_PASSIVE_MAX_COOLDOWN_MS,
  DEFAULT_SAMPLE_RATIO,
  DEFAULT_SERVER_TIMEOUT_MS,
} from "./defaults.ts";
import { parseBad, parseOk as ok } from "./_test_parse.ts";

const testdata = (name: string) => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));

/** Parses text that must be invalid; issues as `line:col: path: message`. */
function bad(text: string, env: Record<string, string> = {}): string[] {
  const issues = parseBad(text, env);
  assert.ok(issues.length > 0);
  return issues;
}

/** A one-shard config with `lines` added to the shard (indented 4). */
function shard(...lines: string[]): string {
  return [
    "shards:",
    "  s:",
    "    readers: 127.0.0.1:7001",
    "    nodes: [10.0.0.1:6379]",
    ...lines.map((l) => `    ${l}`),
    "",
  ].join("\n");
}

function only(config: Config): ShardConfig {
  assert.equal(config.shards.length, 1);
  return config.shards[0];
}

Deno.test("parseConfig() reads DESIGN.md's example", async () => {
  const text = await Deno.readTextFile(testdata("design.yaml"));
  const config = ok(text, { REDIS_AUTH: "tok" });
  assert.equal(config.file, "t.yaml");
  assert.equal(config.admin?.listen.text, "127.0.0.1:9180");
  assert.equal(config.telemetry.sampleRatio, 0.01);
  const users = only(config);
  assert.equal(users.name, "users");
  assert.deepEqual(users.readers, { host: "127.0.0.1", port: 6401, text: "127.0.0.1:6401" });
  assert.equal(users.writer?.text, "127.0.0.1:6400");
  assert.deepEqual(
    users.nodes.map((n) => [n.id, n.address.host, n.address.port, n.weight]),
    [
      [
        "users-001.example.cache.amazonaws.com:6379",
        "users-001.example.cache.amazonaws.com",
        6379,
        1,
      ],
      [
        "users-002.example.cache.amazonaws.com:6379",
        "users-002.example.cache.amazonaws.com",
        6379,
        2,
      ],
    ],
  );
  assert.deepEqual(users.auth, { username: "default", password: "tok" });
  assert.equal(users.tls, null);
  assert.deepEqual(users.timeouts, {
    connectMs: 1_000,
    serverMs: 2_000,
    writerMs: 0,
    failoverMs: 10_000,
    clientIdleMs: 0,
    drainMs: DEFAULT_DRAIN_TIMEOUT_MS,
  });
});

Deno.test("parseConfig() reads every key of a full config", async () => {
  const text = await Deno.readTextFile(testdata("full.yaml"));
  const config = ok(text, { REDIS_AUTH: "a", CLIENT_PASSWORD: "c", ORDERS_AUTH: "o" });
  assert.deepEqual(config.admin, { listen: { host: "::1", port: 9190, text: "[::1]:9190" } });
  assert.deepEqual(config.telemetry, { sampleRatio: 0.5 });
  const [users, orders] = config.shards;
  const common = {
    cache: {
      enabled: false,
      maxKeys: 10_000,
      maxBytes: 64 * 1024 * 1024,
      minReads: 3,
      maxAgeMs: 60_000,
    },
    balance: "least-pending",
    fallback: "none",
    connectionsPerNode: 4,
    maxClients: 500,
    passive: {
      errors: 7,
      windowMs: 30_000,
      cooldownMs: 20_000,
      maxCooldownMs: 600_000,
      maxEjectedPercent: 34,
    },
    dnsRefreshMs: 0,
    consistency: "eventual",
    consistencyWaitMs: 20,
  };
  const hedge = { percentile: 95, minDelayMs: 2, maxDelayMs: 20, budgetPercent: 2.5 };
  assert.deepEqual(users, {
    hedge: { enabled: true, ...hedge },
    ...common,
    name: "users",
    readers: { host: "localhost", port: 7001, text: "localhost:7001" },
    writer: { host: "localhost", port: 7000, text: "localhost:7000" },
    split: null,
    nodes: [
      {
        id: "10.0.0.1:6379",
        address: { host: "10.0.0.1", port: 6379, text: "10.0.0.1:6379" },
        weight: 1,
      },
      {
        id: "10.0.0.2:6379",
        address: { host: "10.0.0.2", port: 6379, text: "10.0.0.2:6379" },
        weight: 3,
      },
      {
        id: "[fd00::2]:6379",
        address: { host: "fd00::2", port: 6379, text: "[fd00::2]:6379" },
        weight: 0,
      },
    ],
    retries: 0,
    timeouts: {
      connectMs: 250,
      serverMs: 5_000,
      writerMs: 0,
      failoverMs: 10_000,
      clientIdleMs: 300_000,
      drainMs: 60_000,
    },
    check: {
      intervalMs: 2_000,
      timeoutMs: 500,
      rise: 3,
      fall: 4,
      maxLagMs: 60_000,
      serveWhenLinkDown: false,
    },
    auth: { username: "app", password: "a" },
    tls: { servername: "redis.internal", caFile: "/etc/ssl/redis.pem", insecure: false },
    clientPassword: "c",
    allowRemote: false,
  });
  // The orders shard overrides some settings and inherits the rest key by key.
  assert.deepEqual(orders, {
    ...common,
    hedge: { enabled: false, ...hedge },
    name: "orders",
    readers: { host: "0.0.0.0", port: 7011, text: "0.0.0.0:7011" },
    writer: null,
    split: null,
    nodes: [{
      id: "orders-001.cache.example.com:6380",
      address: {
        host: "orders-001.cache.example.com",
        port: 6380,
        text: "orders-001.cache.example.com:6380",
      },
      weight: 1,
    }],
    retries: 5,
    timeouts: {
      connectMs: 250,
      serverMs: 10_000,
      writerMs: 0,
      failoverMs: 10_000,
      clientIdleMs: 300_000,
      drainMs: 60_000,
    },
    check: {
      intervalMs: 2_000,
      timeoutMs: 500,
      rise: 3,
      fall: 4,
      maxLagMs: 60_000,
      serveWhenLinkDown: true,
    },
    auth: { username: "app", password: "o" },
    tls: { servername: "redis.internal", caFile: "/etc/ssl/redis.pem", insecure: false },
    clientPassword: null,
    allowRemote: true,
  });
});

Deno.test("parseConfig() reads hedge: on by default, false turns it off, a map turns it on", () => {
  assert.deepEqual(only(ok(shard())).hedge, {
    enabled: true,
    percentile: 99,
    minDelayMs: 5,
    maxDelayMs: 50,
    budgetPercent: 5,
  });
  assert.equal(only(ok(shard("hedge: false"))).hedge.enabled, false);
  assert.equal(
    only(ok("defaults:\n  hedge: false\n" + shard("hedge: { budget: 1 }"))).hedge.enabled,
    true,
  );
  assert.deepEqual(bad(shard("hedge: { min_delay: 20ms, max_delay: 10ms, percentile: 100 }")), [
    "5:42: shards.s.hedge.max_delay: hedge.max_delay (10ms) is less than hedge.min_delay (20ms)",
    "5:60: shards.s.hedge.percentile: 100 is out of range (expected a number 50..99.9)",
  ]);
  assert.deepEqual(bad(shard("hedge: maybe")), [
    '5:12: shards.s.hedge: expected true or false, got "maybe"',
  ]);
});

Deno.test("parseConfig() fills defaults and freezes the result", () => {
  const s = only(ok(shard()));
  assert.equal(s.timeouts.connectMs, DEFAULT_CONNECT_TIMEOUT_MS);
  assert.equal(s.timeouts.serverMs, DEFAULT_SERVER_TIMEOUT_MS);
  assert.equal(s.check.intervalMs, DEFAULT_CHECK_INTERVAL_MS);
  assert.equal(s.passive.maxCooldownMs, DEFAULT_PASSIVE_MAX_COOLDOWN_MS);
  assert.equal(s.auth, null);
  assert.equal(s.tls, null);
  assert.equal(s.writer, null);
  const config = ok(shard());
  assert.equal(config.admin, null);
  assert.equal(config.telemetry.sampleRatio, DEFAULT_SAMPLE_RATIO);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.shards[0].nodes[0].address));
});

Deno.test("parseConfig() merges nested settings key by key, the shard winning", () => {
  const text = [
    "defaults:",
    "  timeouts: { connect: 3s, server: 4s }",
    "  auth: { username: ops, password: x }",
    "  tls: { servername: a.example }",
    "shards:",
    "  a:",
    "    readers: 127.0.0.1:7001",
    "    nodes: [10.0.0.1:6379]",
    "    timeouts: { server: 9s }",
    "    auth: { password: y }",
    "    tls: { insecure: true }",
    "  b:",
    "    readers: 127.0.0.1:7002",
    "    nodes: [10.0.0.1:6379]",
    "    auth: null",
    "    tls: false",
    "  c:",
    "    readers: 127.0.0.1:7003",
    "    nodes: [10.0.0.1:6379]",
    "    auth: { username: null }",
    "    tls: true",
    "",
  ].join("\n");
  const [a, b, c] = ok(text).shards;
  assert.deepEqual(
    [a.timeouts.connectMs, a.timeouts.serverMs, b.timeouts.serverMs],
    [3_000, 9_000, 4_000],
  );
  assert.deepEqual(a.auth, { username: "ops", password: "y" });
  assert.deepEqual(a.tls, { servername: "a.example", caFile: null, insecure: true });
  assert.equal(b.auth, null);
  assert.equal(b.tls, null);
  assert.deepEqual(c.auth, { username: null, password: "x" });
  assert.deepEqual(c.tls, { servername: "a.example", caFile: null, insecure: false });

  const tlsOn = only(ok(shard("tls: true")));
  assert.deepEqual(tlsOn.tls, { servername: null, caFile: null, insecure: false });
});

Deno.test("parseConfig() expands ${VAR} before converting types", () => {
  const env = { R: "4", HOST: "10.9.9.9", ON: "true", PW: "s" };
  const s = only(ok(
    [
      "shards:",
      "  s:",
      "    readers: 127.0.0.1:${PORT:-7001}",
      "    writer: ${WRITER:-}",
      "    nodes: [\"${HOST}:6379\", { address: '${HOST}:6380', weight: '${W:-2}' }]",
      "    retries: ${R}",
      "    allow_remote: ${ON}",
      "    check:",
      "      interval: ${I:-3s}",
      "    passive: { window: '${W:-20s}' }",
      "    client_password: cost-$$5-${PW}",
      "",
    ].join("\n"),
    env,
  ));
  assert.equal(s.readers?.port, 7001);
  assert.equal(s.writer, null);
  assert.deepEqual(s.nodes.map((n) => [n.id, n.weight]), [["10.9.9.9:6379", 1], [
    "10.9.9.9:6380",
    2,
  ]]);
  assert.equal(s.retries, 4);
  assert.equal(s.allowRemote, true);
  assert.equal(s.check.intervalMs, 3_000);
  assert.equal(s.passive.windowMs, 20_000);
  assert.equal(s.clientPassword, "cost-$5-s");
});

Deno.test("parseConfig() positions an unset ${VAR} at its value", () => {
  assert.deepEqual(bad(shard("retries: ${NOPE}")), [
    "5:14: shards.s.retries: environment variable NOPE is not set",
  ]);
  assert.deepEqual(bad(shard("retries: ${R:-two}")), [
    `5:14: shards.s.retries: expected an integer >= 0, got "\${R:-two}"`,
  ]);
  assert.deepEqual(bad(shard("timeouts: { server: '${T}' }"), { T: "5" }), [
    `5:25: shards.s.timeouts.server: duration "\${T}" has no unit (use ms, s, m or h, e.g. \${T}s)`,
  ]);
  assert.deepEqual(bad(shard("retries: ${bad name}")), [
    `5:14: shards.s.retries: bad reference "\${bad name}": expected \${NAME} or \${NAME:-default} (write $$ for a literal $)`,
  ]);
});

Deno.test("parseConfig() reports unknown keys at every level with the nearest known key", () => {
  const text = [
    "admin: { listen: 127.0.0.1:9000, alow_remote: true }", // 1
    "telemetry: { sample: 1 }", // 2
    "defaults:", // 3
    "  retires: 3", // 4
    "  interval: 1s", // 5
    "  readers: 127.0.0.1:1", // 6
    "  check: { intervl: 1s }", // 7
    "  auth: { user: a, password: b }", // 8
    "  tls: { server_name: x }", // 9
    "shard: {}", // 10
    "retries: 1", // 11
    "shards:", // 12
    "  s:", // 13
    "    readers: 127.0.0.1:7001", // 14
    "    nodes: [{ address: 10.0.0.1:1, wieght: 2 }]", // 15
    "    max-clients: 3", // 16
    "    zzz: 1", // 17
    "",
  ].join("\n");
  assert.deepEqual(bad(text), [
    `1:34: admin.alow_remote: unknown key "alow_remote" (did you mean "allow_remote"?)`,
    `2:14: telemetry.sample: unknown key "sample" (did you mean "sample_ratio"?)`,
    `4:3: defaults.retires: unknown key "retires" (did you mean "retries"?)`,
    `5:3: defaults.interval: unknown key "interval" (did you mean "check.interval"?)`,
    `6:3: defaults.readers: unknown key "readers" (only valid inside a shard)`,
    `7:12: defaults.check.intervl: unknown key "intervl" (did you mean "interval"?)`,
    `8:11: defaults.auth.user: unknown key "user" (did you mean "username"?)`,
    `9:10: defaults.tls.server_name: unknown key "server_name" (did you mean "servername"?)`,
    `10:1: shard: unknown key "shard" (did you mean "shards"?)`,
    `11:1: retries: unknown key "retries" (settings belong under "defaults" or a shard)`,
    `15:36: shards.s.nodes[0].wieght: unknown key "wieght" (did you mean "weight"?)`,
    `16:5: shards.s.max-clients: unknown key "max-clients" (did you mean "max_clients"?)`,
    `17:5: shards.s.zzz: unknown key "zzz" (expected one of: readers, writer, split, nodes, balance, fallback, connections_per_node, max_clients, retries, client_password, allow_remote, dns_refresh, consistency, consistency_wait, timeouts, check, passive, hedge, cache, auth, tls)`,
  ]);
});

Deno.test("parseConfig() reports duplicate keys at the second one", () => {
  assert.deepEqual(bad(shard("retries: 1", "retries: 2")), [
    `6:5: shards.s.retries: duplicate key "retries" (first at line 5)`,
  ]);
  assert.deepEqual(bad(shard("check: { rise: 1, rise: 2 }")), [
    `5:23: shards.s.check.rise: duplicate key "rise" (first at line 5)`,
  ]);
});

Deno.test("parseConfig() reports missing required keys", () => {
  assert.deepEqual(bad("admin: { listen: 127.0.0.1:9000 }\n"), [
    `1:1: : missing required key "shards"`,
  ]);
  assert.deepEqual(bad("shards:\n  s:\n    writer: 127.0.0.1:7000\n"), [
    `2:3: shards.s: missing required key "nodes"`,
  ]);
  assert.deepEqual(bad("shards: {}\n"), ["1:9: shards: must define at least one shard"]);
  assert.deepEqual(bad("shards:\n  s:\n"), [
    `2:3: shards.s: missing required key "nodes"`,
    `2:3: shards.s: a shard needs at least one of "readers", "writer", "split"`,
  ]);
  assert.deepEqual(bad(shard().replace("[10.0.0.1:6379]", "[]")), [
    "4:12: shards.s.nodes: must list at least one node",
  ]);
  assert.deepEqual(bad(shard().replace("[10.0.0.1:6379]", "[{ weight: 2 }]")), [
    `4:13: shards.s.nodes[0]: missing required key "address"`,
  ]);
  assert.deepEqual(bad("admin: { allow_remote: true }\n" + shard()), [
    `1:1: admin: missing required key "listen"`,
  ]);
  assert.deepEqual(bad(shard("auth: { username: u }")), [
    `5:11: shards.s.auth: missing required key "password"`,
  ]);
});

Deno.test("parseConfig() checks types and ranges of every setting", () => {
  const cases: [string, string][] = [
    [
      "balance: random",
      `shards.s.balance: expected "round-robin" or "least-pending", got "random"`,
    ],
    ["fallback: replica", `shards.s.fallback: expected "primary" or "none", got "replica"`],
    [
      "connections_per_node: 0",
      "shards.s.connections_per_node: 0 is out of range (expected an integer >= 1)",
    ],
    ["max_clients: 1.5", `shards.s.max_clients: expected an integer >= 1, got "1.5"`],
    ["retries: -1", "shards.s.retries: -1 is out of range (expected an integer >= 0)"],
    ["retries:", "shards.s.retries: missing value (expected an integer >= 0)"],
    ["retries: [1]", "shards.s.retries: expected an integer >= 0, got a list"],
    ["timeouts: 5s", "shards.s.timeouts: expected a map, got a scalar"],
    [
      "timeouts: { connect: 5 }",
      `shards.s.timeouts.connect: duration "5" has no unit (use ms, s, m or h, e.g. 5s)`,
    ],
    ["timeouts: { server: -1s }", `shards.s.timeouts.server: duration "-1s" is negative`],
    [
      "timeouts: { drain: 30d }",
      `shards.s.timeouts.drain: unknown unit in duration "30d" (use ms, s, m or h)`,
    ],
    ["check: { interval: 0s }", "shards.s.check.interval: must be more than 0"],
    ["check: { timeout: 0 }", "shards.s.check.timeout: must be more than 0"],
    ["check: { rise: 0 }", "shards.s.check.rise: 0 is out of range (expected an integer >= 1)"],
    ["check: { fall: x }", `shards.s.check.fall: expected an integer >= 1, got "x"`],
    [
      "check: { max_lag: 1 }",
      `shards.s.check.max_lag: duration "1" has no unit (use ms, s, m or h, e.g. 1s)`,
    ],
    [
      "check: { serve_when_link_down: yes }",
      `shards.s.check.serve_when_link_down: expected true or false, got "yes"`,
    ],
    [
      "passive: { errors: 0 }",
      "shards.s.passive.errors: 0 is out of range (expected an integer >= 1)",
    ],
    ["passive: { window: 0s }", "shards.s.passive.window: must be more than 0"],
    [
      "passive: { max_ejected_percent: 101 }",
      "shards.s.passive.max_ejected_percent: 101 is out of range (expected an integer 0..100)",
    ],
    [
      "passive: { cooldown: 1m, max_cooldown: 30s }",
      "shards.s.passive.max_cooldown: passive.max_cooldown (30s) is less than passive.cooldown (1m)",
    ],
    ["auth: yes", `shards.s.auth: invalid value (expected a map { username, password } or null)`],
    ["auth: { username: '', password: p }", "shards.s.auth.username: must not be empty"],
    [
      "tls: maybe",
      `shards.s.tls: expected true, false or a map { servername, ca_file, insecure }, got "maybe"`,
    ],
    ["tls: { insecure: 1 }", `shards.s.tls.insecure: expected true or false, got "1"`],
    ["allow_remote: on", `shards.s.allow_remote: expected true or false, got "on"`],
    [
      "dns_refresh: soon",
      `shards.s.dns_refresh: "soon" is not a duration (use e.g. 500ms, 2s, 1m or 1h)`,
    ],
    [
      "writer: 127.0.0.1",
      `shards.s.writer: "127.0.0.1" has no port (expected host:port, e.g. 127.0.0.1:6379)`,
    ],
    [
      "writer: 127.0.0.1:70000",
      `shards.s.writer: port 70000 in "127.0.0.1:70000" is out of range 0..65535`,
    ],
  ];
  for (const [line, expected] of cases) {
    const issues = bad(shard(line));
    assert.equal(issues.length, 1, `${line}: ${issues.join(" | ")}`);
    assert.equal(issues[0].replace(/^\d+:\d+: /, ""), expected, line);
  }
});

Deno.test("parseConfig() checks telemetry, node ports and weights", () => {
  assert.deepEqual(bad("telemetry: { sample_ratio: 1.5 }\n" + shard()), [
    "1:28: telemetry.sample_ratio: 1.5 is out of range (expected a number 0..1)",
  ]);
  assert.equal(ok("telemetry: { sample_ratio: 1 }\n" + shard()).telemetry.sampleRatio, 1);
  const nodes = (list: string) => bad(shard().replace("[10.0.0.1:6379]", list));
  assert.deepEqual(nodes("[10.0.0.1:0]"), [
    `4:13: shards.s.nodes[0]: port 0 in "10.0.0.1:0" is out of range 1..65535`,
  ]);
  assert.deepEqual(nodes("[{ address: 10.0.0.1:1, weight: -1 }]"), [
    "4:44: shards.s.nodes[0].weight: -1 is out of range (expected an integer >= 0)",
  ]);
  assert.deepEqual(nodes("[[a, b]]"), [
    `4:13: shards.s.nodes[0]: expected "host:port" or { address, weight, zone }, got a list (quote IPv6 addresses: "[::1]:6379")`,
  ]);
  assert.deepEqual(nodes("10.0.0.1:6379"), [
    `4:12: shards.s.nodes: expected a list of nodes ("host:port" or { address, weight, zone }), got a scalar`,
  ]);
  assert.deepEqual(nodes(`["::1:6379"]`), [
    `4:13: shards.s.nodes[0]: "::1:6379": write IPv6 addresses in brackets, e.g. "[::1]:6379" (quoted in YAML)`,
  ]);
});

Deno.test("parseConfig() refuses duplicate nodes by their normalised id", () => {
  const list =
    `["[::1]:6379", "[0:0::1]:6379", Node.Example:1, { address: node.example:1, weight: 2 }]`;
  assert.deepEqual(bad(shard().replace("[10.0.0.1:6379]", list)), [
    "4:27: shards.s.nodes[1]: duplicate node [::1]:6379 (also nodes[0])",
    "4:60: shards.s.nodes[3]: duplicate node node.example:1 (also nodes[2])",
  ]);
});

Deno.test("parseConfig() refuses a shard whose weights are all 0", () => {
  const list = "[{ address: a:1, weight: 0 }, { address: b:1, weight: 0 }]";
  assert.deepEqual(bad(shard().replace("[10.0.0.1:6379]", list)), [
    "4:12: shards.s.nodes: every node has weight 0: at least one must be above 0",
  ]);
  const mixed = "[{ address: a:1, weight: 0 }, b:1]";
  assert.deepEqual(only(ok(shard().replace("[10.0.0.1:6379]", mixed))).nodes.map((n) => n.weight), [
    0,
    1,
  ]);
});

Deno.test("parseConfig() refuses listen addresses used twice or clashing", () => {
  const text = [
    "admin: { listen: 127.0.0.1:9000 }", // 1
    "shards:", // 2
    "  a:", // 3
    "    readers: 127.0.0.1:7001", // 4
    "    writer: 127.0.0.1:7001", // 5
    "    nodes: [n:1]", // 6
    "  b:", // 7
    "    readers: localhost:7001", // 8
    "    writer: 0.0.0.0:9000", // 9
    "    allow_remote: true", // 10
    "    nodes: [n:1]", // 11
    "  c:", // 12
    "    readers: 127.0.0.1:0", // 13
    "    writer: 127.0.0.1:0", // 14
    "    nodes: [n:1]", // 15
    "",
  ].join("\n");
  assert.deepEqual(bad(text), [
    "5:13: shards.a.writer: listen address 127.0.0.1:7001 is already used by shards.a.readers",
    "8:14: shards.b.readers: listen address localhost:7001 clashes with shards.a.readers (127.0.0.1:7001)",
    "9:13: shards.b.writer: listen address 0.0.0.0:9000 clashes with admin.listen (127.0.0.1:9000)",
  ]);
});

Deno.test("parseConfig() requires loopback listeners unless allow_remote is set", () => {
  assert.deepEqual(bad(shard().replace("127.0.0.1:7001", "0.0.0.0:7001")), [
    `3:14: shards.s.readers: 0.0.0.0:7001 is not a loopback address; set allow_remote: true in shard "s" to listen on it`,
  ]);
  assert.deepEqual(bad(shard("writer: 10.1.1.1:7000")), [
    `5:13: shards.s.writer: 10.1.1.1:7000 is not a loopback address; set allow_remote: true in shard "s" to listen on it`,
  ]);
  ok(shard("writer: 10.1.1.1:7000", "allow_remote: true"));
  ok("defaults: { allow_remote: true }\n" + shard("writer: '[::]:7000'"));
  ok(shard(`writer: "[::1]:7000"`));
  ok(shard("writer: 127.8.0.1:7001"));
  assert.deepEqual(bad("admin: { listen: 0.0.0.0:9000 }\n" + shard("allow_remote: true")), [
    "1:18: admin.listen: 0.0.0.0:9000 is not a loopback address; set admin.allow_remote: true to listen on it",
  ]);
  ok("admin: { listen: 0.0.0.0:9000, allow_remote: true }\n" + shard());
});

Deno.test("parseConfig() refuses bad shard names and non-map shards", () => {
  const text = "shards:\n  'a b':\n    readers: 127.0.0.1:7001\n    nodes: [n:1]\n  c: 5\n";
  assert.deepEqual(bad(text), [
    `2:3: shards.a b: shard name "a b" may only hold letters, digits, "_" and "-"`,
    "5:6: shards.c: expected a shard (a map), got a scalar",
  ]);
});

Deno.test("parseConfig() reports YAML syntax errors with their position", () => {
  const issues = bad(shard().replace("127.0.0.1:7001", "[::1]:7001"));
  assert.equal(issues.length, 1);
  assert.match(issues[0], /^3:\d+: : YAML: /);
  assert.match(bad("a: 1\n---\nb: 2\n")[0], /^2:1: : YAML: /);
  assert.match(bad("shards:\n  s: {\n")[0], /^\d+:\d+: : YAML: /);
  assert.match(bad("shards:\n\t- x\n")[0], /^2:1: : YAML: /);
  const flow = bad(shard("check: { interval: ${I:-3s} }"));
  assert.match(
    flow[0],
    /^5:\d+: : YAML: .* \(inside \{ \} or \[ \], quote values that use \$\{\.\.\.\}\)$/,
  );
});

Deno.test("parseConfig() refuses an empty file and a non-map top level", () => {
  assert.deepEqual(bad(""), [`1:1: : the config is empty (it needs at least "shards")`]);
  assert.deepEqual(bad("# nothing\n"), [`1:1: : the config is empty (it needs at least "shards")`]);
  assert.deepEqual(bad("- a\n"), ["1:1: : expected a map at the top level, got a list"]);
});

Deno.test("parseConfig() collects every issue of the file in source order", () => {
  const text = [
    "defaults:",
    "  retries: x",
    "  timeouts: { server: 5 }",
    "shards:",
    "  s:",
    "    readers: 0.0.0.0:7001",
    "    nodes: [a:1, a:1]",
    "    balance: fast",
    "",
  ].join("\n");
  const issues = bad(text);
  assert.deepEqual(issues.map((i) => i.split(": ")[1]), [
    "defaults.retries",
    "defaults.timeouts.server",
    "shards.s.readers",
    "shards.s.nodes[1]",
    "shards.s.balance",
  ]);
  const positions = issues.map((i) => i.split(": ")[0].split(":").map(Number));
  const sorted = [...positions].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  assert.deepEqual(positions, sorted);
});

Deno.test("parseConfig() never puts a secret in an issue", () => {
  const secret = "hunter2-SECRET";
  const env = { PW: secret, BAD: `\${${secret}` };
  const texts = [
    // Problems next to or inside secret values, and unparsable YAML on a secret's line.
    shard(`auth: { password: "${secret}", password: "\${PW}" }`),
    shard(`auth: { password: { nested: ${secret} } }`),
    shard(`client_password: [${secret}]`),
    shard(`client_password: "\${${secret}"`),
    shard(`client_password: "\${PW:-x} \${${secret} x}"`),
    shard(`auth: { password: "${secret}" } ]`),
    shard(`auth: { password: '${secret}`),
    shard(`auth: "${secret}"`),
    shard(`client_password: \${PW}`, `retries: \${PW}`, `client_password: x`),
  ];
  for (const text of texts) {
    const result = parseConfig(text, "t.yaml", env);
    assert.equal(result.config, null, text);
    for (const issue of result.issues) {
      assert.ok(!formatIssue(issue).includes("hunter2"), formatIssue(issue));
    }
  }
});

Deno.test("parseConfig() resolves YAML anchors and aliases", () => {
  const text = [
    "x-nodes: &nodes [10.0.0.1:6379, 10.0.0.2:6379]",
    "shards:",
    "  s: { readers: 127.0.0.1:7001, nodes: *nodes }",
    "",
  ].join("\n");
  // The anchor holder itself is an unknown key; aliases work once it is allowed.
  assert.match(bad(text)[0], /unknown key "x-nodes"/);
  const aliased = [
    "defaults:",
    "  timeouts: &t { server: 7s }",
    "shards:",
    "  s: { readers: 127.0.0.1:7001, nodes: [n:1], timeouts: *t }",
    "",
  ].join("\n");
  assert.equal(only(ok(aliased)).timeouts.serverMs, 7_000);
});

Deno.test("loadConfig() reads a file, and a read error becomes one issue at 1:1", async () => {
  const result = await loadConfig(testdata("design.yaml"), { REDIS_AUTH: "x" });
  assert.equal(result.config?.shards[0].name, "users");
  const missing = await loadConfig(testdata("no_such_file.yaml"), {});
  assert.equal(missing.config, null);
  assert.equal(missing.issues.length, 1);
  assert.deepEqual(
    [missing.issues[0].line, missing.issues[0].col, missing.issues[0].path],
    [1, 1, ""],
  );
  assert.match(missing.issues[0].message, /^cannot read the config: /);
});

Deno.test("formatIssue() writes file:line:col: path: message", () => {
  const issue = { file: "a.yaml", line: 3, col: 7, path: "shards.s.retries", message: "bad" };
  assert.equal(formatIssue(issue), "a.yaml:3:7: shards.s.retries: bad");
  assert.equal(formatIssue({ ...issue, path: "" }), "a.yaml:3:7: bad");
});

Deno.test("parseConfig() uses the process environment by default", () => {
  const name = "SHARDGATE_CONFIG_TEST_RETRIES";
  Deno.env.set(name, "3");
  try {
    const result = parseConfig(shard(`retries: \${${name}}`), "t.yaml");
    assert.equal(result.config?.shards[0].retries, 3);
  } finally {
    Deno.env.delete(name);
  }
});

Deno.test("parseConfig() never throws, whatever the bytes", async () => {
  const text = await Deno.readTextFile(testdata("full.yaml"));
  const alphabet = [
    "",
    " ",
    "\n",
    ":",
    "-",
    "[",
    "]",
    "{",
    "}",
    "'",
    '"',
    "$",
    "${",
    "&a",
    "*a",
    "!!",
    "0",
    "#",
    "\t",
    "~",
  ];
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let i = 0; i < 500; i++) {
    let mangled = text;
    for (let k = 0; k < 1 + rand(4); k++) {
      const at = rand(mangled.length);
      const cut = rand(4);
      mangled = mangled.slice(0, at) + alphabet[rand(alphabet.length)] + mangled.slice(at + cut);
    }
    const result = parseConfig(mangled, "t.yaml", {
      REDIS_AUTH: "a",
      CLIENT_PASSWORD: "c",
      ORDERS_AUTH: "o",
    });
    assert.ok(result.config !== null || result.issues.length > 0);
    for (const issue of result.issues) {
      assert.ok(issue.line >= 1 && issue.col >= 1, formatIssue(issue));
    }
  }
});

Deno.test("issueAt() places an issue at a key's value, or at 1:1 when the key is absent", () => {
  const text = "shards:\n  users:\n    nodes: [127.0.0.1:6379]\n    readers:   127.0.0.1:6401\n";
  const issue = issueAt(text, "t.yaml", "shards.users.readers", "cannot listen on 127.0.0.1:6401");
  assert.equal(
    formatIssue(issue),
    "t.yaml:4:16: shards.users.readers: cannot listen on 127.0.0.1:6401",
  );
  assert.deepEqual(
    [
      issueAt(text, "t.yaml", "shards.orders.readers", "m").line,
      issueAt("", "t.yaml", "a", "m").col,
    ],
    [1, 1],
  );
});

Deno.test("parseConfig() words common YAML syntax errors plainly beside the parser's message", () => {
  const first = (text: string) => {
    const r = parseConfig(text, "c.yaml", {});
    assert.equal(r.config, null);
    return formatIssue(r.issues[0]);
  };
  assert.match(
    first("shards:\n\tusers: {}\n"),
    /^c\.yaml:2:1: YAML: a tab is used to indent; YAML indents with spaces only \(parser: tabs are not allowed as indentation\)$/,
  );
  assert.match(
    first("shards:\n  users:\n    readers: 127.0.0.1:1\n   nodes: []\n"),
    /YAML: this line is indented differently from the keys beside it; .* \(parser: all mapping items must start at the same column\)$/,
  );
  assert.match(
    first('shards:\n  users:\n    readers: "127.0.0.1:1\n'),
    /YAML: a quoted value is not closed; add the closing quote \(parser: /,
  );
  assert.match(first("shards: [a, b\n"), /YAML: a \[ \] or \{ \} collection is not closed/);
  assert.match(
    first("admin: listen: 127.0.0.1:1\n"),
    /YAML: a value contains ": "; quote the value/,
  );
});

Deno.test("parseConfig() reads split ports and consistency; any one of the three ports will do", () => {
  const text = [
    "defaults: { consistency: host, consistency_wait: 50ms }",
    "shards:",
    "  a:",
    "    split: 127.0.0.1:7002",
    "    nodes: [10.0.0.1:6379]",
    "  b:",
    "    readers: 127.0.0.1:7003",
    "    split: 127.0.0.1:7004",
    "    consistency: session",
    "    nodes: [10.0.0.2:6379]",
    "",
  ].join("\n");
  const r = parseConfig(text, "t.yaml");
  assert.equal(r.issues.length, 0, JSON.stringify(r.issues));
  const [a, b] = r.config!.shards;
  assert.equal(a.readers, null);
  assert.equal(a.writer, null);
  assert.equal(a.split?.text, "127.0.0.1:7002");
  assert.equal(a.consistency, "host");
  assert.equal(a.consistencyWaitMs, 50);
  assert.equal(b.readers?.text, "127.0.0.1:7003");
  assert.equal(b.consistency, "session");
  assert.deepEqual(bad(shard("consistency: strong")), [
    `5:18: shards.s.consistency: expected "eventual" or "session" or "host", got "strong"`,
  ]);
  assert.deepEqual(bad(shard("split: 127.0.0.1:7001")), [
    `5:12: shards.s.split: listen address 127.0.0.1:7001 is already used by shards.s.readers`,
  ]);
});
