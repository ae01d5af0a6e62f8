/**
 * The `routers:` section: router ports that pick a shard by key (issue 11).
 *
 * ```yaml
 * routers:
 *   cache:
 *     listen: 127.0.0.1:6400
 *     distribution: ketama        # default; or slots
 *     hash: fnv1a_64              # default; any twemproxy hash
 *     hash_tag: "{}"              # optional, two characters
 *     reads: readers              # default; or writer
 *     shards: [users, { shard: sessions, name: "10.0.0.1:6379", weight: 2 }]
 *   cluster:
 *     listen: 127.0.0.1:6500
 *     distribution: slots
 *     shards:
 *       - { shard: users, slots: "0-8191" }
 *       - { shard: sessions, slots: ["8192-12000", 12001-16383] }
 * ```
 *
 * A ring name defaults to what twemproxy would call the shard's first node
 * written without a name: its address as written in the file, `host:port`,
 * or just `host` when the port is 11211. `slots` takes comma-separated slots
 * and `first-last` ranges (or a list of them) and must give every slot
 * 0..16383 to exactly one shard.
 *
 * @module
 */

import {
  CLUSTER_SLOTS,
  DEFAULT_ROUTER_DISTRIBUTION,
  DEFAULT_ROUTER_HASH,
  DEFAULT_ROUTER_READS,
  DEFAULT_ROUTER_WEIGHT,
  KETAMA_DEFAULT_PORT,
  KETAMA_POINTS_PER_SERVER,
  ketamaNameLimit,
} from "./defaults.ts";
import {
  ROUTER_HASHES,
  type RouterConfig,
  type RouterDistribution,
  type RouterReads,
  type RouterShardConfig,
  type ShardConfig,
  type SlotRange,
} from "./types.ts";
import {
  type Entry,
  type Listener,
  type Located,
  SafeMessage,
  type Slot,
  type Source,
  suggestKey,
} from "./_yaml.ts";

const DISTRIBUTIONS: readonly RouterDistribution[] = ["ketama", "slots"];
const READS: readonly RouterReads[] = ["readers", "writer"];
const ROUTER_KEYS = [
  "listen",
  "allow_remote",
  "distribution",
  "hash",
  "hash_tag",
  "reads",
  "shards",
];
const ROUTER_HINTS: Record<string, string> = {
  readers: `a router has one address: "listen"`,
  writer: `a router has one address: "listen" (use reads: writer to send reads to the writer)`,
  nodes: `a router lists "shards", not nodes`,
};
const ENTRY_KEYS = ["shard", "name", "weight", "slots"];
const SLOTS_ONLY = "applies to distribution: slots only";
const KETAMA_ONLY = "applies to distribution: ketama only (slots hash with CRC16 and {tag})";
/** Points are made 4 per md5 digest, so a server has at most 160 / 4 names per server on the ring. */
const NAMES_PER_SERVER = KETAMA_POINTS_PER_SERVER / 4;

/** A router's shard entry as read, before the ring-wide checks. */
interface EntryRead {
  readonly shard: Located<string>;
  readonly name: Located<string> | undefined;
  readonly weight: number;
  readonly slots: Located<SlotRange>[] | undefined;
}

/** Parses `N` or `A-B` (slots, inclusive) into a range; throws SafeMessage. */
function parseSlotRange(text: string): SlotRange {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  if (m === null) {
    throw new SafeMessage(`"${text}" is not a slot or a range of slots (e.g. 0-8191)`);
  }
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  if (last >= CLUSTER_SLOTS || first >= CLUSTER_SLOTS) {
    throw new SafeMessage(`slot ${Math.max(first, last)} is out of range 0..${CLUSTER_SLOTS - 1}`);
  }
  if (first > last) throw new SafeMessage(`range ${first}-${last} runs backwards`);
  return { first, last };
}

