/**
 * A predictable distribution for unit tests: a key ending in the digit d
 * is on shard d % 3 of `users`, `sessions`, `orders`.
 *
 * @module
 */

import type { KeyDistribution } from "./distribution.ts";

/** The test shards, by index. */
export const TEST_SHARDS: readonly string[] = ["users", "sessions", "orders"];

/** Shard index of `key[start..end)` by its last digit. */
export function byLastDigit(key: Uint8Array, _start = 0, end: number = key.length): number {
  return (key[end - 1] - 48) % TEST_SHARDS.length;
}

/** {@link byLastDigit} as a distribution over {@link TEST_SHARDS}. */
export const LAST_DIGIT: KeyDistribution = { shards: TEST_SHARDS, shardOf: byLastDigit };
