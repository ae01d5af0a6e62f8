/**
 * Zones in the config: the sidecar's own `zone:` (top level) and a node's
 * `{ address, zone }`. Reading and validating them, and what a reload
 * changes about them (for the reload summary; a shard whose zones changed
 * is updated in place, nothing is closed).
 *
 * @module
 */

import { MAX_ZONE_LENGTH } from "./defaults.ts";
import { type Located, SafeMessage, type Slot, type Source } from "./_yaml.ts";
import type { ShardConfig } from "./types.ts";

const ZONE_CHARS = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** What a zone name may be, for messages. */
const ZONE_WHAT = `a zone name (letters, digits, ".", "_", ":", "-"; e.g. us-east-1a)`;

/**
 * Reads a zone name. `null`, `~` and the empty string (e.g.
 * `${AZ:-}` with AZ unset) mean "no zone" and give null.
 */
export function readZone(src: Source, slot: Slot): Located<string | null> | undefined {
  return src.readScalar(slot, ZONE_WHAT, (text) => {
    if (text === "") return null;
    if (text.length > MAX_ZONE_LENGTH) {
      throw new SafeMessage(`zone name longer than ${MAX_ZONE_LENGTH} characters`);
    }
    if (!ZONE_CHARS.test(text)) throw new Error("");
    return text;
  }, { nullable: true });
}

/**
 * The reload summary's parts for zone changes of one shard: the sidecar's
 * zone as the shard sees it, and the zone of each node in both configs.
 */
export function zoneChanges(prev: ShardConfig, next: ShardConfig): string[] {
  const parts: string[] = [];
  const show = (z: string | null | undefined) => z ?? "none";
  if ((prev.zone ?? null) !== (next.zone ?? null)) {
    parts.push(`zone ${show(prev.zone)}→${show(next.zone)}`);
  }
  const before = new Map(prev.nodes.map((n) => [n.id, n]));
  for (const n of next.nodes) {
    const old = before.get(n.id);
    if (old === undefined || (old.zone ?? null) === (n.zone ?? null)) continue;
    parts.push(`zone ${n.id} ${show(old.zone)}→${show(n.zone)}`);
  }
  return parts;
}
