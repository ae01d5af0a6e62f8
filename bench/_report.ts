/**
 * Pure parts of the benchmark's results: parsing `redis-benchmark --csv`,
 * medians over rounds, ratios, the issue's targets and the markdown report.
 *
 * @module
 */

import {
  ALL_TARGETS,
  cellById,
  type CellId,
  ROUTER_SHARDS,
  ROUTER_TARGETS,
  type Target,
} from "./_cells.ts";

/** One `redis-benchmark --csv` result row. Latencies are in milliseconds. */
export interface BenchSample {
  readonly rps: number;
  readonly avgMs: number;
  readonly minMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const SAMPLE_COLUMNS: Record<keyof BenchSample, string> = {
  rps: "rps",
  avgMs: "avg_latency_ms",
  minMs: "min_latency_ms",
  p50Ms: "p50_latency_ms",
  p95Ms: "p95_latency_ms",
  p99Ms: "p99_latency_ms",
  maxMs: "max_latency_ms",
};

/** Splits one CSV line with double-quoted fields (`""` escapes a quote). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        cur += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out;
}

/**
 * Parses the stdout of `redis-benchmark --csv` (Redis 7: a header row
 * `"test","rps","avg_latency_ms",…,"max_latency_ms"` and one row per test)
 * and returns the first result row. Throws when there is none or a column is
 * missing or not a number.
 */
export function parseBenchmarkCsv(text: string): BenchSample {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  const headerAt = lines.findIndex((l) => splitCsvLine(l)[0] === "test");
  if (headerAt < 0) {
    throw new Error(`no CSV header in redis-benchmark output: ${text.slice(0, 200)}`);
  }
  const header = splitCsvLine(lines[headerAt]);
  const row = lines[headerAt + 1];
  if (row === undefined) throw new Error("no result row in redis-benchmark output");
  const fields = splitCsvLine(row);
  const get = (key: keyof BenchSample): number => {
    const col = header.indexOf(SAMPLE_COLUMNS[key]);
    if (col < 0) throw new Error(`redis-benchmark CSV has no "${SAMPLE_COLUMNS[key]}" column`);
    const n = Number(fields[col]);
    if (fields[col] === undefined || fields[col] === "" || !Number.isFinite(n)) {
      throw new Error(`redis-benchmark CSV: bad ${SAMPLE_COLUMNS[key]} "${fields[col]}"`);
    }
    return n;
  };
  return {
    rps: get("rps"),
    avgMs: get("avgMs"),
    minMs: get("minMs"),
    p50Ms: get("p50Ms"),
    p95Ms: get("p95Ms"),
    p99Ms: get("p99Ms"),
    maxMs: get("maxMs"),
  };
}

/** The median of `values` (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Field-wise median of samples; null when there are none. */
export function medianSample(samples: readonly BenchSample[]): BenchSample | null {
  if (samples.length === 0) return null;
  const m = (k: keyof BenchSample) => median(samples.map((s) => s[k]));
  return {
    rps: m("rps"),
    avgMs: m("avgMs"),
    minMs: m("minMs"),
    p50Ms: m("p50Ms"),
    p95Ms: m("p95Ms"),
    p99Ms: m("p99Ms"),
    maxMs: m("maxMs"),
  };
}

/** `a / b`, or null when either is missing or `b` is not positive. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  if (!(b > 0) || !Number.isFinite(a)) return null;
  return a / b;
}

/** One redis-benchmark run of one target in one cell of one round. */
export interface RunRecord {
  readonly round: number;
  readonly cell: CellId;
  readonly target: Target;
  /** 0-based position of this target in the cell's rotated order that round. */
  readonly position: number;
  readonly requests: number;
  readonly elapsedMs: number;
  readonly sample: BenchSample | null;
  /** Why the run failed, or null. */
  readonly error: string | null;
  /**
   * A shardgate-only variant cell (`get_50c_traced`…): the mean ops/s of the
   * plain `get_50c` runs on the main shardgate right before and right after it
   * (a paired baseline; absent elsewhere).
   */
  readonly baselineRps?: number | null;
}

/** Medians of one cell over all rounds. */
export interface CellSummary {
  readonly cell: CellId;
  /** Field-wise median sample per target that had at least one good run. */
  readonly median: Partial<Record<Target, BenchSample>>;
  /** Good runs per target. */
  readonly ok: Partial<Record<Target, number>>;
  /** Runs per target (good or failed). */
  readonly runs: Partial<Record<Target, number>>;
  /** Variant cells: the median over rounds of (this run ÷ its paired get_50c run), else null. */
  readonly paired?: number | null;
}

/** Groups runs by cell and target and takes the medians. */
export function summarise(
  runs: readonly RunRecord[],
  cells: readonly CellId[],
  targets: readonly Target[],
): CellSummary[] {
  return cells.map((cell) => {
    const medians: Partial<Record<Target, BenchSample>> = {};
    const ok: Partial<Record<Target, number>> = {};
    const all: Partial<Record<Target, number>> = {};
    for (const target of targets) {
      const mine = runs.filter((r) => r.cell === cell && r.target === target);
      const good = mine.flatMap((r) => (r.sample === null ? [] : [r.sample]));
      all[target] = mine.length;
      ok[target] = good.length;
      const m = medianSample(good);
      if (m !== null) medians[target] = m;
    }
    const ratios = runs.flatMap((r) =>
      r.cell === cell && r.sample !== null && r.baselineRps ? [r.sample.rps / r.baselineRps] : []
    );
    const paired = ratios.length === 0 ? null : median(ratios);
    return { cell, median: medians, ok, runs: all, paired };
  });
}

/** `p50(target) − p50(direct)` of a cell, in ms, or null when either is missing. */
export function addedP50(summary: CellSummary, target: Target): number | null {
  const t = summary.median[target];
  const d = summary.median.direct;
  if (t === undefined || d === undefined) return null;
  return t.p50Ms - d.p50Ms;
}

/** Resource figures of one proxy. RSS values are in KiB (as /proc reports them). */
export interface ProxyResources {
  /** RSS right after startup. */
  readonly rssStartKb: number | null;
  /** RSS after the matrix, with no clients. */
  readonly rssIdleKb: number | null;
  /** RSS with {@link ResourceReport.idleClients} idle clients connected. */
  readonly rssClientsKb: number | null;
  /**
   * Established TCP connections from the proxy process to the replica with
   * {@link ResourceReport.loadClients} clients connected, not counting
   * health-check connections.
   */
  readonly backendConns: number | null;
  /** The same with clients that said HELLO 3 first (absent in older results). */
  readonly backendConnsResp3?: number | null;
  /** Of those sockets, connections whose last command was a health check (PING/INFO). */
  readonly checkConns: number | null;
  /** Anything that went wrong while measuring. */
  readonly error: string | null;
}

/** Memory and connection measurements. */
export interface ResourceReport {
  readonly idleClients: number;
  readonly loadClients: number;
  /** Nodes behind shardgate's read listener. */
  readonly shardgateReadNodes: number;
  /** shardgate's multiplexed connections per node (its default). */
  readonly connectionsPerNode: number;
  readonly proxies: Partial<Record<Target, ProxyResources>>;
}

/** The issue's performance targets. */
export const TARGETS = {
  get50VsHaproxy: 1.3,
  get50VsTwemproxy: 1.0,
  get1kVsHaproxy: 1.3,
  p16VsHaproxy: 1.0,
  /** A shardgate router port against a twemproxy pool over the same shards (issue 11). */
  routerVsTwemproxy: 1.0,
  rssBytes: 120_000_000,
  /** Tracing at 0.01, or a scrape a second, keeps this share of get_50c's throughput. */
  telemetryKeeps: 0.95,
  /** Hedged reads on (get_50c) keep this share of hedging off's throughput (issue 10). */
  hedgeKeeps: 0.97,
  /** Fault rules configured but hitting nothing keep this share of get_50c (paired runs). */
  faultsOffKeeps: 0.97,
  /** `consistency: host` with no writes keeps this share of get_50c (paired runs, issue 17). */
  hostGateKeeps: 0.97,
} as const;

/** Outcome of one target. */
export type CheckStatus = "pass" | "fail" | "n/a";

/** One evaluated target. */
export interface TargetCheck {
  readonly label: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

const fmtX = (x: number | null): string => (x === null ? "—" : `${x.toFixed(2)}×`);

/** Evaluates the issue's targets; a target whose inputs were not measured is `n/a`. */
export function evaluateTargets(
  summaries: readonly CellSummary[],
  resources: ResourceReport | null,
): TargetCheck[] {
  const byCell = (id: CellId) => summaries.find((s) => s.cell === id);
  const rpsRatio = (id: CellId, other: Target): number | null => {
    const s = byCell(id);
    return ratio(s?.median.shardgate?.rps, s?.median[other]?.rps);
  };
  const checks: TargetCheck[] = [];
  const atLeast = (label: string, parts: [number | null, number, string][]) => {
    const missing = parts.some(([x]) => x === null);
    const pass = parts.every(([x, min]) => x !== null && x >= min);
    const detail = parts.map(([x, min, name]) =>
      `${fmtX(x)} ${name} (need ≥ ${min.toFixed(min < 1 ? 2 : 1)}×)`
    )
      .join(", ");
    checks.push({ label, status: missing ? "n/a" : pass ? "pass" : "fail", detail });
  };
  atLeast("50 clients, no pipelining (get_50c)", [
    [rpsRatio("get_50c", "haproxy"), TARGETS.get50VsHaproxy, "HAProxy"],
    [rpsRatio("get_50c", "twemproxy"), TARGETS.get50VsTwemproxy, "twemproxy"],
  ]);
  atLeast("200 clients, 1 KB values (get_200c_1k)", [
    [rpsRatio("get_200c_1k", "haproxy"), TARGETS.get1kVsHaproxy, "HAProxy"],
  ]);
  atLeast("50 clients, pipeline 16 (get_50c_p16)", [
    [rpsRatio("get_50c_p16", "haproxy"), TARGETS.p16VsHaproxy, "HAProxy"],
  ]);
  atLeast("RESP3, 50 clients, no pipelining (get_50c_r3)", [
    [rpsRatio("get_50c_r3", "haproxy"), TARGETS.get50VsHaproxy, "HAProxy"],
  ]);
  atLeast("RESP3, 50 clients, pipeline 16 (get_50c_p16_r3)", [
    [rpsRatio("get_50c_p16_r3", "haproxy"), TARGETS.p16VsHaproxy, "HAProxy"],
  ]);
  atLeast("router GET c50 ≥ 1.0× twemproxy (router_get_50c)", [
    [rpsRatio("router_get_50c", "twemproxy"), TARGETS.routerVsTwemproxy, "twemproxy"],
  ]);
  atLeast("router MGET10 ≥ 1.0× twemproxy (router_mget10_50c)", [
    [rpsRatio("router_mget10_50c", "twemproxy"), TARGETS.routerVsTwemproxy, "twemproxy"],
  ]);
  const plain = byCell("get_50c")?.median.shardgate?.rps;
  for (
    const [id, label] of [["get_50c_traced", "tracing on at 0.01"], [
      "get_50c_scraped",
      "/metrics scraped every second",
    ]] as const
  ) {
    const s = byCell(id);
    if (s === undefined) continue;
    // Paired: each variant run ÷ the plain get_50c runs on the main shardgate around it.
    const r = s.paired ?? ratio(s.median.shardgate?.rps, plain);
    atLeast(`${label} costs < 5% (${id} ÷ shardgate get_50c, paired runs)`, [
      [r, TARGETS.telemetryKeeps, "of get_50c"],
    ]);
  }

  const faults = byCell("get_50c_faults");
  if (faults !== undefined) {
    const r = faults.paired ?? ratio(faults.median.shardgate?.rps, plain);
    atLeast("fault rules configured but off cost < 3% (get_50c_faults ÷ get_50c, paired runs)", [
      [r, TARGETS.faultsOffKeeps, "of get_50c"],
    ]);
  }

  const host = byCell("get_50c_host");
  if (host !== undefined) {
    const r = host.paired ?? ratio(host.median.shardgate?.rps, plain);
    atLeast("consistency: host without writes costs < 3% (get_50c_host ÷ get_50c, paired runs)", [
      [r, TARGETS.hostGateKeeps, "of get_50c"],
    ]);
  }

  const nohedge = byCell("get_50c_nohedge");
  if (nohedge !== undefined) {
    // Paired as above: hedging on (get_50c) ÷ off, from each off run's paired get_50c run.
    const r = nohedge.paired ? 1 / nohedge.paired : ratio(plain, nohedge.median.shardgate?.rps);
    atLeast("hedging on costs < 3% in steady state (get_50c ÷ get_50c_nohedge, paired runs)", [
      [r, TARGETS.hedgeKeeps, "of hedging off"],
    ]);
  }

  const one = byCell("get_1c");
  const sgAdded = one === undefined ? null : addedP50(one, "shardgate");
  const haAdded = one === undefined ? null : addedP50(one, "haproxy");
  checks.push({
    label: "1 client: added median latency ≤ HAProxy's (get_1c)",
    status: sgAdded === null || haAdded === null ? "n/a" : sgAdded <= haAdded ? "pass" : "fail",
    detail: `shardgate +${fmtMs(sgAdded)} ms, HAProxy +${fmtMs(haAdded)} ms over direct`,
  });

  const sg = resources?.proxies.shardgate;
  const limit = resources === null ? null : resources.shardgateReadNodes *
    resources.connectionsPerNode;
  const conns = sg?.backendConns ?? null;
  checks.push({
    label: `backend connections with ${resources?.loadClients ?? "N"} clients ≤ nodes × ` +
      "connections_per_node",
    status: conns === null || limit === null ? "n/a" : conns <= limit ? "pass" : "fail",
    detail: conns === null || limit === null
      ? "not measured"
      : `${conns} (+${sg?.checkConns ?? 0} health-check) ≤ ${limit}` +
        ` (${resources?.shardgateReadNodes} × ${resources?.connectionsPerNode})`,
  });

  const conns3 = sg?.backendConnsResp3 ?? null;
  checks.push({
    label: `backend connections with ${resources?.loadClients ?? "N"} RESP3 clients ≤ nodes × ` +
      "connections_per_node",
    status: conns3 === null || limit === null ? "n/a" : conns3 <= limit ? "pass" : "fail",
    detail: conns3 === null || limit === null ? "not measured" : `${conns3} ≤ ${limit}`,
  });

  const rss = sg?.rssClientsKb ?? null;
  const rssBytes = rss === null ? null : rss * 1024;
  checks.push({
    label: `RSS with ${resources?.idleClients.toLocaleString("en-US") ?? "N"} idle clients ≤ ` +
      `${TARGETS.rssBytes / 1e6} MB`,
    status: rssBytes === null ? "n/a" : rssBytes <= TARGETS.rssBytes ? "pass" : "fail",
    detail: rssBytes === null ? "not measured" : `${fmtMb(rss)} MB`,
  });
  return checks;
}

/** Milliseconds with 3 decimals, or a dash. */
export function fmtMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "—" : ms.toFixed(3);
}

/** ops/s as a grouped integer, or a dash. */
export function fmtRps(rps: number | null | undefined): string {
  return rps === null || rps === undefined ? "—" : Math.round(rps).toLocaleString("en-US");
}

/** KiB to decimal megabytes with one decimal, or a dash. */
export function fmtMb(kb: number | null | undefined): string {
  return kb === null || kb === undefined ? "—" : ((kb * 1024) / 1e6).toFixed(1);
}

/** The machine the run happened on. */
export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly loadAverage: string;
  /** Tool name → version text. */
  readonly versions: Readonly<Record<string, string>>;
  /** Short notes on how each proxy was configured. */
  readonly setup: readonly string[];
}

