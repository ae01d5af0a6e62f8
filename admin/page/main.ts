/// <reference lib="dom" />
/**
 * The status page's script (bundled by `npm run build:page` into
 * `admin/_page.ts`): polls `/status` every second and redraws one table per
 * shard, one row per node, state shown by colour and by word; polls
 * `/history` every HISTORY_POLL_MS and draws, per shard, small live charts
 * of the last minutes (ops/s, latency p50/p99, errors and retries, hedges
 * and hedge wins; one line per node where the history has one) with node
 * state changes and writer switches marked on the time axis, and lists the
 * latest of those events. Charts are inline SVG; text goes in through
 * `textContent` only.
 *
 * @module
 */

import type { NodeStatusDoc, ShardStatusDoc, StatusDoc } from "../status.ts";
import type { HistoryDoc, HistoryEvent, ShardHistoryDoc } from "../history.ts";

/** How often the page asks for `/status`. */
const POLL_MS = 1000;
/** How often the page asks for `/history` (the sidecar samples every 2 s). */
const HISTORY_POLL_MS = 2000;
/** A poll taking longer than this counts as failed. */
const POLL_TIMEOUT_MS = 3000;
/** The charts show at least this much time, so a young process's first points are not stretched. */
const MIN_SPAN_MS = 20_000;
/** Events listed under a shard's charts. */
const EVENTS_SHOWN = 6;
/** Chart size in SVG units (scaled to the column width). */
const W = 300, H = 120, PAD_L = 34, PAD_R = 6, PAD_T = 6, PAD_B = 16;
/** Line colours: the shard's total first, then one per node. */
const SHARD_COLOUR = "#1d2228";
const NODE_COLOURS = ["#1f6feb", "#d97706", "#7c3aed", "#0f766e", "#be185d", "#65a30d"];
const SVG = "http://www.w3.org/2000/svg";

let lastOk = 0;
let history: HistoryDoc | null = null;
let lastStatus: StatusDoc | null = null;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { text?: string; className?: string; title?: string } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (props.text !== undefined) e.textContent = props.text;
  if (props.className !== undefined) e.className = props.className;
  if (props.title !== undefined) e.title = props.title;
  for (const c of children) e.append(c);
  return e;
}

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function byId(id: string): HTMLElement {
  return document.getElementById(id)!;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  const h = Math.floor(seconds / 3600);
  return h < 48
    ? `${h}h ${Math.floor((seconds % 3600) / 60)}m`
    : `${Math.floor(h / 24)}d ${h % 24}h`;
}

function clock(iso: string | number): string {
  return new Date(iso).toLocaleTimeString();
}

function fmtRate(r: number | null | undefined): string {
  if (r === null || r === undefined) return "–";
  return r >= 100 ? Math.round(r).toLocaleString() : r.toFixed(r >= 10 ? 0 : 1);
}

function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  return v >= 100 ? `${Math.round(v)} ms` : v >= 1 ? `${v.toFixed(1)} ms` : `${v.toFixed(2)} ms`;
}

/** The last non-null value of a series, or null. */
function last(values: readonly (number | null)[] | undefined): number | null {
  if (values === undefined) return null;
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
  return null;
}

