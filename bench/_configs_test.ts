import assert from "node:assert/strict";
import { parse } from "yaml";
import { parseConfig } from "../config/mod.ts";
import { createDistribution } from "../router/mod.ts";
import { keyName, SMALL_KEYS } from "./_cells.ts";
import {
  type Backends,
  haproxyConfig,
  parseHostPort,
  parseStartupLine,
  ROUTER_NAME,
  shardgateRouterConfig,
  shardgateSetup,
  twemproxyConfig,
  twemproxyRouterConfig,
} from "./_configs.ts";

const BACKENDS: Backends = {
  primary: { host: "127.0.0.1", port: 7001 },
  replica: { host: "127.0.0.1", port: 7002 },
};
const READ = { host: "127.0.0.1", port: 8001 };
const WRITE = { host: "127.0.0.1", port: 8002 };

Deno.test("haproxyConfig() sends reads to the replica and writes to the primary", () => {
  const cfg = haproxyConfig(BACKENDS, READ, WRITE);
  const blocks = cfg.split(/\n(?=listen )/);
  const readers = blocks.find((b) => b.includes("bind 127.0.0.1:8001"));
  const writer = blocks.find((b) => b.includes("bind 127.0.0.1:8002"));
  assert.ok(readers?.includes("server replica 127.0.0.1:7002 check"), cfg);
  assert.ok(writer?.includes("server primary 127.0.0.1:7001 check"), cfg);
  for (
    const line of ["mode tcp", "timeout connect 1s", "timeout client 30s", "timeout server 30s"]
  ) {
    assert.ok(cfg.includes(line), line);
  }
  for (const b of [readers!, writer!]) {
    assert.ok(b.includes("option redis-check") && b.includes("balance leastconn"), b);
  }
  const maxconn = Number(/global\n\s+maxconn (\d+)/.exec(cfg)?.[1]);
  assert.ok(maxconn >= 1200, `maxconn ${maxconn} must fit 1,000 idle + 200 clients`);
});

Deno.test("twemproxyConfig() is YAML with one redis pool per endpoint and default connections", () => {
  const cfg = parse(twemproxyConfig(BACKENDS, READ, WRITE)) as Record<
    string,
    Record<string, unknown>
  >;
  assert.deepEqual(Object.keys(cfg).sort(), ["bench_readers", "bench_writer"]);
  assert.equal(cfg.bench_readers.listen, "127.0.0.1:8001");
  assert.deepEqual(cfg.bench_readers.servers, ["127.0.0.1:7002:1"]);
  assert.equal(cfg.bench_writer.listen, "127.0.0.1:8002");
  assert.deepEqual(cfg.bench_writer.servers, ["127.0.0.1:7001:1"]);
  for (const pool of Object.values(cfg)) {
    assert.equal(pool.redis, true);
    assert.equal(pool.server_connections, undefined);
  }
});

Deno.test("shardgateSetup() yields a config shardgate accepts, reads on the replica", () => {
  const setup = shardgateSetup(BACKENDS, { readers: 9001, writer: 9003 });
  const result = parseConfig(setup.yaml, "bench.yaml", {});
  assert.deepEqual(result.issues, []);
  const config = result.config!;
  const read = config.shards.find((s) => s.name === setup.endpoints.read.shard)!;
  const write = config.shards.find((s) => s.name === setup.endpoints.write.shard)!;
  assert.equal(read.readers?.port, 9001);
  assert.deepEqual(read.nodes.map((n) => n.address.port).sort(), [7001, 7002]);
  assert.equal(setup.readNodes, 1);
  assert.equal(write.writer?.port, 9003);
});

Deno.test("shardgateSetup() adds the admin port and the sample ratio of the telemetry cells", () => {
  const setup = shardgateSetup(BACKENDS, { readers: 9001, writer: 9003 }, "127.0.0.1", {
    adminPort: 9100,
    sampleRatio: 0.01,
  });
  const config = parseConfig(setup.yaml, "bench.yaml", {}).config!;
  assert.equal(config.admin?.listen.port, 9100);
  assert.equal(config.telemetry.sampleRatio, 0.01);
  const plain = parseConfig(shardgateSetup(BACKENDS, { readers: 1, writer: 2 }).yaml, "b.yaml", {});
  assert.equal(plain.config?.admin, null);
});

