/**
 * Parse and validate a shardgate config (DESIGN.md "Config") into the
 * normalised {@link Config}. Validation is complete: every problem in the
 * file is reported at once, each with its line, column and key path, and a
 * config with any problem is refused as a whole.
 *
 * Settings (`balance`, `retries`, `timeouts`, `check`, …) may appear under
 * `defaults:` and in each shard; the shard wins, and nested maps merge key
 * by key (a shard setting only `timeouts: { server: 5s }` keeps the other
 * timeouts). `auth: null` in a shard turns off a default `auth`; `tls: false`
 * a default `tls`.
 *
 * @module
 */

import {
  DEFAULT_BALANCE,
  DEFAULT_CACHE_ENABLED,
  DEFAULT_CACHE_MAX_AGE_MS,
  DEFAULT_CACHE_MAX_BYTES,
  DEFAULT_CACHE_MAX_KEYS,
  DEFAULT_CACHE_MIN_READS,
  DEFAULT_CHECK_FALL,
  DEFAULT_CHECK_INTERVAL_MS,
  DEFAULT_CHECK_RISE,
  DEFAULT_CHECK_TIMEOUT_MS,
  DEFAULT_CLIENT_IDLE_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_CONNECTIONS_PER_NODE,
  DEFAULT_CONSISTENCY,
  DEFAULT_CONSISTENCY_WAIT_MS,
  DEFAULT_DNS_REFRESH_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_FAILOVER_HOLD_MS,
  DEFAULT_FALLBACK,
  DEFAULT_HEDGE_BUDGET_PERCENT,
  DEFAULT_HEDGE_ENABLED,
  DEFAULT_HEDGE_MAX_DELAY_MS,
  DEFAULT_HEDGE_MIN_DELAY_MS,
  DEFAULT_HEDGE_PERCENTILE,
  DEFAULT_MAX_CLIENTS,
  DEFAULT_MAX_EJECTED_PERCENT,
  DEFAULT_MAX_LAG_MS,
  DEFAULT_PASSIVE_COOLDOWN_MS,
  DEFAULT_PASSIVE_ERRORS,
  DEFAULT_PASSIVE_MAX_COOLDOWN_MS,
  DEFAULT_PASSIVE_WINDOW_MS,
  DEFAULT_RETRIES,
  DEFAULT_SAMPLE_RATIO,
  DEFAULT_SERVE_WHEN_LINK_DOWN,
  DEFAULT_SERVER_TIMEOUT_MS,
  DEFAULT_WEIGHT,
  DEFAULT_WRITER_TIMEOUT_MS,
} from "./defaults.ts";
import { readZone } from "./_zones.ts";
import {
  type AuthLayer,
  nonEmpty,
  readAuth,
  readTls,
  resolveAuth,
  resolveTls,
  type TlsLayer,
} from "./_auth_tls.ts";
import type {
  Address,
  AdminConfig,
  BalanceMode,
  Config,
  ConfigIssue,
  ConsistencyMode,
  FallbackMode,
  NodeConfig,
  ShardConfig,
  ShardSettings,
  TelemetryConfig,
} from "./types.ts";
import { isLoopbackHost, listenAddressesClash } from "./address.ts";
import { type Entry, type Listener, type Located, type Pos, type Slot, Source } from "./_yaml.ts";
import { formatDuration } from "./duration.ts";
import { readFaults } from "./_faults.ts";
import { readRouters } from "./_routers.ts";

/** The outcome of parsing a config: a config and no issues, or issues and no config. */
export type ConfigResult =
  | { config: Config; issues: [] }
  | { config: null; issues: ConfigIssue[] };

// ---- the schema ----

const BALANCE_MODES: readonly BalanceMode[] = ["round-robin", "least-pending"];
const FALLBACK_MODES: readonly FallbackMode[] = ["primary", "none"];
const CONSISTENCY_MODES: readonly ConsistencyMode[] = ["eventual", "session", "host"];

