/**
 * The Grafana dashboard in `deploy/grafana_dashboard.json` queries only
 * metrics shardgate exports: every PromQL expression in it (panels,
 * annotations, variables) is parsed for metric names, and each must be a
 * family of a real `/metrics` scrape (a histogram's `_bucket`, `_sum` and
 * `_count` count as its family).
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  parsePrometheus,
  redisClient,
  REPO_ROOT,
  startReplicaSet,
  startShardgate,
} from "./helpers/mod.ts";
import { adminGet, adminPort, adminYaml, E2E, SHARD } from "./_admin_helpers.ts";

const DASHBOARD = `${REPO_ROOT}/deploy/grafana_dashboard.json`;

/** PromQL words that look like names but are not metrics. */
const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "inf",
  "nan",
]);

/**
 * The metric names an expression reads: identifiers left once string
 * literals, label matchers `{…}`, ranges `[…]`, `by (…)`/`without (…)`
 * groupings and function calls `name(` are taken out.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?/g)) {
    if (m[1] !== undefined) continue; // a function
    const word = m[0];
    if (KEYWORDS.has(word.toLowerCase()) || /^\d/.test(word)) continue;
    names.add(word);
  }
  return [...names];
}

/** Every PromQL expression of the dashboard: panel targets, annotations and variable queries. */
function expressions(dashboard: Record<string, unknown>): string[] {
  const out: string[] = [];
  const visit = (v: unknown, key: string): void => {
    if (Array.isArray(v)) { for (const x of v) visit(x, key); }
    else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) visit(x, k);
    } else if (typeof v === "string" && (key === "expr" || key === "query")) {
      if (key === "query" && v === "prometheus") return; // the data source variable's type
      const lv = /^label_values\((.*),\s*\w+\)$/.exec(v);
      out.push(lv === null ? v : lv[1]);
    }
  };
  visit(dashboard, "");
  return out;
}

Deno.test("metricNames() finds the metrics of an expression, not its functions, labels or keywords", () => {
  assertEquals(
    metricNames(
      'histogram_quantile(0.99, sum by (shard, le) (rate(shardgate_command_duration_seconds_bucket{shard=~"$shard", x="a{b}"}[$__rate_interval])))',
    ),
    ["shardgate_command_duration_seconds_bucket"],
  );
  assertEquals(
    metricNames("sum(rate(a_total[5m])) / on (node) group_left b_info > 0 and c"),
    ["a_total", "b_info", "c"],
  );
});

Deno.test(
  "deploy dashboard: every query names a metric present in a real /metrics scrape",
  E2E,
  async () => {
    const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD)) as Record<string, unknown>;
    const exprs = expressions(dashboard);
    assert(exprs.length >= 20, `${exprs.length} expressions found`);
    const used = new Set(exprs.flatMap(metricNames));
    assert(used.size >= 15, `${used.size} metric names found: ${[...used].join(", ")}`);

    // A real scrape after some traffic (a histogram family appears once a command was seen),
    // with a fault rule configured, so the fault families have a series.
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(
      adminYaml(set.addresses) +
        "faults:\n  - { commands: [flushall], kind: error }\n",
    );
    const c = await redisClient(sg.ports[SHARD].readers);
    try {
      for (let i = 0; i < 50; i++) await c.get(`k${i}`);
    } finally {
      c.destroy();
    }
    const r = await adminGet(adminPort(sg), "/metrics");
    assertEquals(r.status, 200);
    const exported = new Set<string>();
    for (const f of parsePrometheus(r.body)) {
      exported.add(f.name);
      if (f.type === "HISTOGRAM") {
        for (const s of ["_bucket", "_sum", "_count"]) exported.add(f.name + s);
      }
    }
    const missing = [...used].filter((m) => !exported.has(m));
    assertEquals(
      missing,
      [],
      `the dashboard queries metrics /metrics lacks: ${missing.join(", ")}`,
    );
    assert(!exported.has("shardgate_no_such_metric"), "the check can fail");
  },
);
