/**
 * Byte buffers on the data path: copies that make no view, and short-lived
 * buffers cut from shared slabs. A `new Uint8Array(n)` of
 * more than 64 bytes is a native allocation that is freed only by a
 * garbage collection; on the split-and-merge path (a router's MGET: the
 * parts' frames, their replies, the merged reply) those dominated the
 * proxy's CPU. Views of one slab cost a JS object each; the slab is freed
 * once no view of it is left.
 *
 * ```
 * slab (SLAB_BYTES) [ part frames | reply | merged reply | ... free ]
 *                                                          ^ next view
 * ```
 *
 * @module
 */

import { SLAB_BYTES } from "./limits.ts";

/** Larger requests get a buffer of their own (a slab is not pinned by a few big views). */
const SLAB_MAX_VIEW = SLAB_BYTES / 8;

let slab = new Uint8Array(SLAB_BYTES);
let used = 0;

/** `n` bytes of writable memory, not zeroed (the caller fills all of it). */
export function slabBytes(n: number): Uint8Array {
  if (n > SLAB_MAX_VIEW) return new Uint8Array(n);
  if (used + n > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    used = 0;
  }
  const view = slab.subarray(used, used + n);
  used += n;
  return view;
}

/** A copy of `src[start, end)` that outlives `src`'s reuse. */
export function slabCopy(src: Uint8Array, start: number, end: number): Uint8Array {
  const out = slabBytes(end - start);
  copyBytes(out, 0, src, start, end);
  return out;
}

/** Below this many bytes a plain loop beats `set(subarray())` (no view allocated). */
const SMALL_COPY = 64;

/** Copies `src[start, end)` into `dst` at `at`. */
export function copyBytes(
  dst: Uint8Array,
  at: number,
  src: Uint8Array,
  start: number,
  end: number,
): void {
  const n = end - start;
  if (n <= SMALL_COPY) {
    for (let i = 0; i < n; i++) dst[at + i] = src[start + i];
  } else {
    dst.set(n === src.length ? src : src.subarray(start, end), at);
  }
}

/** True when `a` and `b` hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