/** 1, 2, 5 × 10^n at or above `v`: a readable top of the y axis. */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtAxis(v: number): string {
  if (v >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  return v >= 10 ? String(Math.round(v)) : String(+v.toFixed(2));
}

interface Line {
  readonly name: string;
  readonly colour: string;
  readonly values: readonly (number | null)[];
  readonly dash?: boolean;
}

/**
 * One chart: lines over `times`, event markers at their times. The SVG
 * carries `data-chart` and `data-times`; each line `data-series`,
 * `data-points`, `data-peak`, `data-last` and `data-values` (what a test or
 * a curious operator can read).
 */
function chart(
  id: string,
  title: string,
  unit: string,
  times: readonly number[],
  lines: readonly Line[],
  events: readonly HistoryEvent[],
  windowMs: number,
): HTMLElement {
  const end = times.length > 0 ? times[times.length - 1] : Date.now();
  const start = Math.max(end - windowMs, Math.min(times[0] ?? end, end - MIN_SPAN_MS));
  let peak = 0;
  for (const l of lines) for (const v of l.values) if (v !== null && v > peak) peak = v;
  const top = niceMax(peak);
  const x = (t: number) => PAD_L + (W - PAD_L - PAD_R) * (t - start) / Math.max(1, end - start);
  const y = (v: number) => PAD_T + (H - PAD_T - PAD_B) * (1 - v / top);
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": `${title} (${unit})`,
    "data-chart": id,
    "data-max": top,
    "data-times": times.join(","),
  });
  // Grid: 0, half, top; the time axis's ends.
  for (const v of [0, top / 2, top]) {
    root.append(svg("line", {
      x1: PAD_L,
      x2: W - PAD_R,
      y1: y(v),
      y2: y(v),
      class: v === 0 ? "axis" : "grid",
    }));
    const label = svg("text", { x: PAD_L - 3, y: y(v) + 3, class: "tick", "text-anchor": "end" });
    label.textContent = fmtAxis(v);
    root.append(label);
  }
  const from = svg("text", { x: PAD_L, y: H - 3, class: "tick" });
  const span = (end - start) / 1000;
  from.textContent = span < 120 ? `-${Math.round(span)}s` : `-${Math.round(span / 60)}m`;
  const to = svg("text", { x: W - PAD_R, y: H - 3, class: "tick", "text-anchor": "end" });
  to.textContent = "now";
  root.append(from, to);
  // State changes and writer switches, where they happened.
  for (const e of events) {
    if (e.at < start || e.at > end + HISTORY_POLL_MS) continue;
    const bad = e.kind === "node" && e.to !== "up";
    const mark = svg("line", {
      x1: x(Math.min(e.at, end)),
      x2: x(Math.min(e.at, end)),
      y1: PAD_T,
      y2: H - PAD_B,
      class: `event ${e.kind === "writer" ? "event-writer" : bad ? "event-bad" : "event-good"}`,
      "data-event": e.kind,
      "data-to": e.to ?? "none",
    });
    const tip = svg("title", {});
    tip.textContent = describeEvent(e);
    mark.append(tip);
    root.append(mark);
  }
  for (const l of lines) {
    let d = "";
    let points = 0;
    let pen = false;
    let lineLast: number | null = null;
    let linePeak = 0;
    for (let i = 0; i < times.length; i++) {
      const v = l.values[i];
      if (v === null || v === undefined || times[i] < start) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
      points++;
      lineLast = v;
      if (v > linePeak) linePeak = v;
    }
    const path = svg("path", {
      d: d === "" ? "M0,0" : d,
      fill: "none",
      stroke: l.colour,
      "stroke-width": l.colour === SHARD_COLOUR ? 1.8 : 1.3,
      "data-series": l.name,
      "data-points": points,
      "data-peak": linePeak,
      "data-last": lineLast ?? "",
      "data-values": l.values.map((v) => v ?? "").join(","),
    });
    if (l.dash) path.setAttribute("stroke-dasharray", "4 3");
    root.append(path);
  }
  const box = el("figure", { className: "chart" });
  const caption = el("figcaption", {}, el("b", { text: title }), ` ${unit}`);
  box.append(caption, root);
  return box;
}

function describeEvent(e: HistoryEvent): string {
  const at = clock(e.at);
  if (e.kind === "writer") {
    return `${at} writer ${e.from ?? "none"} → ${e.to ?? "none"}${
      e.reason === null ? "" : ` (${e.reason})`
    }`;
  }
  return `${at} ${e.node} ${e.from} → ${e.to}${e.reason === null ? "" : ` (${e.reason})`}`;
}

function nodeColour(i: number): string {
  return NODE_COLOURS[i % NODE_COLOURS.length];
}