/** Nested setting maps and their keys. */
const GROUPS: Readonly<Record<string, readonly string[]>> = {
  timeouts: ["connect", "server", "writer", "failover", "client_idle", "drain"],
  check: ["interval", "timeout", "rise", "fall", "max_lag", "serve_when_link_down"],
  passive: ["errors", "window", "cooldown", "max_cooldown", "max_ejected_percent"],
  hedge: ["percentile", "min_delay", "max_delay", "budget"],
  cache: ["max_keys", "max_bytes", "min_reads", "max_age"],
};

type Reader = (src: Source, slot: Slot) => Located<unknown> | undefined;

/** Scalar settings by dotted name, with how each is read and checked. */
const SCALARS: Readonly<Record<string, Reader>> = {
  balance: (s, e) => s.readEnum(e, BALANCE_MODES),
  fallback: (s, e) => s.readEnum(e, FALLBACK_MODES),
  connections_per_node: (s, e) => s.readInt(e, 1),
  max_clients: (s, e) => s.readInt(e, 1),
  retries: (s, e) => s.readInt(e, 0),
  "timeouts.connect": (s, e) => s.readDuration(e),
  "timeouts.server": (s, e) => s.readDuration(e),
  "timeouts.writer": (s, e) => s.readDuration(e),
  "timeouts.failover": (s, e) => s.readDuration(e),
  "timeouts.client_idle": (s, e) => s.readDuration(e),
  "timeouts.drain": (s, e) => s.readDuration(e),
  "check.interval": (s, e) => s.readDuration(e, true),
  "check.timeout": (s, e) => s.readDuration(e, true),
  "check.rise": (s, e) => s.readInt(e, 1),
  "check.fall": (s, e) => s.readInt(e, 1),
  "check.max_lag": (s, e) => s.readDuration(e),
  "check.serve_when_link_down": (s, e) => s.readBool(e),
  "passive.errors": (s, e) => s.readInt(e, 1),
  "passive.window": (s, e) => s.readDuration(e, true),
  "passive.cooldown": (s, e) => s.readDuration(e),
  "passive.max_cooldown": (s, e) => s.readDuration(e),
  "passive.max_ejected_percent": (s, e) => s.readInt(e, 0, 100),
  "hedge.percentile": (s, e) => s.readNumber(e, 50, 99.9),
  "hedge.min_delay": (s, e) => s.readDuration(e, true),
  "hedge.max_delay": (s, e) => s.readDuration(e, true),
  "hedge.budget": (s, e) => s.readNumber(e, 0, 100),
  "cache.max_keys": (s, e) => s.readInt(e, 1),
  "cache.max_bytes": (s, e) => s.readInt(e, 1024),
  "cache.min_reads": (s, e) => s.readInt(e, 1),
  "cache.max_age": (s, e) => s.readDuration(e, true),
  client_password: (s, e) =>
    s.readScalar(e, "a string", nonEmpty, { nullable: true, secret: true }),
  allow_remote: (s, e) => s.readBool(e),
  dns_refresh: (s, e) => s.readDuration(e),
  consistency: (s, e) => s.readEnum(e, CONSISTENCY_MODES),
  consistency_wait: (s, e) => s.readDuration(e),
};

const SETTING_KEYS: readonly string[] = [
  ...Object.keys(SCALARS).filter((k) => !k.includes(".")),
  ...Object.keys(GROUPS),
  "auth",
  "tls",
];
const TOP_KEYS = ["admin", "telemetry", "zone", "defaults", "shards", "routers", "faults"];
const ADMIN_KEYS = ["listen", "allow_remote"];
const TELEMETRY_KEYS = ["sample_ratio"];
const SHARD_OWN_KEYS = ["readers", "writer", "split", "nodes"];
const SHARD_KEYS = [...SHARD_OWN_KEYS, ...SETTING_KEYS];
const NODE_KEYS = ["address", "weight", "zone"];