/** Reads a `slots` value: "0-100,200", 300, or a list of those. */
function readSlots(src: Source, slot: Slot): Located<SlotRange>[] | undefined {
  const items = src.kindOf(slot) === "list" ? src.readList(slot, "slots") : [slot];
  if (items === undefined) return undefined;
  if (items.length === 0) {
    src.issue(slot.pos, slot.path, "must list at least one slot");
    return undefined;
  }
  const out: Located<SlotRange>[] = [];
  let ok = true;
  for (const item of items) {
    const parts = src.readScalar(item, `slots like "0-8191" or "0-100,200"`, (text) => {
      return text.split(",").map(parseSlotRange);
    });
    if (parts === undefined || parts.value === null) {
      ok = false;
      continue;
    }
    for (const range of parts.value) out.push({ value: range, pos: item.pos, path: item.path });
  }
  return ok ? out : undefined;
}

/** Adds slot `s` (ascending) to `ranges`, extending the last range when adjacent. */
function appendSlot(ranges: SlotRange[], s: number): void {
  const last = ranges[ranges.length - 1];
  if (last !== undefined && last.last === s - 1) ranges[ranges.length - 1] = { ...last, last: s };
  else ranges.push({ first: s, last: s });
}

function rangeText(r: SlotRange): string {
  return r.first === r.last ? String(r.first) : `${r.first}-${r.last}`;
}

/**
 * twemproxy's default ring name for a shard: its first node's address as
 * written (after `${ENV}` expansion), without the port when it is 11211.
 * Reads the node again from the YAML (load.ts keeps only the normalised
 * address, which lower-cases host names); the shard is valid, so this
 * re-read reports nothing new.
 */
function defaultRingName(src: Source, shardsEntry: Entry, shard: ShardConfig): string {
  const first = shard.nodes[0];
  let written = first.address.text;
  const entry = src.readMap(shardsEntry, { keys: null })?.get(shard.name);
  const nodes = entry && src.readMap(entry, { keys: null })?.get("nodes");
  const item = nodes && src.readList(nodes, "a list of nodes")?.[0];
  const slot = item && src.kindOf(item) === "map"
    ? src.readMap(item, { keys: null })?.get("address")
    : item;
  const text = slot && src.readScalar(slot, `"host:port"`, (t) => t)?.value;
  if (typeof text === "string") written = text;
  return first.address.port === KETAMA_DEFAULT_PORT
    ? written.slice(0, written.lastIndexOf(":"))
    : written;
}

function readEntry(
  src: Source,
  item: Slot,
  distribution: RouterDistribution,
): EntryRead | undefined {
  const kind = src.kindOf(item);
  if (kind !== "map") {
    const shard = src.readString(item);
    if (shard === undefined) return undefined;
    if (distribution === "slots") {
      src.issue(item.pos, item.path, `expected { shard, slots } with distribution: slots`);
    }
    return { shard, name: undefined, weight: DEFAULT_ROUTER_WEIGHT, slots: undefined };
  }
  const map = src.readMap(item, { keys: ENTRY_KEYS });
  if (map === undefined) return undefined;
  const shardEntry = map.get("shard");
  if (shardEntry === undefined) {
    src.issue(item.pos, item.path, `missing required key "shard"`);
    return undefined;
  }
  const shard = src.readString(shardEntry);
  const nameEntry = map.get("name");
  const weightEntry = map.get("weight");
  const slotsEntry = map.get("slots");
  for (const e of [nameEntry, weightEntry]) {
    if (e !== undefined && distribution === "slots") src.issue(e.keyPos, e.path, KETAMA_ONLY);
  }
  if (slotsEntry !== undefined && distribution === "ketama") {
    src.issue(slotsEntry.keyPos, slotsEntry.path, SLOTS_ONLY);
  }
  if (slotsEntry === undefined && distribution === "slots") {
    src.issue(item.pos, item.path, `missing required key "slots"`);
  }
  const name = nameEntry && distribution === "ketama" ? src.readString(nameEntry) : undefined;
  const weight = weightEntry && distribution === "ketama" ? src.readInt(weightEntry, 1) : undefined;
  const slots = slotsEntry && distribution === "slots" ? readSlots(src, slotsEntry) : undefined;
  if (shard === undefined) return undefined;
  return { shard, name, weight: weight?.value ?? DEFAULT_ROUTER_WEIGHT, slots };
}

