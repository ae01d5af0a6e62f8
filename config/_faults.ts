/**
 * The top-level `faults:` list: fault injection rules for rehearsing
 * failures (Envoy redis_proxy's `faults`, scoped further).
 *
 * ```yaml
 * faults:
 *   - { shard: users, role: readers, commands: [get], kind: error, percent: 10, error: "ERR rehearsal" }
 *   - { shard: users, kind: delay, delay: 10ms-50ms, percent: 20 }
 *   - { shard: users, node: 10.0.0.2:6379, kind: blackhole }
 * ```
 *
 * Scope keys (`shard`, `role`, `node`, `commands`) are optional; a rule
 * without them matches every command. `kind` is required; `percent`
 * defaults to DEFAULT_FAULT_PERCENT; `delay` is required for (and only
 * allowed with) `kind: delay`, `error` only with `kind: error`.
 *
 * @module
 */

import { DEFAULT_FAULT_ERROR, DEFAULT_FAULT_PERCENT } from "./defaults.ts";
import { parseDuration } from "./duration.ts";
import type { FaultConfig, FaultKind, FaultRole, ShardConfig } from "./types.ts";
import { type Entry, SafeMessage, type Slot, type Source } from "./_yaml.ts";

const FAULT_KEYS = ["shard", "role", "node", "commands", "kind", "percent", "delay", "error"];
const KINDS: readonly FaultKind[] = ["delay", "error", "drop", "blackhole"];
const ROLES: readonly FaultRole[] = ["readers", "writer", "router"];
/** A command name as the command table spells it (`get`, `client|setname`), any case. */
const COMMAND = /^[A-Za-z][A-Za-z0-9_-]*(\|[A-Za-z][A-Za-z0-9_-]*)?$/;

/** `50ms` → [50, 50]; `10ms-50ms` → [10, 50]. */
function parseDelay(text: string): [number, number] {
  const dash = text.indexOf("-");
  if (dash < 0) {
    const ms = parseDuration(text);
    if (ms === 0) throw new SafeMessage("must be more than 0");
    return [ms, ms];
  }
  const lo = parseDuration(text.slice(0, dash).trim());
  const hi = parseDuration(text.slice(dash + 1).trim());
  if (hi < lo) throw new SafeMessage(`the range ${text} runs backwards`);
  if (hi === 0) throw new SafeMessage("must be more than 0");
  return [lo, hi];
}

function readCommands(src: Source, entry: Entry): string[] | undefined {
  const items = src.kindOf(entry) === "list" ? src.readList(entry, "a list of commands") : [entry];
  if (items === undefined) return undefined;
  if (items.length === 0) {
    src.issue(entry.pos, entry.path, "must list at least one command (leave it out for all)");
    return undefined;
  }
  const out: string[] = [];
  for (const item of items) {
    const name = src.readScalar(item, "a command name, e.g. get", (text) => {
      if (!COMMAND.test(text)) throw new Error("");
      return text.toLowerCase();
    });
    if (name?.value === undefined || name.value === null) return undefined;
    out.push(name.value);
  }
  return out;
}

function readRule(
  src: Source,
  item: Slot,
  shards: readonly ShardConfig[],
): FaultConfig | undefined {
  const map = src.readMap(item, { keys: FAULT_KEYS }, "a fault rule (a map)");
  if (map === undefined) return undefined;
  let ok = true;
  const shardEntry = map.get("shard");
  const shardName = shardEntry && src.readString(shardEntry);
  if (shardEntry !== undefined && shardName === undefined) ok = false;
  const shard = shardName === undefined
    ? undefined
    : shards.find((s) => s.name === shardName.value);
  if (shardName !== undefined && shard === undefined) {
    src.issue(shardName.pos, shardName.path, `no shard called "${shardName.value}"`);
    ok = false;
  }
  const roleEntry = map.get("role");
  const role = roleEntry && src.readEnum(roleEntry, ROLES);
  if (roleEntry !== undefined && role === undefined) ok = false;
  const nodeEntry = map.get("node");
  const node = nodeEntry && src.readString(nodeEntry);
  if (nodeEntry !== undefined && node === undefined) ok = false;
  if (node !== undefined) {
    const within = shard === undefined ? shards : [shard];
    if (!within.some((s) => s.nodes.some((n) => n.id === node.value))) {
      src.issue(
        node.pos,
        node.path,
        `no node ${node.value} in ${
          shard === undefined ? "any shard" : `shard "${shard.name}"`
        } (write it as in the shard's nodes)`,
      );
      ok = false;
    }
  }
  const commandsEntry = map.get("commands");
  const commands = commandsEntry && readCommands(src, commandsEntry);
  if (commandsEntry !== undefined && commands === undefined) ok = false;
  const kindEntry = map.get("kind");
  if (kindEntry === undefined) {
    src.issue(item.pos, item.path, `missing required key "kind" (${KINDS.join(", ")})`);
    return undefined;
  }
  const kind = src.readEnum(kindEntry, KINDS);
  if (kind === undefined) return undefined;
  const percentEntry = map.get("percent");
  const percent = percentEntry && src.readNumber(percentEntry, 0, 100);
  if (percentEntry !== undefined && percent === undefined) ok = false;

  const delayEntry = map.get("delay");
  let delay: [number, number] = [0, 0];
  if (kind.value === "delay") {
    if (delayEntry === undefined) {
      src.issue(item.pos, item.path, `missing required key "delay" (e.g. 50ms, or 10ms-50ms)`);
      ok = false;
    } else {
      const d = src.readScalar(delayEntry, "a delay (e.g. 50ms, or a range 10ms-50ms)", parseDelay);
      if (d?.value === undefined || d.value === null) ok = false;
      else delay = d.value;
    }
  } else if (delayEntry !== undefined) {
    src.issue(delayEntry.keyPos, delayEntry.path, `only valid with kind: delay`);
    ok = false;
  }
  const errorEntry = map.get("error");
  let error: string | null = null;
  if (kind.value === "error") {
    error = DEFAULT_FAULT_ERROR;
    if (errorEntry !== undefined) {
      const e = src.readScalar(errorEntry, `an error text, e.g. "ERR rehearsal"`, (text) => {
        if (text === "") throw new SafeMessage("must not be empty");
        if (/[\r\n]/.test(text)) throw new SafeMessage("must be one line");
        if (text.startsWith("-")) {
          throw new SafeMessage(`write it without the leading "-" (e.g. "ERR rehearsal")`);
        }
        return text;
      });
      if (e?.value === undefined || e.value === null) ok = false;
      else error = e.value;
    }
  } else if (errorEntry !== undefined) {
    src.issue(errorEntry.keyPos, errorEntry.path, `only valid with kind: error`);
    ok = false;
  }
  if (!ok) return undefined;
  return {
    shard: shard?.name ?? null,
    role: role?.value ?? null,
    node: node?.value ?? null,
    commands: commands ?? null,
    kind: kind.value,
    percent: percent?.value ?? DEFAULT_FAULT_PERCENT,
    delayMs: delay[0],
    delayMaxMs: delay[1],
    error,
  };
}

/** Reads the top-level `faults:` list (after the shards it names). */
export function readFaults(
  src: Source,
  entry: Entry,
  shards: readonly ShardConfig[],
): FaultConfig[] {
  if (src.kindOf(entry) === "null") return [];
  const items = src.readList(entry, "a list of fault rules ({ shard, kind, percent, … })");
  if (items === undefined) return [];
  const out: FaultConfig[] = [];
  for (const item of items) {
    const rule = readRule(src, item, shards);
    if (rule !== undefined) out.push(rule);
  }
  return out;
}