/** Hints for keys written one level off: `interval` in a shard means `check.interval`. */
function nestedHints(): Record<string, string> {
  const hints: Record<string, string> = {};
  for (const [group, keys] of Object.entries(GROUPS)) {
    for (const key of keys) hints[key] = `did you mean "${group}.${key}"?`;
  }
  return hints;
}

const SETTINGS_HINTS: Record<string, string> = {
  ...nestedHints(),
  zone: `the sidecar's zone is the top-level "zone:"; a node's is { address, zone }`,
};
const DEFAULTS_HINTS: Record<string, string> = {
  ...SETTINGS_HINTS,
  readers: "only valid inside a shard",
  writer: "only valid inside a shard",
  split: "only valid inside a shard",
  nodes: "only valid inside a shard",
};
const TOP_HINTS: Record<string, string> = {
  listen: `did you mean "admin.listen"?`,
  sample_ratio: `did you mean "telemetry.sample_ratio"?`,
  ...Object.fromEntries(
    SETTING_KEYS.map((k) => [k, `settings belong under "defaults" or a shard`]),
  ),
};

// ---- settings layers (defaults, then a shard) ----

/** Settings as written at one level, by dotted name. */
interface Layer {
  readonly values: Map<string, Located<unknown>>;
  /** null: `auth: null` (turns auth off). */
  auth?: Located<AuthLayer | null>;
  /** null: `tls: false`; an empty layer: `tls: true`. */
  tls?: Located<TlsLayer | null>;
}

function readLayer(src: Source, entries: Map<string, Entry>): Layer {
  const layer: Layer = { values: new Map() };
  for (const [key, entry] of entries) {
    if (key === "auth") {
      layer.auth = readAuth(src, entry);
    } else if (key === "tls") {
      layer.tls = readTls(src, entry);
    } else if ((key === "hedge" || key === "cache") && src.kindOf(entry) !== "map") {
      // `hedge: false` turns hedging off, `hedge: true` on with the defaults (`cache` alike).
      const on = src.readBool(entry);
      if (on !== undefined) layer.values.set(`${key}.enabled`, on);
    } else if (key in GROUPS) {
      if (key === "hedge" || key === "cache") {
        layer.values.set(`${key}.enabled`, { value: true, pos: entry.pos, path: entry.path });
      }
      const group = src.readMap(entry, { keys: GROUPS[key] });
      for (const [sub, subEntry] of group ?? []) {
        const value = SCALARS[`${key}.${sub}`](src, subEntry);
        if (value !== undefined) layer.values.set(`${key}.${sub}`, value);
      }
    } else if (key in SCALARS) {
      const value = SCALARS[key](src, entry);
      if (value !== undefined) layer.values.set(key, value);
    }
  }
  return layer;
}