/** The charts, legend and event list of one shard. */
function shardCharts(h: ShardHistoryDoc, doc: HistoryDoc): HTMLElement {
  const events = doc.events.filter((e) => e.shard === h.name);
  const nodeLines = (pick: (n: ShardHistoryDoc["nodes"][number]) => (number | null)[]) =>
    h.nodes.map((n, i): Line => ({ name: n.id, colour: nodeColour(i), values: pick(n) }));
  const charts = el(
    "div",
    { className: "charts" },
    chart(
      "ops",
      "ops/s",
      "shard and per node",
      doc.times,
      [{ name: "shard", colour: SHARD_COLOUR, values: h.ops }, ...nodeLines((n) => n.ops)],
      events,
      doc.windowMs,
    ),
    chart(
      "latency",
      "latency",
      "ms · p99, p50 dashed; nodes p99",
      doc.times,
      [
        { name: "p99", colour: SHARD_COLOUR, values: h.p99 },
        { name: "p50", colour: SHARD_COLOUR, values: h.p50, dash: true },
        ...nodeLines((n) => n.p99),
      ],
      events,
      doc.windowMs,
    ),
    chart(
      "errors",
      "errors, retries",
      "/s · retries dashed",
      doc.times,
      [
        { name: "errors", colour: "#b3261e", values: h.errors },
        { name: "retries", colour: SHARD_COLOUR, values: h.retries, dash: true },
        ...nodeLines((n) => n.errors),
      ],
      events,
      doc.windowMs,
    ),
    chart(
      "hedges",
      "hedges",
      "/s · wins dashed",
      doc.times,
      [
        { name: "hedges", colour: SHARD_COLOUR, values: h.hedges },
        { name: "hedgeWins", colour: "#1b7f3a", values: h.hedgeWins, dash: true },
      ],
      events,
      doc.windowMs,
    ),
  );
  const legend = el(
    "div",
    { className: "legend" },
    el("span", { className: "key key-shard" }, "shard"),
  );
  h.nodes.forEach((n, i) => {
    const key = el("span", { className: "key" }, n.id);
    key.style.setProperty("--c", nodeColour(i));
    legend.append(key);
  });
  const list = el("ol", { className: "events" });
  list.dataset.events = h.name;
  const recent = events.slice(-EVENTS_SHOWN).reverse();
  if (recent.length === 0) {
    list.append(el("li", { text: "no state change in the window", className: "muted" }));
  }
  for (const e of recent) {
    const bad = e.kind === "node" && e.to !== "up";
    const item = el("li", { text: describeEvent(e), className: bad ? "ev-bad" : "ev-good" });
    item.dataset.kind = e.kind;
    list.append(item);
  }
  const box = el("div", { className: "history" }, charts, legend, list);
  box.dataset.history = h.name;
  return box;
}

function nodeRow(n: NodeStatusDoc, h: ShardHistoryDoc | undefined): HTMLTableRowElement {
  const nh = h?.nodes.find((x) => x.id === n.id);
  const row = el("tr", { className: `row-${n.state}` });
  row.dataset.node = n.id;
  const state = el("span", { text: n.state.toUpperCase(), className: `state state-${n.state}` });
  state.dataset.state = n.state;
  const lag = n.lagMs === null
    ? "–"
    : n.lagMs < 1000
    ? `${n.lagMs} ms`
    : `${(n.lagMs / 1000).toFixed(1)} s`;
  const conns = n.connections.resp2 + n.connections.resp3;
  const check = n.checkLatencyMs === null
    ? "never checked"
    : `last check ${n.checkLatencyMs} ms${
      n.lastCheckAt === null ? "" : ` at ${clock(n.lastCheckAt)}`
    }`;
  const errRate = last(nh?.errors);
  row.append(
    el("td", { text: n.id, title: n.address }),
    el("td", {}, state),
    el("td", { text: n.role }),
    el("td", { text: n.servesReads ? "yes" : "no" }),
    el("td", { text: String(n.weight), className: "num" }),
    el("td", { text: lag, className: "num" }),
    el("td", { text: fmtRate(nh === undefined ? null : last(nh.ops) ?? 0), className: "num" }),
    el("td", { text: fmtMs(last(nh?.p99)), className: "num" }),
    el("td", {
      text: `${n.errors}${errRate !== null && errRate > 0 ? ` (${fmtRate(errRate)}/s)` : ""}`,
      className: "num",
    }),
    el("td", { text: String(n.inflight), className: "num" }),
    el("td", {
      text: `${conns}${n.pinnedConnections > 0 ? `+${n.pinnedConnections}p` : ""}`,
      className: "num",
      title: `${conns} multiplexed, ${n.pinnedConnections} pinned`,
    }),
    el("td", { text: String(n.ejections), className: "num" }),
    zoneCell(n),
    el("td", {
      text: `${n.reason} (since ${clock(n.since)})`,
      className: "reason",
      title: check,
    }),
  );
  return row;
}

