/**
 * Zone affinity of reads: each node's zone (from the config's
 * `{ address, zone }`, else learned from the `availability_zone` the node
 * reports), where it is relative to the sidecar's own `zone:` (same, cross
 * or unknown), and a balancer that prefers the same zone.
 *
 * All of it is decided when routes are applied (health changes, reload, a
 * newly learned zone), never per command: {@link ShardZones.place} gives
 * each node its {@link LocalityCounter}, and {@link ZonedBalancer.reset}
 * splits the serving replicas into the local tier and the rest. Per read
 * the data path does one extra branch in `pick()` and `++` on the
 * answering node's counter.
 *
 * ```
 *   routes applied ──▶ place(): node → same | cross | unknown (its counter)
 *                  └─▶ reset(readers): [local tier] [other tier]
 *   pickReader ──▶ local tier (balanced) ──none──▶ other tier ──none──▶ primary …
 *   reply of a read ──▶ node.locality.reads++, .bytes += reply size
 * ```
 *
 * Without a sidecar zone every node is `unknown`, the local tier is empty
 * and picks are exactly the plain balancer's.
 *
 * @module
 */

import type { BalanceMode, NodeConfig } from "../config/types.ts";
import { type Balancer, type BalancerNode, createBalancer } from "./balancer.ts";

/** Where a node is relative to the sidecar, as array indexes. */
export const Locality = {
  /** In the sidecar's zone. */
  same: 0,
  /** In another zone. */
  cross: 1,
  /** The sidecar's or the node's zone is not known. */
  unknown: 2,
} as const;
/** One of the {@link Locality} values. */
export type Locality = typeof Locality[keyof typeof Locality];
/** A locality's label value. */
export type LocalityName = "same" | "cross" | "unknown";
/** Label values of the localities, by index. */
export const LOCALITY_NAMES: readonly LocalityName[] = ["same", "cross", "unknown"];

/** Reads answered by the nodes of one locality, counted by the data path with `++`. */
export class LocalityCounter {
  /** Which locality this counts. */
  readonly locality: Locality;
  /** Replies to read-only commands (hedges and retries included: each reply crossed). */
  reads = 0;
  /** Bytes of those replies. */
  bytes = 0;

  /** A counter for `locality`. */
  constructor(locality: Locality) {
    this.locality = locality;
  }
}

/** A balancer candidate that has a locality (the proxy's `Backend`). */
export interface ZonedNode extends BalancerNode {
  /** Its locality's counter, set by {@link ShardZones.place}. */
  locality: LocalityCounter;
}

/** A node as a zone-placed candidate needs it: id and config. */
export interface PlacedNode extends ZonedNode {
  /** Node id (`host:port`). */
  readonly id: string;
  /** Its config entry (its configured zone). */
  readonly config: NodeConfig;
}

/** Where a node's zone comes from. */
export type ZoneSource = "config" | "learned";

/** One node's zone in `/status`. */
export interface NodeZone {
  /** Node id. */
  readonly id: string;
  /** Its zone, or null when neither configured nor reported. */
  readonly zone: string | null;
  /** Where the zone comes from, or null. */
  readonly source: ZoneSource | null;
  /** Same, cross or unknown, relative to the sidecar's zone. */
  readonly locality: LocalityName;
}

/** A shard's zones for the admin port. */
export interface ZoneSnapshot {
  /** The sidecar's zone, or null. */
  readonly zone: string | null;
  /** Each node of the config, in config order. */
  readonly nodes: readonly NodeZone[];
  /** Replies to reads by locality (counters). */
  readonly reads: Readonly<Record<LocalityName, number>>;
  /** Bytes of those replies by locality (counters). */
  readonly bytes: Readonly<Record<LocalityName, number>>;
}

/**
 * The zones of one shard: the counters by locality, the zones nodes
 * reported, and the placement of nodes relative to the sidecar's zone.
 */
export class ShardZones {
  /** Counters by {@link Locality} index. */
  readonly counters: readonly LocalityCounter[] = LOCALITY_NAMES.map((_, i) =>
    new LocalityCounter(i as Locality)
  );
  #learned = new Map<string, string>();

  /**
   * Records the zone node `id` reported (`availability_zone`), or null when
   * it reports none. True when that changes the node's learned zone: the
   * caller re-applies the routes.
   */
  learn(id: string, zone: string | null): boolean {
    const old = this.#learned.get(id) ?? null;
    if (old === zone) return false;
    if (zone === null) this.#learned.delete(id);
    else this.#learned.set(id, zone);
    return true;
  }

  /** The zone of a node: configured wins over learned. */
  zoneOf(node: NodeConfig): { zone: string | null; source: ZoneSource | null } {
    if (node.zone) return { zone: node.zone, source: "config" };
    const learned = this.#learned.get(node.id);
    return learned === undefined
      ? { zone: null, source: null }
      : { zone: learned, source: "learned" };
  }

  /** Where a node is relative to the sidecar's zone `local`. */
  localityOf(node: NodeConfig, local: string | null | undefined): Locality {
    const zone = this.zoneOf(node).zone;
    if (!local || zone === null) return Locality.unknown;
    return zone === local ? Locality.same : Locality.cross;
  }

  /**
   * Gives every node its locality's counter (routes applied): what
   * {@link ZonedBalancer} splits by and the data path counts on.
   */
  place(nodes: Iterable<PlacedNode>, local: string | null | undefined): void {
    for (const n of nodes) n.locality = this.counters[this.localityOf(n.config, local)];
  }

  /** A snapshot for `/status` and `/metrics`. */
  snapshot(nodes: readonly NodeConfig[], local: string | null | undefined): ZoneSnapshot {
    const [same, cross, unknown] = this.counters;
    return {
      zone: local || null,
      nodes: nodes.map((n) => ({
        id: n.id,
        ...this.zoneOf(n),
        locality: LOCALITY_NAMES[this.localityOf(n, local)],
      })),
      reads: { same: same.reads, cross: cross.reads, unknown: unknown.reads },
      bytes: { same: same.bytes, cross: cross.bytes, unknown: unknown.bytes },
    };
  }
}

/**
 * Prefers candidates in the sidecar's zone: picks among them with the
 * configured balancer, and among the others (other zones, unknown zones)
 * only when no local one may be picked. `reset()` makes the split (routes
 * applied); `pick()` costs one branch more than the plain balancer, and
 * none when no candidate is local.
 */
export class ZonedBalancer<N extends ZonedNode> implements Balancer<N> {
  #mode: BalanceMode;
  #local: Balancer<N> | null = null;
  #other: Balancer<N>;

  /** A zoned balancer whose tiers balance by `mode`. */
  constructor(mode: BalanceMode) {
    this.#mode = mode;
    this.#other = createBalancer<N>(mode);
  }

  /** Splits the candidates into the local tier and the rest (scores of kept nodes are kept). */
  reset(nodes: readonly N[]): void {
    const local: N[] = [];
    const other: N[] = [];
    for (const n of nodes) (n.locality.locality === Locality.same ? local : other).push(n);
    if (local.length === 0) this.#local = null;
    else {
      this.#local ??= createBalancer<N>(this.#mode);
      this.#local.reset(local);
    }
    this.#other.reset(other);
  }

  /** A local candidate for which `skip` is not true, else any other, else undefined. */
  pick(skip?: (node: N) => boolean): N | undefined {
    const local = this.#local;
    if (local !== null) {
      const n = local.pick(skip);
      if (n !== undefined) return n;
    }
    return this.#other.pick(skip);
  }
}