/** Merges layers (later wins) into full shard settings, reporting cross-key problems. */
function resolveSettings(src: Source, layers: readonly Layer[]): ShardSettings {
  const find = (name: string): { at: number; v: Located<unknown> } | undefined => {
    for (let i = layers.length - 1; i >= 0; i--) {
      const v = layers[i].values.get(name);
      if (v !== undefined) return { at: i, v };
    }
    return undefined;
  };
  const get = <T>(name: string, fallback: T): T =>
    (find(name)?.v.value as T | undefined) ?? fallback;

  const cooldown = find("passive.cooldown");
  const maxCooldown = find("passive.max_cooldown");
  const cooldownMs = get("passive.cooldown", DEFAULT_PASSIVE_COOLDOWN_MS);
  const maxCooldownMs = get("passive.max_cooldown", DEFAULT_PASSIVE_MAX_COOLDOWN_MS);
  if (maxCooldownMs < cooldownMs) {
    // Blame the more specific of the two (a shard's over a default's).
    const blame = (maxCooldown?.at ?? -1) >= (cooldown?.at ?? -1) ? maxCooldown : cooldown;
    if (blame !== undefined) {
      src.issue(
        blame.v.pos,
        blame.v.path,
        `passive.max_cooldown (${formatDuration(maxCooldownMs)}) is less than passive.cooldown (${
          formatDuration(cooldownMs)
        })`,
      );
    }
  }

  const minDelay = find("hedge.min_delay");
  const maxDelay = find("hedge.max_delay");
  const minDelayMs = get("hedge.min_delay", DEFAULT_HEDGE_MIN_DELAY_MS);
  const maxDelayMs = get("hedge.max_delay", DEFAULT_HEDGE_MAX_DELAY_MS);
  if (maxDelayMs < minDelayMs) {
    const blame = (maxDelay?.at ?? -1) >= (minDelay?.at ?? -1) ? maxDelay : minDelay;
    if (blame !== undefined) {
      src.issue(
        blame.v.pos,
        blame.v.path,
        `hedge.max_delay (${formatDuration(maxDelayMs)}) is less than hedge.min_delay (${
          formatDuration(minDelayMs)
        })`,
      );
    }
  }

  return {
    balance: get<BalanceMode>("balance", DEFAULT_BALANCE),
    fallback: get<FallbackMode>("fallback", DEFAULT_FALLBACK),
    connectionsPerNode: get("connections_per_node", DEFAULT_CONNECTIONS_PER_NODE),
    maxClients: get("max_clients", DEFAULT_MAX_CLIENTS),
    retries: get("retries", DEFAULT_RETRIES),
    timeouts: {
      connectMs: get("timeouts.connect", DEFAULT_CONNECT_TIMEOUT_MS),
      serverMs: get("timeouts.server", DEFAULT_SERVER_TIMEOUT_MS),
      writerMs: get("timeouts.writer", DEFAULT_WRITER_TIMEOUT_MS),
      failoverMs: get("timeouts.failover", DEFAULT_FAILOVER_HOLD_MS),
      clientIdleMs: get("timeouts.client_idle", DEFAULT_CLIENT_IDLE_MS),
      drainMs: get("timeouts.drain", DEFAULT_DRAIN_TIMEOUT_MS),
    },
    check: {
      intervalMs: get("check.interval", DEFAULT_CHECK_INTERVAL_MS),
      timeoutMs: get("check.timeout", DEFAULT_CHECK_TIMEOUT_MS),
      rise: get("check.rise", DEFAULT_CHECK_RISE),
      fall: get("check.fall", DEFAULT_CHECK_FALL),
      maxLagMs: get("check.max_lag", DEFAULT_MAX_LAG_MS),
      serveWhenLinkDown: get("check.serve_when_link_down", DEFAULT_SERVE_WHEN_LINK_DOWN),
    },
    passive: {
      errors: get("passive.errors", DEFAULT_PASSIVE_ERRORS),
      windowMs: get("passive.window", DEFAULT_PASSIVE_WINDOW_MS),
      cooldownMs,
      maxCooldownMs,
      maxEjectedPercent: get("passive.max_ejected_percent", DEFAULT_MAX_EJECTED_PERCENT),
    },
    hedge: {
      enabled: get("hedge.enabled", DEFAULT_HEDGE_ENABLED),
      percentile: get("hedge.percentile", DEFAULT_HEDGE_PERCENTILE),
      minDelayMs,
      maxDelayMs,
      budgetPercent: get("hedge.budget", DEFAULT_HEDGE_BUDGET_PERCENT),
    },
    cache: {
      enabled: get("cache.enabled", DEFAULT_CACHE_ENABLED),
      maxKeys: get("cache.max_keys", DEFAULT_CACHE_MAX_KEYS),
      maxBytes: get("cache.max_bytes", DEFAULT_CACHE_MAX_BYTES),
      minReads: get("cache.min_reads", DEFAULT_CACHE_MIN_READS),
      maxAgeMs: get("cache.max_age", DEFAULT_CACHE_MAX_AGE_MS),
    },
    auth: resolveAuth(src, layers),
    tls: resolveTls(layers),
    clientPassword: get<string | null>("client_password", null),
    allowRemote: get("allow_remote", false),
    dnsRefreshMs: get("dns_refresh", DEFAULT_DNS_REFRESH_MS),
    consistency: get<ConsistencyMode>("consistency", DEFAULT_CONSISTENCY),
    consistencyWaitMs: get("consistency_wait", DEFAULT_CONSISTENCY_WAIT_MS),
  };
}