/** Checks that every slot belongs to exactly one entry. */
function checkSlotCoverage(src: Source, shardsEntry: Entry, entries: readonly EntryRead[]): void {
  const owner = new Int32Array(CLUSTER_SLOTS).fill(-1);
  let complete = true;
  for (const [i, e] of entries.entries()) {
    if (e.slots === undefined) {
      complete = false;
      continue;
    }
    for (const r of e.slots) {
      /** Slots of this range that an earlier entry owns, by that entry's index. */
      const taken = new Map<number, SlotRange[]>();
      for (let s = r.value.first; s <= r.value.last; s++) {
        const by = owner[s];
        if (by < 0) {
          owner[s] = i;
          continue;
        }
        const ranges = taken.get(by) ?? [];
        appendSlot(ranges, s);
        taken.set(by, ranges);
      }
      for (const [by, ranges] of taken) {
        src.issue(
          r.pos,
          r.path,
          `slots ${ranges.map(rangeText).join(",")} already belong to shard ` +
            `"${entries[by].shard.value}" (${shardsEntry.path}[${by}])`,
        );
      }
    }
  }
  if (!complete) return;
  const missing: SlotRange[] = [];
  for (let s = 0; s < CLUSTER_SLOTS; s++) {
    if (owner[s] >= 0) continue;
    appendSlot(missing, s);
  }
  if (missing.length > 0) {
    src.issue(
      shardsEntry.pos,
      shardsEntry.path,
      `slots ${missing.map(rangeText).join(",")} belong to no shard ` +
        `(each slot 0..${CLUSTER_SLOTS - 1} needs exactly one)`,
    );
  }
}

