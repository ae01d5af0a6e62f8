import assert from "node:assert/strict";
import {
  addedP50,
  type BenchSample,
  type CellSummary,
  evaluateTargets,
  median,
  parseBenchmarkCsv,
  ratio,
  renderMarkdown,
  type ResourceReport,
  type RunRecord,
  splitCsvLine,
  summarise,
} from "./_report.ts";

const CSV =
  `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"GET key:__rand_int__","79428.12","0.376","0.104","0.319","0.615","0.695","11.535"
`;

const sample = (rps: number, p50Ms = 0.1): BenchSample => ({
  rps,
  avgMs: p50Ms,
  minMs: p50Ms / 2,
  p50Ms,
  p95Ms: p50Ms * 2,
  p99Ms: p50Ms * 3,
  maxMs: p50Ms * 10,
});

Deno.test("parseBenchmarkCsv() reads rps and every latency column", () => {
  const s = parseBenchmarkCsv(CSV);
  assert.deepEqual(s, {
    rps: 79428.12,
    avgMs: 0.376,
    minMs: 0.104,
    p50Ms: 0.319,
    p95Ms: 0.615,
    p99Ms: 0.695,
    maxMs: 11.535,
  });
});

Deno.test("parseBenchmarkCsv() skips warnings before the header and finds columns by name", () => {
  const text = `WARNING: Could not fetch server CONFIG\n` +
    `"test","p50_latency_ms","rps","avg_latency_ms","min_latency_ms","p95_latency_ms",` +
    `"p99_latency_ms","max_latency_ms"\n"MGET a,b","0.5","1000","1","0.1","2","3","4"\n`;
  const s = parseBenchmarkCsv(text);
  assert.deepEqual(s.rps, 1000);
  assert.deepEqual(s.p50Ms, 0.5);
});

Deno.test("parseBenchmarkCsv() throws without a result row or with a bad number", () => {
  assert.throws(() => parseBenchmarkCsv(""), /no CSV header/);
  assert.throws(() => parseBenchmarkCsv(CSV.split("\n")[0]), /no result row/);
  assert.throws(() => parseBenchmarkCsv(CSV.replace('"79428.12"', '"fast"')), /bad rps/);
});

Deno.test("splitCsvLine() keeps commas inside quotes and unescapes doubled quotes", () => {
  assert.deepEqual(splitCsvLine(`"a,b","c""d",e`), ["a,b", 'c"d', "e"]);
});

