/**
 * Key → shard: a router's {@link KeyDistribution}, built from its config.
 *
 * - `ketama`: the optional `hash_tag` narrows the key as twemproxy does,
 *   the key is hashed with the router's `hash`, and the continuum picks the
 *   shard. An empty key hashes to 0, as in nutcracker 0.5 (checked against
 *   it in tests/router_nutcracker_test.ts).
 * - `slots`: Redis Cluster's slot of the key picks the shard from the
 *   config's slot table.
 *
 * A shard is identified by its index in the router's `shards` list. Keys
 * never move to another shard when one is down (twemproxy's auto-eject
 * reshuffle is left out on purpose).
 *
 * @module
 */

import { CLUSTER_SLOTS, RING_MOVE_SAMPLE_KEYS } from "../config/defaults.ts";
import type { RouterConfig } from "../config/types.ts";
import { HASHES, type KeyHash } from "./hash.ts";
import { KetamaContinuum, type KetamaServer } from "./ketama.ts";
import { keySlot } from "./slots.ts";
import { findTag, tagEnd } from "./_tag.ts";

/** Maps keys to the shards of one router. */
export interface KeyDistribution {
  /** Shard names by index (the router's `shards` order). */
  readonly shards: readonly string[];
  /** Index in {@link KeyDistribution.shards} of the shard that owns `key[start..end)`. */
  shardOf(key: Uint8Array, start?: number, end?: number): number;
}

/** A ketama ring over shards, with twemproxy's key hash and hash tag. */
export class KetamaDistribution implements KeyDistribution {
  readonly shards: readonly string[];
  readonly #continuum: KetamaContinuum;
  readonly #hash: KeyHash;
  readonly #left: number;
  readonly #right: number;

  /**
   * @param servers the shards in order, each with its ring name and weight
   * @param hash the key hash
   * @param hashTag two printable ASCII characters, or null for none
   */
  constructor(
    servers: readonly (KetamaServer & { readonly shard: string })[],
    hash: KeyHash,
    hashTag: string | null,
  ) {
    if (hashTag !== null && (hashTag.length !== 2 || /[^\x20-\x7e]/.test(hashTag))) {
      throw new RangeError(
        `hash tag ${JSON.stringify(hashTag)} is not two printable ASCII characters`,
      );
    }
    this.shards = servers.map((s) => s.shard);
    this.#continuum = new KetamaContinuum(servers);
    this.#hash = hash;
    this.#left = hashTag === null ? -1 : hashTag.charCodeAt(0);
    this.#right = hashTag === null ? -1 : hashTag.charCodeAt(1);
  }

  /** The shard index of `key[start..end)`. */
  shardOf(key: Uint8Array, start = 0, end: number = key.length): number {
    let from = start;
    let to = end;
    if (this.#left >= 0) {
      const tag = findTag(key, start, end, this.#left, this.#right);
      if (tag >= 0) {
        from = tag;
        to = tagEnd();
      }
    }
    return this.#continuum.dispatch(to > from ? this.#hash(key, from, to) : 0);
  }
}

/** Redis Cluster slots over shards, from an explicit slot → shard table. */
export class SlotsDistribution implements KeyDistribution {
  readonly shards: readonly string[];
  readonly #owner: Uint16Array;

  /**
   * @param shards shard names by index
   * @param owner for each of the 16384 slots, the index of its shard
   */
  constructor(shards: readonly string[], owner: Uint16Array) {
    if (owner.length !== CLUSTER_SLOTS) {
      throw new RangeError(`a slot table has ${CLUSTER_SLOTS} entries, not ${owner.length}`);
    }
    for (const i of owner) {
      if (i >= shards.length) throw new RangeError(`slot owner ${i} is not a shard index`);
    }
    this.shards = [...shards];
    this.#owner = owner;
  }

  /** The shard index of `key[start..end)`. */
  shardOf(key: Uint8Array, start = 0, end: number = key.length): number {
    return this.#owner[keySlot(key, start, end)];
  }
}

/** Builds the distribution a validated router config describes. */
export function createDistribution(router: RouterConfig): KeyDistribution {
  if (router.distribution === "ketama") {
    return new KetamaDistribution(router.shards, HASHES[router.hash], router.hashTag);
  }
  const owner = new Uint16Array(CLUSTER_SLOTS);
  const covered = new Uint8Array(CLUSTER_SLOTS);
  for (const [index, shard] of router.shards.entries()) {
    for (const range of shard.slots) {
      for (let s = range.first; s <= range.last; s++) {
        owner[s] = index;
        covered[s] = 1;
      }
    }
  }
  const gap = covered.indexOf(0);
  if (gap >= 0) throw new RangeError(`router "${router.name}": slot ${gap} belongs to no shard`);
  return new SlotsDistribution(router.shards.map((s) => s.shard), owner);
}

const utf8 = new TextEncoder();

/** `count` deterministic sample keys (`key:0`, `key:1`, …) for measuring ring changes. */
export function sampleKeys(count: number = RING_MOVE_SAMPLE_KEYS): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => utf8.encode(`key:${i}`));
}

/**
 * How many of `keys` map to a shard of another name under `next` than under
 * `prev`: the "N of 10,000 sample keys moved" of a reload log line.
 */
export function ringMoves(
  prev: KeyDistribution,
  next: KeyDistribution,
  keys: readonly Uint8Array[] = sampleKeys(),
): number {
  let moved = 0;
  for (const key of keys) {
    if (prev.shards[prev.shardOf(key)] !== next.shards[next.shardOf(key)]) moved++;
  }
  return moved;
}