// ---- shards, nodes, listeners ----

function readNode(src: Source, slot: Slot): Located<NodeConfig> | undefined {
  const kind = src.kindOf(slot);
  if (kind === "map") {
    const map = src.readMap(slot, { keys: NODE_KEYS });
    if (map === undefined) return undefined;
    const addressEntry = map.get("address");
    if (addressEntry === undefined) {
      src.issue(slot.pos, slot.path, `missing required key "address"`);
    }
    const address = addressEntry && src.readAddress(addressEntry, false);
    const weightEntry = map.get("weight");
    const weight = weightEntry && src.readInt(weightEntry, 0);
    const zoneEntry = map.get("zone");
    const zone = zoneEntry && readZone(src, zoneEntry);
    if (
      address === undefined || (weightEntry !== undefined && weight === undefined) ||
      (zoneEntry !== undefined && zone === undefined)
    ) {
      return undefined;
    }
    const node = {
      id: address.value.text,
      address: address.value,
      weight: weight?.value ?? DEFAULT_WEIGHT,
      // Only a node with a zone carries the key (absent means none).
      ...(zone?.value ? { zone: zone.value } : {}),
    };
    return { value: node, pos: slot.pos, path: slot.path };
  }
  if (kind === "list") {
    src.issue(
      slot.pos,
      slot.path,
      `expected "host:port" or { address, weight, zone }, got a list (quote IPv6 addresses: "[::1]:6379")`,
    );
    return undefined;
  }
  const address = src.readAddress(slot, false);
  if (address === undefined) return undefined;
  const node = { id: address.value.text, address: address.value, weight: DEFAULT_WEIGHT };
  return { value: node, pos: slot.pos, path: slot.path };
}

function readNodes(src: Source, entry: Entry): NodeConfig[] {
  const items = src.readList(entry, `a list of nodes ("host:port" or { address, weight, zone })`);
  if (items === undefined) return [];
  if (items.length === 0) {
    src.issue(entry.pos, entry.path, "must list at least one node");
    return [];
  }
  const nodes: NodeConfig[] = [];
  const seen = new Map<string, string>();
  let allValid = true;
  for (const [i, item] of items.entries()) {
    const node = readNode(src, item);
    if (node === undefined) {
      allValid = false;
      continue;
    }
    const first = seen.get(node.value.id);
    if (first !== undefined) {
      src.issue(node.pos, node.path, `duplicate node ${node.value.id} (also ${first})`);
      continue;
    }
    seen.set(node.value.id, `nodes[${i}]`);
    nodes.push(node.value);
  }
  if (allValid && nodes.every((n) => n.weight === 0)) {
    src.issue(entry.pos, entry.path, "every node has weight 0: at least one must be above 0");
  }
  return nodes;
}