Deno.test("median() of odd, even and empty lists", () => {
  assert.deepEqual(median([3, 1, 2]), 2);
  assert.deepEqual(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("ratio() is null for missing or non-positive denominators", () => {
  assert.deepEqual(ratio(130, 100), 1.3);
  assert.deepEqual(ratio(null, 100), null);
  assert.deepEqual(ratio(100, undefined), null);
  assert.deepEqual(ratio(100, 0), null);
});

function run(round: number, target: RunRecord["target"], s: BenchSample | null): RunRecord {
  return {
    round,
    cell: "get_50c",
    target,
    position: 0,
    requests: 1,
    elapsedMs: 1,
    sample: s,
    error: s === null ? "boom" : null,
  };
}

Deno.test("summarise() takes per-target medians over rounds and counts failed runs", () => {
  const runs = [
    run(0, "direct", sample(100)),
    run(1, "direct", sample(300)),
    run(2, "direct", sample(200)),
    run(0, "haproxy", sample(50)),
    run(1, "haproxy", null),
  ];
  const [s] = summarise(runs, ["get_50c"], ["direct", "haproxy", "shardgate"]);
  assert.deepEqual(s.median.direct?.rps, 200);
  assert.deepEqual(s.median.haproxy?.rps, 50);
  assert.deepEqual(s.median.shardgate, undefined);
  assert.deepEqual(s.ok, { direct: 3, haproxy: 1, shardgate: 0 });
  assert.deepEqual(s.runs, { direct: 3, haproxy: 2, shardgate: 0 });
});

function summary(cell: CellSummary["cell"], m: CellSummary["median"]): CellSummary {
  const counts = Object.fromEntries(Object.keys(m).map((k) => [k, 1]));
  return { cell, median: m, ok: counts, runs: counts };
}

const RESOURCES: ResourceReport = {
  idleClients: 1000,
  loadClients: 200,
  shardgateReadNodes: 1,
  connectionsPerNode: 2,
  proxies: {
    shardgate: {
      rssStartKb: 40_000,
      rssIdleKb: 50_000,
      rssClientsKb: 100_000,
      backendConns: 2,
      backendConnsResp3: 2,
      checkConns: 1,
      error: null,
    },
  },
};

Deno.test("addedP50() subtracts direct's median p50", () => {
  const s = summary("get_1c", { direct: sample(1, 0.05), haproxy: sample(1, 0.08) });
  assert.ok(Math.abs(addedP50(s, "haproxy")! - 0.03) < 1e-9);
  assert.deepEqual(addedP50(s, "shardgate"), null);
});

Deno.test("evaluateTargets() passes and fails each issue target on its threshold", () => {
  const summaries = [
    summary("get_50c", { haproxy: sample(100), twemproxy: sample(130), shardgate: sample(130) }),
    summary("get_200c_1k", { haproxy: sample(100), shardgate: sample(129) }),
    summary("get_50c_p16", { haproxy: sample(100), shardgate: sample(100) }),
    summary("get_50c_r3", { haproxy: sample(100), shardgate: sample(131) }),
    summary("get_50c_p16_r3", { haproxy: sample(100), shardgate: sample(99) }),
    summary("router_get_50c", { twemproxy: sample(100), shardgate: sample(100) }),
    summary("router_mget10_50c", { twemproxy: sample(100), shardgate: sample(97) }),
    summary("get_1c", {
      direct: sample(1, 0.05),
      haproxy: sample(1, 0.08),
      shardgate: sample(1, 0.07),
    }),
  ];
  const checks = evaluateTargets(summaries, RESOURCES);
  assert.deepEqual(checks.map((c) => c.status), [
    "pass",
    "fail",
    "pass",
    "pass",
    "fail",
    "pass",
    "fail",
    "pass",
    "pass",
    "pass",
    "pass",
  ]);
  assert.ok(checks[1].detail.includes("1.29×"), checks[1].detail);
  assert.equal(checks[5].label, "router GET c50 ≥ 1.0× twemproxy (router_get_50c)");
  assert.equal(checks[6].label, "router MGET10 ≥ 1.0× twemproxy (router_mget10_50c)");
  assert.equal(checks[6].detail, "0.97× twemproxy (need ≥ 1.0×)");
  assert.ok(checks[8].detail.includes("2 (+1 health-check) ≤ 2"), checks[8].detail);
});

Deno.test("evaluateTargets() fails on too many connections or too much RSS", () => {
  const res: ResourceReport = {
    ...RESOURCES,
    proxies: {
      shardgate: {
        ...RESOURCES.proxies.shardgate!,
        backendConns: 3,
        backendConnsResp3: 3,
        rssClientsKb: 200_000,
      },
    },
  };
  const checks = evaluateTargets([], res);
  assert.deepEqual(checks.slice(8).map((c) => c.status), ["fail", "fail", "fail"]);
});

Deno.test("evaluateTargets() reports n/a when shardgate was not measured", () => {
  const summaries = [summary("get_50c", { haproxy: sample(100), twemproxy: sample(130) })];
  const checks = evaluateTargets(summaries, { ...RESOURCES, proxies: {} });
  assert.deepEqual(checks.map((c) => c.status), Array(11).fill("n/a"));
});

Deno.test("renderMarkdown() shows medians, ratios, latency and targets", () => {
  const summaries = [
    summary("get_50c", { direct: sample(200), haproxy: sample(100), shardgate: sample(150) }),
    summary("get_1c", {
      direct: sample(10, 0.05),
      haproxy: sample(8, 0.08),
      shardgate: sample(9, 0.07),
    }),
  ];
  const md = renderMarkdown({
    date: "2026-01-01T00:00:00Z",
    quick: false,
    rounds: 5,
    targets: ["direct", "haproxy", "shardgate"],
    cells: ["get_50c", "get_1c"],
    machine: {
      cpu: "Test CPU",
      cores: 2,
      memoryGiB: 4,
      kernel: "6.0",
      loadAverage: "0 0 0",
      versions: { Deno: "2.9.6" },
      setup: ["a setup note"],
    },
    summaries,
    resources: RESOURCES,
    checks: evaluateTargets(summaries, RESOURCES),
    elapsedS: 12,
    replicaHits: { hits: 10, misses: 0 },
    rawPath: "bench/results/x.json",
    commit: "abc123",
  });
  assert.ok(
    md.includes(
      "| `get_50c`: GET, 50 clients, no pipelining, 3 B values | 200 | 100 | 150 |" +
        " 1.50× | 0.75× |",
    ),
    md,
  );
  assert.ok(md.includes("| shardgate | 9 | 0.070 | 0.070 | 0.210 | +0.020 | +0.020 |"), md);
  assert.ok(md.includes("medians of 5 interleaved rounds"), md);
  assert.ok(md.includes("✅ 1 client"), md);
  assert.ok(md.includes("Test CPU, 2 cores"), md);
  assert.ok(md.includes("a setup note"), md);
});

Deno.test("evaluateTargets() checks the telemetry cells against shardgate's own get_50c", () => {
  const summaries = [
    summary("get_50c", { shardgate: sample(100) }),
    summary("get_50c_traced", { shardgate: sample(96) }),
    summary("get_50c_scraped", { shardgate: sample(94) }),
  ];
  const checks = evaluateTargets(summaries, null).filter((c) => c.label.includes("costs < 5%"));
  assert.deepEqual(checks.map((c) => c.status), ["pass", "fail"]);
  assert.ok(checks[0].label.includes("get_50c_traced"), checks[0].label);
  assert.ok(checks[1].detail.includes("0.94×"), checks[1].detail);
});

Deno.test("renderMarkdown() shows the router cells with shardgate ÷ twemproxy", () => {
  const summaries = [
    summary("router_get_50c", {
      twemproxy: sample(100_000, 0.3),
      shardgate: sample(105_000, 0.28),
    }),
    summary("router_mget10_50c", { twemproxy: sample(50_000, 0.5) }),
  ];
  const md = renderMarkdown({
    date: "2026-01-01T00:00:00Z",
    quick: true,
    rounds: 3,
    targets: ["direct", "haproxy", "twemproxy", "shardgate"],
    cells: ["router_get_50c", "router_mget10_50c"],
    machine: {
      cpu: "Test CPU",
      cores: 2,
      memoryGiB: 4,
      kernel: "6.0",
      loadAverage: "0 0 0",
      versions: {},
      setup: [],
    },
    summaries,
    resources: null,
    checks: evaluateTargets(summaries, null),
    elapsedS: 12,
    replicaHits: null,
    rawPath: "bench/results/x.json",
    commit: "abc123",
  });
  assert.ok(md.includes("## Router port over 3 shards (ops/s, median of 3 rounds)"), md);
  assert.ok(md.includes("| `router_get_50c` | 100,000 | 105,000 | 1.05× | 0.300 | 0.280 |"), md);
  assert.ok(md.includes("| `router_mget10_50c` | 50,000 | — | — | 0.500 | — |"), md);
  assert.ok(md.includes("✅ router GET c50 ≥ 1.0× twemproxy (router_get_50c): 1.05×"), md);
  assert.ok(md.includes("➖ router MGET10 ≥ 1.0× twemproxy"), md);
  // The main table: the router rows run on twemproxy and shardgate only.
  assert.ok(md.includes(" | — | — | 100,000 | 105,000 | — | 1.05× | — |"), md);
});

Deno.test("summarise() pairs a variant cell's runs with their get_50c baselines (median ratio)", () => {
  const runs: RunRecord[] = [0, 1, 2].map((round) => ({
    ...run(round, "shardgate", sample([90, 100, 99][round])),
    cell: "get_50c_traced",
    baselineRps: [100, 100, 90][round],
  }));
  const [s] = summarise(runs, ["get_50c_traced"], ["shardgate"]);
  assert.deepEqual(s.paired, 1.0); // ratios 0.9, 1.0, 1.1 → median 1.0
  const checks = evaluateTargets([summary("get_50c", { shardgate: sample(200) }), s], null);
  const traced = checks.find((c) => c.label.startsWith("tracing on"))!;
  assert.equal(traced.status, "pass", traced.detail); // paired, not 99 ÷ 200
});