function readRouter(
  src: Source,
  entry: Entry,
  shards: ReadonlyMap<string, ShardConfig>,
  shardNames: readonly string[],
  shardsEntry: Entry | undefined,
  listeners: Listener[],
): RouterConfig | undefined {
  const name = entry.key;
  src.checkName(entry, "router");
  const map = src.readMap(entry, { keys: ROUTER_KEYS, hints: ROUTER_HINTS }, "a router (a map)");
  if (map === undefined) return undefined;
  src.requireKeys(entry, map, ["listen", "shards"]);
  const listenEntry = map.get("listen");
  const listen = listenEntry && src.readAddress(listenEntry, true);
  const allowEntry = map.get("allow_remote");
  const allowRemote = (allowEntry && src.readBool(allowEntry))?.value ?? false;
  if (listen !== undefined) {
    listeners.push({
      address: listen,
      allowRemote,
      allowHint: `set allow_remote: true in router "${name}" to listen on it`,
    });
  }
  const distEntry = map.get("distribution");
  const distribution = (distEntry && src.readEnum(distEntry, DISTRIBUTIONS))?.value ??
    DEFAULT_ROUTER_DISTRIBUTION;
  const hashEntry = map.get("hash");
  const tagEntry = map.get("hash_tag");
  for (const e of [hashEntry, tagEntry]) {
    if (e !== undefined && distribution === "slots") src.issue(e.keyPos, e.path, KETAMA_ONLY);
  }
  const ketama = distribution === "ketama";
  const hashRead = ketama && hashEntry ? src.readEnum(hashEntry, ROUTER_HASHES) : undefined;
  const hash = hashRead?.value ?? DEFAULT_ROUTER_HASH;
  const tag = ketama && tagEntry
    ? src.readScalar(tagEntry, `two characters in quotes, e.g. "{}"`, (text) => {
      if (!/^[\x21-\x7e]{2}$/.test(text)) {
        throw new SafeMessage(`must be exactly two characters, e.g. "{}"`);
      }
      return text;
    }, { nullable: true })
    : undefined;
  const readsEntry = map.get("reads");
  const reads = (readsEntry && src.readEnum(readsEntry, READS))?.value ?? DEFAULT_ROUTER_READS;

  const listEntry = map.get("shards");
  const items = listEntry &&
    src.readList(listEntry, `a list of shards (names or { shard, name, weight, slots })`);
  if (listEntry !== undefined && items !== undefined && items.length === 0) {
    src.issue(listEntry.pos, listEntry.path, "must list at least one shard");
  }
  const entries: EntryRead[] = [];
  const out: RouterShardConfig[] = [];
  const seenShards = new Map<string, string>();
  const seenNames = new Map<string, string>();
  let allRead = true;
  for (const item of items ?? []) {
    const e = readEntry(src, item, distribution);
    if (e === undefined) {
      allRead = false;
      continue;
    }
    const { value: shardName, pos, path } = e.shard;
    const firstAt = seenShards.get(shardName);
    if (firstAt !== undefined) {
      src.issue(pos, path, `shard "${shardName}" is listed twice (also ${firstAt})`);
      allRead = false;
      continue;
    }
    seenShards.set(shardName, item.path);
    entries.push(e);
    if (!shardNames.includes(shardName)) {
      const near = suggestKey(shardName, shardNames);
      src.issue(
        pos,
        path,
        `unknown shard "${shardName}"${near === undefined ? "" : ` (did you mean "${near}"?)`}`,
      );
      allRead = false;
      continue;
    }
    const shard = shards.get(shardName);
    if (shard === undefined || shard.nodes.length === 0 || shardsEntry === undefined) {
      allRead = false; // the shard has its own issues
      continue;
    }
    const ringName = e.name?.value ?? defaultRingName(src, shardsEntry, shard);
    if (ketama) {
      const where = e.name ?? e.shard;
      const other = seenNames.get(ringName);
      if (other !== undefined) {
        src.issue(
          where.pos,
          where.path,
          `ring name "${ringName}" is also used by ${other}; ketama names must differ`,
        );
      }
      seenNames.set(ringName, item.path);
    }
    out.push({
      shard: shardName,
      name: ringName,
      weight: e.weight,
      slots: e.slots?.map((r) => r.value) ?? [],
    });
  }
  if (ketama && allRead && items !== undefined && items.length > 0) {
    // twemproxy formats "<name>-<i>" (i < 40 * shards) into KETAMA_MAX_HOSTLEN bytes.
    const maxIndex = NAMES_PER_SERVER * items.length - 1;
    const limit = ketamaNameLimit(maxIndex);
    for (const [i, s] of out.entries()) {
      const bytes = new TextEncoder().encode(s.name).length;
      if (bytes <= limit) continue;
      const where = entries[i].name ?? entries[i].shard;
      src.issue(
        where.pos,
        where.path,
        `ring name "${s.name}" is ${bytes} bytes; twemproxy's ketama takes at most ${limit} ` +
          `with ${items.length} shards (give a shorter name)`,
      );
    }
  }
  if (!ketama && listEntry !== undefined && allRead && entries.length > 0) {
    checkSlotCoverage(src, listEntry, entries);
  }
  if (listen === undefined || listEntry === undefined) return undefined;
  return {
    name,
    listen: listen.value,
    allowRemote,
    distribution,
    hash,
    hashTag: ketama ? tag?.value ?? null : "{}",
    reads,
    shards: out,
  };
}

/**
 * Reads the `routers` map. `shards` are the valid shards, `shardNames` every
 * shard key in the file (a shard with problems of its own is not "unknown").
 * Router listen addresses are added to `listeners` for the clash and
 * loopback checks.
 */
export function readRouters(
  src: Source,
  entry: Entry,
  shards: readonly ShardConfig[],
  shardsEntry: Entry | undefined,
  listeners: Listener[],
): RouterConfig[] {
  const map = src.readMap(entry, { keys: null }, "a map of router name to router");
  if (map === undefined) return [];
  const shardNames = shardsEntry === undefined
    ? []
    : [...(src.readMap(shardsEntry, { keys: null }) ?? new Map()).keys()];
  const byName = new Map(shards.map((s) => [s.name, s]));
  const routers: RouterConfig[] = [];
  for (const routerEntry of map.values()) {
    const router = readRouter(src, routerEntry, byName, shardNames, shardsEntry, listeners);
    if (router !== undefined) routers.push(router);
  }
  return routers;
}
