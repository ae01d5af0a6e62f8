/// <reference lib="dom" />
/**
 * The status page's script (bundled by `npm run build:page` into
 * `admin/_page.ts`): polls `/status` every second and redraws one table per
 * shard, one row per node, state shown by colour and by word. Rates
 * (ops/s) come from the difference of two polls. Text goes in through
 * `textContent` only.
 *
 * @module
 */

import type { NodeStatusDoc, ShardStatusDoc, StatusDoc } from "../status.ts";

/** How often the page asks for `/status`. */
const POLL_MS = 1000;
/** A poll taking longer than this counts as failed. */
const POLL_TIMEOUT_MS = 3000;

interface Sample {
  readonly at: number;
  readonly count: number;
  readonly errors: number;
}

const previous = new Map<string, Sample>();
let lastOk = 0;

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

function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString();
}

/** ops/s and errors/s of a counter pair since the previous poll, or null on the first. */
function rate(key: string, at: number, count: number, errors: number): [number, number] | null {
  const prev = previous.get(key);
  previous.set(key, { at, count, errors });
  if (prev === undefined || at <= prev.at || count < prev.count) return null;
  const dt = (at - prev.at) / 1000;
  return [(count - prev.count) / dt, (errors - prev.errors) / dt];
}

function fmtRate(r: number | null): string {
  if (r === null) return "–";
  return r >= 100 ? Math.round(r).toLocaleString() : r.toFixed(r >= 10 ? 0 : 1);
}

function nodeRow(shard: string, n: NodeStatusDoc, at: number): HTMLTableRowElement {
  const r = rate(`${shard}/${n.id}`, at, n.commands + n.errors, n.errors);
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
    ? "never"
    : `${n.checkLatencyMs} ms${n.lastCheckAt === null ? "" : ` at ${clock(n.lastCheckAt)}`}`;
  row.append(
    el("td", { text: n.id, title: n.address }),
    el("td", {}, state),
    el("td", { text: n.role }),
    el("td", { text: n.servesReads ? "yes" : "no" }),
    el("td", { text: String(n.weight), className: "num" }),
    el("td", { text: lag, className: "num" }),
    el("td", { text: fmtRate(r?.[0] ?? null), className: "num" }),
    el("td", {
      text: `${n.errors}${r !== null && r[1] > 0 ? ` (${fmtRate(r[1])}/s)` : ""}`,
      className: "num",
    }),
    el("td", { text: String(n.inflight), className: "num" }),
    el("td", {
      text: `${conns}${n.pinnedConnections > 0 ? ` + ${n.pinnedConnections} pinned` : ""}`,
      className: "num",
    }),
    el("td", { text: String(n.ejections), className: "num" }),
    el("td", { text: check }),
    el("td", { text: `${n.reason} (since ${clock(n.since)})`, className: "reason" }),
  );
  return row;
}

function shardSection(s: ShardStatusDoc, at: number): HTMLElement {
  const r = rate(`${s.name}/*`, at, s.commands.total, s.commands.errors + s.commands.failed);
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
    ` · ${fmtRate(r?.[0] ?? null)} ops/s · ${
      s.commands.errors + s.commands.failed
    } errors · ${s.commands.retries} retries`,
    ` · ${s.balance}, fallback ${s.fallback}`,
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
    ["errors", true],
    ["in flight", true],
    ["conns", true],
    ["ejections", true],
    ["last check", false],
    ["reason", false],
  ];
  for (const [name, num] of cols) {
    head.append(el("th", { text: name, className: num ? "num" : "" }));
  }
  const body = el("tbody");
  for (const n of s.nodes) body.append(nodeRow(s.name, n, at));
  section.append(el("table", {}, el("thead", {}, head), body));
  return section;
}

function render(doc: StatusDoc): void {
  const at = Date.parse(doc.now);
  byId("version").textContent = `${doc.version} · up ${
    duration(doc.uptimeSeconds)
  } · pid ${doc.pid}`;
  const ready = byId("ready");
  ready.textContent = doc.ready ? "READY" : "NOT READY";
  ready.className = `badge ${doc.ready ? "ok" : "bad"}`;
  const summary = byId("summary");
  const last = doc.config.lastReload;
  const reload = last === null
    ? el("span", { text: `no reload since start (loaded ${clock(doc.config.loadedAt)})` })
    : last.ok
    ? el("span", { text: `applied at ${clock(last.at)}: ${last.summary ?? ""}` })
    : el("span", {
      text: `REJECTED at ${clock(last.at)}: ${last.errors.join("; ")}`,
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
  byId("shards").replaceChildren(...doc.shards.map((s) => shardSection(s, at)));
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

async function poll(): Promise<void> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), POLL_TIMEOUT_MS);
  try {
    const res = await fetch("status", { cache: "no-store", signal: ac.signal });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const doc = await res.json() as StatusDoc;
    render(doc);
    lastOk = Date.now();
    byId("banner").hidden = true;
    byId("updated").textContent = `updated ${new Date(lastOk).toLocaleTimeString()}`;
  } catch (e) {
    showError(e instanceof Error ? e.message : String(e));
  } finally {
    clearTimeout(timer);
    setTimeout(poll, POLL_MS);
  }
}

void poll();