/** Everything the markdown report shows. */
export interface BenchReport {
  readonly date: string;
  readonly quick: boolean;
  readonly rounds: number;
  readonly targets: readonly Target[];
  readonly cells: readonly CellId[];
  readonly machine: MachineInfo;
  readonly summaries: readonly CellSummary[];
  readonly resources: ResourceReport | null;
  readonly checks: readonly TargetCheck[];
  readonly elapsedS: number;
  /** Replica keyspace hits and misses over the matrix (a miss means an unpopulated key). */
  readonly replicaHits: { readonly hits: number; readonly misses: number } | null;
  /** Path of the raw JSON, relative to the repo root (committed under bench/results/). */
  readonly rawPath: string;
  /** The checkout measured: `git rev-parse --short HEAD`, `-dirty` with uncommitted changes. */
  readonly commit: string;
}

const STATUS_MARK: Record<CheckStatus, string> = { pass: "✅", fail: "❌", "n/a": "➖" };

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  const sep = `|${header.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`;
  return [line(header), sep, ...rows.map(line)].join("\n");
}

/** Renders the report as markdown. */
export function renderMarkdown(r: BenchReport): string {
  const targets = ALL_TARGETS.filter((t) => r.targets.includes(t));
  const hasSg = targets.includes("shardgate");
  const rounds = `${r.rounds} round${r.rounds === 1 ? "" : "s"}`;
  const out: string[] = [];
  out.push("# shardgate benchmark results", "");
  out.push(
    `Generated by \`npm run bench${r.quick ? " -- --quick" : ""}\` on ${r.date} at commit` +
      ` \`${r.commit}\` (${r.quick ? "quick" : "full"} mode, ${rounds}, ${
        r.elapsedS.toFixed(0)
      } s).` +
      (r.quick ? " Quick mode uses small request counts: indicative only." : ""),
    "",
  );

  out.push("## Machine", "");
  const m = r.machine;
  out.push(
    `- CPU: ${m.cpu}, ${m.cores} cores; memory ${m.memoryGiB.toFixed(1)} GiB;` +
      ` kernel ${m.kernel}; load average at start ${m.loadAverage}`,
  );
  out.push(
    `- Versions: ${Object.entries(m.versions).map(([k, v]) => `${k} ${v}`).join(", ")}`,
  );
  out.push(
    `- Shared noisy machine: medians of ${r.rounds} interleaved` +
      ` round${r.rounds === 1 ? "" : "s"} (each round runs every` +
      " cell once per target; the target order rotates per round and cell). redis-benchmark," +
      " the proxy and Redis share the same cores, so absolute numbers are low; compare ratios.",
  );
  for (const s of m.setup) out.push(`- ${s}`);
  if (r.replicaHits !== null) {
    out.push(
      `- Replica keyspace over the run: ${fmtRps(r.replicaHits.hits)} hits,` +
        ` ${fmtRps(r.replicaHits.misses)} misses (misses mean unpopulated keys).`,
    );
  }
  out.push("");

  out.push(`## Throughput (ops/s, median of ${rounds})`, "");
  const ratioCols = hasSg
    ? (["haproxy", "twemproxy", "direct"] as const).filter((t) => targets.includes(t))
    : [];
  const header = [
    "cell",
    ...targets,
    ...ratioCols.map((t) => `shardgate / ${t === "haproxy" ? "HAProxy" : t}`),
  ];
  let partial = false;
  const rows = r.summaries.map((s) => {
    const vals = targets.map((t) => {
      const ok = s.ok[t] ?? 0;
      const runs = s.runs[t] ?? 0;
      if (ok < runs) partial = true;
      if (ok === 0) return runs > 0 ? "failed" : "—";
      return fmtRps(s.median[t]?.rps) + (ok < runs ? ` (${ok}/${runs})` : "");
    });
    const ratios = ratioCols.map((t) => fmtX(ratio(s.median.shardgate?.rps, s.median[t]?.rps)));
    return [`\`${s.cell}\`: ${cellById(s.cell).title}`, ...vals, ...ratios];
  });
  out.push(table(header, rows), "");
  if (partial) out.push("(k/n): only k of n runs succeeded; see the raw JSON for the errors.", "");

  const routed = r.summaries.filter((s) => cellById(s.cell).router === true);
  if (routed.length > 0) {
    out.push(`## Router port over ${ROUTER_SHARDS} shards (ops/s, median of ${rounds})`, "");
    const names: Record<string, string> = {
      twemproxy: "twemproxy (one pool)",
      shardgate: "shardgate (router port)",
    };
    const cols = ROUTER_TARGETS.filter((t) => targets.includes(t));
    const routerRows = routed.map((s) => [
      `\`${s.cell}\``,
      ...cols.map((t) => {
        const ok = s.ok[t] ?? 0;
        const runs = s.runs[t] ?? 0;
        if (ok === 0) return runs > 0 ? "failed" : "—";
        return fmtRps(s.median[t]?.rps) + (ok < runs ? ` (${ok}/${runs})` : "");
      }),
      fmtX(ratio(s.median.shardgate?.rps, s.median.twemproxy?.rps)),
      fmtMs(s.median.twemproxy?.p50Ms),
      fmtMs(s.median.shardgate?.p50Ms),
    ]);
    out.push(
      table([
        "cell",
        ...cols.map((t) => names[t]),
        "shardgate ÷ twemproxy",
        "twemproxy p50 ms",
        "shardgate p50 ms",
      ], routerRows),
      "",
    );
    out.push(
      `Both route over the same ${ROUTER_SHARDS} Redis servers with ketama and fnv1a_64 and` +
        " agree on every key's server; the other targets do not run these cells.",
      "",
    );
  }

  const one = r.summaries.find((s) => s.cell === "get_1c");
  if (one !== undefined) {
    out.push("## 1-client latency (`get_1c`, medians)", "");
    const latRows = targets.map((t) => {
      const s = one.median[t];
      const d = one.median.direct;
      const signed = (x: number | null) =>
        t === "direct" || x === null ? "—" : `${x >= 0 ? "+" : ""}${fmtMs(x)}`;
      return [
        t,
        fmtRps(s?.rps),
        fmtMs(s?.avgMs),
        fmtMs(s?.p50Ms),
        fmtMs(s?.p99Ms),
        signed(addedP50(one, t)),
        signed(s === undefined || d === undefined ? null : s.avgMs - d.avgMs),
      ];
    });
    out.push(
      table([
        "target",
        "ops/s",
        "avg ms",
        "p50 ms",
        "p99 ms",
        "added p50 over direct, ms",
        "added avg over direct, ms",
      ], latRows),
      "",
    );
    out.push(
      "redis-benchmark reports latency percentiles in steps of about 8 µs at these values, so" +
        " a one-step difference in p50 is noise; the average is finer grained.",
      "",
    );
  }

  const res = r.resources;
  if (res !== null) {
    out.push("## Memory and backend connections", "");
    const resRows = targets.filter((t) => t !== "direct").map((t) => {
      const p = res.proxies[t];
      if (p === undefined) return [t, "—", "—", "—", "—", "—"];
      return [
        t,
        fmtMb(p.rssStartKb),
        fmtMb(p.rssIdleKb),
        fmtMb(p.rssClientsKb),
        p.backendConns === null ? "—" : String(p.backendConns),
        p.checkConns === null ? "—" : String(p.checkConns),
      ];
    });
    out.push(
      table([
        "proxy",
        "RSS at start, MB",
        "RSS idle after the matrix, MB",
        `RSS with ${res.idleClients.toLocaleString("en-US")} idle clients, MB`,
        `backend connections with ${res.loadClients} clients`,
        "+ health-check connections",
      ], resRows),
      "",
    );
    out.push(
      `RSS is VmRSS from /proc. Backend connections are the established TCP sockets of the proxy` +
        ` process to the replica while ${res.loadClients} clients are connected and have each` +
        " sent one GET (RESP2: connections the replica's CLIENT LIST shows with resp=2; a RESP3" +
        " cell earlier leaves shardgate's RESP3 pool open beside it); health-check connections" +
        " (last command PING or INFO) are counted apart. The RESP3 figure is measured the same" +
        " way with 200 clients that said HELLO 3 (resp=3 connections).",
      "",
    );
    const errors = targets.flatMap((t) => {
      const e = res.proxies[t]?.error;
      return e ? [`- ${t}: ${e}`] : [];
    });
    if (errors.length > 0) out.push("Measurement errors:", "", ...errors, "");
  }

  out.push("## Targets", "");
  for (const c of r.checks) out.push(`- ${STATUS_MARK[c.status]} ${c.label}: ${c.detail}`);
  out.push("");
  if (!hasSg) out.push("shardgate was not part of this run, so its targets are not evaluated.", "");
  out.push(
    `Raw per-round numbers: \`${r.rawPath}\` (committed, with a copy of this report beside it).`,
    "",
  );
  return out.join("\n");
}