function readShard(
  src: Source,
  entry: Entry,
  defaults: Layer,
  listeners: Listener[],
): ShardConfig | undefined {
  const name = entry.key;
  src.checkName(entry, "shard");
  const map = src.readMap(entry, { keys: SHARD_KEYS, hints: SETTINGS_HINTS }, "a shard (a map)");
  if (map === undefined) return undefined;
  src.requireKeys(entry, map, ["nodes"]);
  const readersEntry = map.get("readers");
  const readers = readersEntry && src.readAddress(readersEntry, true, true);
  const writerEntry = map.get("writer");
  const writer = writerEntry && src.readAddress(writerEntry, true, true);
  const splitEntry = map.get("split");
  const split = splitEntry && src.readAddress(splitEntry, true, true);
  const readOk = (!readersEntry || readers) && (!writerEntry || writer) && (!splitEntry || split);
  if (readOk && !readers?.value && !writer?.value && !split?.value) {
    src.issue(
      entry.keyPos,
      entry.path,
      `a shard needs at least one of "readers", "writer", "split"`,
    );
    return undefined;
  }
  const nodesEntry = map.get("nodes");
  const nodes = nodesEntry ? readNodes(src, nodesEntry) : [];

  const own = new Map([...map].filter(([key]) => !SHARD_OWN_KEYS.includes(key)));
  const settings = resolveSettings(src, [defaults, readLayer(src, own)]);
  const allowHint = `set allow_remote: true in shard "${name}" to listen on it`;
  for (const address of [readers, writer, split]) {
    if (address?.value) {
      listeners.push({
        address: address as Located<Address>,
        allowRemote: settings.allowRemote,
        allowHint,
      });
    }
  }
  if (!readOk) return undefined;
  return {
    name,
    readers: readers?.value ?? null,
    writer: writer?.value ?? null,
    split: split?.value ?? null,
    nodes,
    ...settings,
  };
}

function checkListeners(src: Source, listeners: readonly Listener[]): void {
  const ordered = [...listeners].sort((a, b) =>
    a.address.pos.line - b.address.pos.line || a.address.pos.col - b.address.pos.col
  );
  for (const [i, l] of ordered.entries()) {
    const { value: address, pos, path } = l.address;
    if (!l.allowRemote && !isLoopbackHost(address.host)) {
      src.issue(pos, path, `${address.text} is not a loopback address; ${l.allowHint}`);
    }
    const other = ordered.slice(0, i).find((o) => listenAddressesClash(o.address.value, address));
    if (other !== undefined) {
      src.issue(
        pos,
        path,
        other.address.value.text === address.text
          ? `listen address ${address.text} is already used by ${other.address.path}`
          : `listen address ${address.text} clashes with ${other.address.path} (${other.address.value.text})`,
      );
    }
  }
}

// ---- top level ----

function readAdmin(src: Source, entry: Entry, listeners: Listener[]): AdminConfig | null {
  const map = src.readMap(entry, { keys: ADMIN_KEYS });
  if (map === undefined || src.kindOf(entry) === "null") return null;
  const listenEntry = map.get("listen");
  if (listenEntry === undefined) {
    src.issue(entry.keyPos, entry.path, `missing required key "listen"`);
    return null;
  }
  const listen = src.readAddress(listenEntry, true);
  const allowEntry = map.get("allow_remote");
  const allow = allowEntry && src.readBool(allowEntry);
  if (listen === undefined) return null;
  listeners.push({
    address: listen,
    allowRemote: allow?.value ?? false,
    allowHint: "set admin.allow_remote: true to listen on it",
  });
  return { listen: listen.value };
}

function readTelemetry(src: Source, entry: Entry | undefined): TelemetryConfig {
  const map = entry && src.readMap(entry, { keys: TELEMETRY_KEYS });
  const ratioEntry = map?.get("sample_ratio");
  const ratio = ratioEntry && src.readNumber(ratioEntry, 0, 1);
  return { sampleRatio: ratio?.value ?? DEFAULT_SAMPLE_RATIO };
}

function freeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) freeze(v);
  }
  return value;
}

/**
 * Parses and validates YAML config text. Never throws for bad input: every
 * problem found is returned as an issue, and then there is no config.
 *
 * @param text the YAML source
 * @param file the file name to put in issues and in {@link Config.file}
 * @param env where `${VAR}` references are looked up; the process environment by default
 */