Deno.test("shardgateSetup() with faultsOff adds one valid fault rule that no GET matches", () => {
  const setup = shardgateSetup(BACKENDS, { readers: 9001, writer: 9003 }, "127.0.0.1", {
    faultsOff: true,
  });
  const result = parseConfig(setup.yaml, "bench.yaml", {});
  assert.deepEqual(result.issues, []);
  assert.equal(result.config!.faults.length, 1);
  assert.deepEqual(result.config!.faults[0].commands, ["flushall"]);
  assert.equal(result.config!.faults[0].shard, "bench");
  assert.equal(
    parseConfig(shardgateSetup(BACKENDS, { readers: 1, writer: 2 }).yaml, "b", {})
      .config?.faults.length,
    0,
  );
});

Deno.test("parseStartupLine() recognises listening and ready lines only", () => {
  assert.deepEqual(
    parseStartupLine(
      `{"time":"t","level":"info","msg":"listening","shard":"bench","role":"readers",` +
        `"address":"127.0.0.1:6401"}`,
    ),
    {
      kind: "listening",
      listener: { shard: "bench", role: "readers", address: { host: "127.0.0.1", port: 6401 } },
    },
  );
  assert.deepEqual(parseStartupLine(`{"level":"info","msg":"ready","version":"0.1.0"}`), {
    kind: "ready",
  });
  assert.deepEqual(parseStartupLine(`{"msg":"listening","shard":"x"}`), { kind: "other" });
  assert.deepEqual(parseStartupLine("Download npm:yaml"), { kind: "other" });
});

Deno.test("parseHostPort() splits IPv4 and bracketed IPv6 and rejects junk", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:80"), { host: "127.0.0.1", port: 80 });
  assert.deepEqual(parseHostPort("[::1]:6379"), { host: "::1", port: 6379 });
  assert.throws(() => parseHostPort("localhost"), /not a host:port/);
});

const ROUTER_SERVERS = [7101, 7102, 7103].map((port) => ({ host: "127.0.0.1", port }));

Deno.test("twemproxyRouterConfig() is one ketama fnv1a_64 pool over unnamed servers", () => {
  const cfg = parse(twemproxyRouterConfig(ROUTER_SERVERS, READ)) as Record<
    string,
    Record<string, unknown>
  >;
  assert.deepEqual(Object.keys(cfg), [ROUTER_NAME]);
  const pool = cfg[ROUTER_NAME];
  assert.equal(pool.listen, "127.0.0.1:8001");
  assert.equal(pool.redis, true);
  assert.equal(pool.hash, "fnv1a_64");
  assert.equal(pool.distribution, "ketama");
  assert.equal(pool.server_connections, undefined);
  assert.deepEqual(pool.servers, ["127.0.0.1:7101:1", "127.0.0.1:7102:1", "127.0.0.1:7103:1"]);
});

Deno.test("shardgateRouterConfig() routes over one shard per server with twemproxy's ring names", () => {
  const result = parseConfig(shardgateRouterConfig(ROUTER_SERVERS), "router.yaml", {});
  assert.deepEqual(result.issues, []);
  const config = result.config!;
  assert.deepEqual(config.shards.map((s) => s.nodes.map((n) => n.address.port)), [
    [7101],
    [7102],
    [7103],
  ]);
  const [router] = config.routers;
  assert.equal(router.name, ROUTER_NAME);
  assert.equal(router.listen.port, 0);
  assert.equal(router.hash, "fnv1a_64");
  assert.equal(router.distribution, "ketama");
  assert.equal(router.reads, "readers");
  assert.deepEqual(router.shards.map((s) => [s.name, s.weight]), [
    ["127.0.0.1:7101", 1],
    ["127.0.0.1:7102", 1],
    ["127.0.0.1:7103", 1],
  ]);
  // The benchmark's keys spread over all three shards.
  const ring = createDistribution(router);
  const perShard = [0, 0, 0];
  const utf8 = new TextEncoder();
  for (let i = 0; i < 3_000; i++) perShard[ring.shardOf(utf8.encode(keyName(SMALL_KEYS, i)))]++;
  assert.ok(perShard.every((n) => n > 500), perShard.join(","));
});