/** A node's zone and where it is relative to the sidecar's (same, cross, unknown). */
function zoneCell(n: NodeStatusDoc): HTMLTableCellElement {
  const cell = el("td", {
    text: n.zone === null ? "–" : `${n.zone}${n.locality === "unknown" ? "" : ` (${n.locality})`}`,
    title: n.zoneSource === null
      ? "no zone configured or reported"
      : n.zoneSource === "config"
      ? "zone from the config"
      : "zone the node reports (availability_zone)",
  });
  cell.dataset.locality = n.locality;
  return cell;
}

/** The shard's reads by locality, e.g. ` · zone a: reads 98.1% same (1,234 same, 23 cross)`. */
function zoneMeta(s: ShardStatusDoc): string {
  if (s.zone === null) return "";
  const r = s.zoneReads;
  const total = r.same + r.cross + r.unknown;
  const share = total === 0 ? "–" : `${(r.same / total * 100).toFixed(1)}%`;
  return ` · zone ${s.zone}: reads ${share} same (${r.same} same, ${r.cross} cross, ${r.unknown} unknown)`;
}

/** The near cache's line: hit ratio, size, tracked node, lean, reads forwarded past a stall. */
function cacheText(c: NonNullable<ShardStatusDoc["cache"]>): string {
  const reads = c.hits + c.misses;
  const ratio = reads === 0 ? "–" : `${(100 * c.hits / reads).toFixed(1)}%`;
  const mb = (c.bytes / (1024 * 1024)).toFixed(1);
  return `cache ${ratio} hits (${c.hits} hits, ${c.misses} misses), ${c.keys} keys, ${mb} MiB, ` +
    `${c.invalidations} invalidations, tracking ${c.tracking ? c.node : "none"}` +
    (c.lean ? " · lean: too few reads answered, only hot keys held" : "") +
    (c.stalledReads > 0 ? ` · ${c.stalledReads} reads forwarded while it was stalled` : "");
}