export function parseConfig(
  text: string,
  file: string,
  env: Readonly<Record<string, string>> = Deno.env.toObject(),
): ConfigResult {
  const src = new Source(text, file, env);
  if (src.syntaxFailed) return { config: null, issues: src.issues() };
  const root = src.root();
  const start: Pos = { line: 1, col: 1 };
  if (src.kindOf(root) === "null") {
    src.issue(start, "", `the config is empty (it needs at least "shards")`);
    return { config: null, issues: src.issues() };
  }
  const top = src.readMap(root, { keys: TOP_KEYS, hints: TOP_HINTS }, "a map at the top level");
  if (top === undefined) return { config: null, issues: src.issues() };

  const listeners: Listener[] = [];
  const adminEntry = top.get("admin");
  const admin = adminEntry ? readAdmin(src, adminEntry, listeners) : null;
  const telemetry = readTelemetry(src, top.get("telemetry"));
  const zoneEntry = top.get("zone");
  const zone = (zoneEntry && readZone(src, zoneEntry)?.value) ?? null;
  const defaultsEntry = top.get("defaults");
  const defaultsMap = defaultsEntry &&
    src.readMap(defaultsEntry, { keys: SETTING_KEYS, hints: DEFAULTS_HINTS });
  const defaults = readLayer(src, defaultsMap ?? new Map());

  const shards: ShardConfig[] = [];
  const shardsEntry = top.get("shards");
  if (shardsEntry === undefined) {
    src.issue(start, "", `missing required key "shards"`);
  } else {
    const map = src.readMap(shardsEntry, { keys: null }, "a map of shard name to shard");
    if (map !== undefined && map.size === 0) {
      src.issue(shardsEntry.pos, shardsEntry.path, "must define at least one shard");
    }
    for (const entry of map?.values() ?? []) {
      const shard = readShard(src, entry, defaults, listeners);
      // The sidecar's zone reaches every shard (absent when none): a reload that changes it
      // updates each shard in place.
      if (shard !== undefined) shards.push(zone === null ? shard : { ...shard, zone });
    }
  }
  // Router ports (config/_routers.ts): after the shards they name, before the listener checks.
  const routersEntry = top.get("routers");
  const routers = routersEntry
    ? readRouters(src, routersEntry, shards, shardsEntry, listeners)
    : [];
  checkListeners(src, listeners);
  // Fault injection rules (config/_faults.ts): after the shards and nodes they name.
  const faultsEntry = top.get("faults");
  const faults = faultsEntry ? readFaults(src, faultsEntry, shards) : [];

  const issues = src.issues();
  if (issues.length > 0) return { config: null, issues };
  return {
    config: freeze({
      file,
      admin,
      telemetry,
      shards,
      routers,
      faults,
      ...(zone === null ? {} : { zone }),
    }),
    issues: [],
  };
}

/**
 * Reads `file` and parses it with {@link parseConfig}. A read error becomes
 * one issue at 1:1.
 */
export async function loadConfig(
  file: string,
  env?: Readonly<Record<string, string>>,
): Promise<ConfigResult> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      config: null,
      issues: [{ file, line: 1, col: 1, path: "", message: `cannot read the config: ${reason}` }],
    };
  }
  return parseConfig(text, file, env);
}

/**
 * An issue at the value of the dotted key `path` in the config `text` (at
 * 1:1 when the key is not there), for a problem found after validation,
 * e.g. a listen address that is valid but cannot be bound.
 */
export function issueAt(text: string, file: string, path: string, message: string): ConfigIssue {
  const pos = new Source(text, file, {}).valuePos(path) ?? { line: 1, col: 1 };
  return { file, line: pos.line, col: pos.col, path, message };
}

/** Formats an issue as `file:line:col: path: message` (no `path: ` when it is empty). */
export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  return issue.path === ""
    ? `${where}: ${issue.message}`
    : `${where}: ${issue.path}: ${issue.message}`;
}
