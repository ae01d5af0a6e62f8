/**
 * Prometheus text parsed with `parse-prometheus-text-format` (npm, a port of
 * the Python client's parser), with types and lookups for assertions.
 *
 * @module
 */

import parsePrometheusTextFormat from "parse-prometheus-text-format";

/** One sample of a counter or gauge family. */
export interface PromSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: string;
}

/** One series of a histogram family. */
export interface PromHistogram {
  readonly labels: Readonly<Record<string, string>>;
  /** Cumulative counts by `le` bound as written (`"0.001"`, `"+Inf"`). */
  readonly buckets: Readonly<Record<string, string>>;
  readonly count: string;
  readonly sum: string;
}

/** One metric family. */
export interface PromFamily {
  readonly name: string;
  readonly help: string;
  readonly type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
  readonly metrics: readonly (PromSample | PromHistogram)[];
}

const parse = parsePrometheusTextFormat as (t: string) => PromFamily[];

/**
 * Parses Prometheus text exposition; throws on malformed text.
 *
 * The library folds every series of a histogram family into one, dropping
 * their labels, so histogram families are parsed as their plain
 * `_bucket`/`_sum`/`_count` samples (still by the library) and regrouped
 * here by their labels without `le`.
 */
export function parsePrometheus(text: string): PromFamily[] {
  const histograms = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) histogram$/gm)) histograms.set(m[1], "");
  for (const m of text.matchAll(/^# HELP (\S+) (.*)$/gm)) {
    if (histograms.has(m[1])) histograms.set(m[1], m[2]);
  }
  const plain = text.split("\n").filter((line) => {
    const m = /^# (?:TYPE|HELP) (\S+)/.exec(line);
    return m === null || !histograms.has(m[1]);
  }).join("\n");
  const parsed = parse(plain);
  const out = parsed.filter((f) => ![...histograms.keys()].some((h) => f.name.startsWith(`${h}_`)));
  for (const [name, help] of histograms) {
    const series = new Map<
      string,
      {
        labels: Record<string, string>;
        buckets: Record<string, string>;
        count: string;
        sum: string;
      }
    >();
    const get = (labels: Readonly<Record<string, string>>) => {
      const { le: _le, ...rest } = labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      let s = series.get(key);
      if (s === undefined) {
        s = { labels: rest, buckets: {}, count: "0", sum: "0" };
        series.set(key, s);
      }
      return s;
    };
    for (const f of parsed) {
      for (const m of f.metrics as PromSample[]) {
        if (f.name === `${name}_bucket`) get(m.labels ?? {}).buckets[m.labels.le] = m.value;
        else if (f.name === `${name}_count`) get(m.labels ?? {}).count = m.value;
        else if (f.name === `${name}_sum`) get(m.labels ?? {}).sum = m.value;
      }
    }
    out.push({ name, help, type: "HISTOGRAM", metrics: [...series.values()] });
  }
  return out;
}

function matches(
  labels: Readonly<Record<string, string>> | undefined,
  want: Record<string, string>,
) {
  return Object.entries(want).every(([k, v]) => (labels ?? {})[k] === v);
}

/** The family called `name`, or throws. */
export function family(families: readonly PromFamily[], name: string): PromFamily {
  const f = families.find((x) => x.name === name);
  if (f === undefined) {
    throw new Error(`no metric ${name} (have: ${families.map((x) => x.name).join(", ")})`);
  }
  return f;
}

/**
 * The value of the one sample of counter/gauge `name` whose labels include
 * `labels`, as a number; undefined when there is none; throws when several match.
 */
export function sampleValue(
  families: readonly PromFamily[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = family(families, name).metrics.filter((m) => matches(m.labels, labels));
  if (found.length > 1) {
    throw new Error(`${name}${JSON.stringify(labels)}: ${found.length} samples match`);
  }
  return found.length === 0 ? undefined : Number((found[0] as PromSample).value);
}

/** The one histogram series of `name` whose labels include `labels`, or undefined. */
export function histogramSeries(
  families: readonly PromFamily[],
  name: string,
  labels: Record<string, string> = {},
): PromHistogram | undefined {
  const found = family(families, name).metrics.filter((m) => matches(m.labels, labels));
  if (found.length > 1) {
    throw new Error(`${name}${JSON.stringify(labels)}: ${found.length} series match`);
  }
  return found[0] as PromHistogram | undefined;
}