function shardSection(s: ShardStatusDoc): HTMLElement {
  const h = history?.shards.find((x) => x.name === s.name);
  const section = el("section");
  section.dataset.shard = s.name;
  const listeners = s.listeners.map((l) => `${l.role} ${l.address}`).join(" · ");
  const meta = el(
    "p",
    { className: "shard-meta" },
    listeners,
    " · primary ",
    el("b", { text: s.primary ?? `none (${s.primaryProblem ?? "?"})` }),
    ` · ${s.readers.length} serving replica${s.readers.length === 1 ? "" : "s"}`,
    ` · clients ${s.sessions.resp2 + s.sessions.resp3} (${s.sessions.pinned} pinned)`,
    ` · ${fmtRate(h === undefined ? null : last(h.ops) ?? 0)} ops/s · ${
      s.commands.errors + s.commands.failed
    } errors · ${s.commands.retries} retries`,
    ` · ${s.balance}, fallback ${s.fallback}`,
    zoneMeta(s),
    s.cache ? ` · ${cacheText(s.cache)}` : "",
  );
  section.append(el("h2", { text: `shard ${s.name}` }), meta);
  for (const p of s.problems) section.append(el("p", { text: p, className: "problems" }));
  const head = el("tr");
  const cols: [string, boolean][] = [
    ["node", false],
    ["state", false],
    ["role", false],
    ["reads", false],
    ["weight", true],
    ["lag", true],
    ["ops/s", true],
    ["p99", true],
    ["errors", true],
    ["in flight", true],
    ["conns", true],
    ["ejections", true],
    ["zone", false],
    ["reason", false],
  ];
  for (const [name, num] of cols) {
    head.append(el("th", { text: name, className: num ? "num" : "" }));
  }
  const body = el("tbody");
  for (const n of s.nodes) body.append(nodeRow(n, h));
  section.append(el("table", {}, el("thead", {}, head), body));
  if (h !== undefined && history !== null) section.append(shardCharts(h, history));
  return section;
}

function render(doc: StatusDoc): void {
  lastStatus = doc;
  byId("version").textContent = `${doc.version} · up ${
    duration(doc.uptimeSeconds)
  } · pid ${doc.pid}`;
  const ready = byId("ready");
  ready.textContent = doc.ready ? "READY" : "NOT READY";
  ready.className = `badge ${doc.ready ? "ok" : "bad"}`;
  const summary = byId("summary");
  const lastReload = doc.config.lastReload;
  const reload = lastReload === null
    ? el("span", { text: `no reload since start (loaded ${clock(doc.config.loadedAt)})` })
    : lastReload.ok
    ? el("span", { text: `applied at ${clock(lastReload.at)}: ${lastReload.summary ?? ""}` })
    : el("span", {
      text: `REJECTED at ${clock(lastReload.at)}: ${lastReload.errors.join("; ")}`,
      className: "reload-bad",
    });
  const sessions = doc.sessions;
  summary.replaceChildren(
    el("div", {}, "config ", el("b", { text: doc.config.file }), " · last reload: ", reload),
    el("div", {
      text: `${doc.config.reloads.applied} applied, ${doc.config.reloads.rejected} rejected · ` +
        `client sessions: ${sessions.resp2} RESP2, ${sessions.resp3} RESP3, ${sessions.pinned} pinned`,
    }),
  );
  if (!doc.ready) {
    const list = el("ul");
    for (const r of doc.notReady) list.append(el("li", { text: r }));
    summary.append(list);
  }
  byId("shards").replaceChildren(...doc.shards.map((s) => shardSection(s)));
}

function showError(message: string): void {
  const banner = byId("banner");
  banner.hidden = false;
  banner.textContent = lastOk === 0
    ? `cannot reach shardgate: ${message}`
    : `cannot reach shardgate (${message}); showing what it said at ${
      new Date(lastOk).toLocaleTimeString()
    }`;
}

async function getJson<T>(path: string): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), POLL_TIMEOUT_MS);
  try {
    const res = await fetch(path, { cache: "no-store", signal: ac.signal });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return await res.json() as T;
  } finally {
    clearTimeout(timer);
  }
}

async function poll(): Promise<void> {
  try {
    render(await getJson<StatusDoc>("status"));
    lastOk = Date.now();
    byId("banner").hidden = true;
    byId("updated").textContent = `updated ${new Date(lastOk).toLocaleTimeString()}`;
  } catch (e) {
    showError(e instanceof Error ? e.message : String(e));
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

async function pollHistory(): Promise<void> {
  try {
    history = await getJson<HistoryDoc>("history");
    if (lastStatus !== null) render(lastStatus);
  } catch {
    // The status poll reports an unreachable sidecar; charts keep their last data.
  } finally {
    setTimeout(pollHistory, HISTORY_POLL_MS);
  }
}

void poll();
void pollHistory();
