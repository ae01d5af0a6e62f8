/**
 * The hash-tag rule twemproxy (`hash_tag`) and Redis Cluster (`{…}`) share:
 * find the first `left` byte, then the first `right` byte after it; when
 * both are there with at least one byte between, only those bytes are
 * hashed, otherwise the whole key is (so `{}` hashes the whole key, as both
 * do). Allocation-free: the span is left in module state.
 *
 * @module
 */

let spanEnd = 0;

/**
 * Looks for a tag in `key[start..end)`. Returns the offset of the tag's
 * first byte and makes {@link tagEnd} return the offset just past its last
 * one; returns -1 when the whole key is to be hashed.
 */
export function findTag(
  key: Uint8Array,
  start: number,
  end: number,
  left: number,
  right: number,
): number {
  let l = start;
  while (l < end && key[l] !== left) l++;
  if (l >= end) return -1;
  let r = l + 1;
  while (r < end && key[r] !== right) r++;
  if (r >= end || r === l + 1) return -1;
  spanEnd = r;
  return l + 1;
}

/** End of the tag found by the last successful {@link findTag}. */
export function tagEnd(): number {
  return spanEnd;
}
