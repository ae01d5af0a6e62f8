/**
 * twemproxy's ketama continuum (`src/hashkit/nc_ketama.c`), byte for byte:
 *
 * 1. Each server gets `floorf(pct * 160 / 4 * n + 1e-10) * 4` points, where
 *    `pct = weight / total_weight` and every step is C `float` arithmetic
 *    (the `1e-10` is a `double`: the sum is rounded back to `float`). With
 *    equal weights that is 160 points each; float rounding makes it 156 for
 *    some server counts (25, 47, 50…), and this keeps that.
 * 2. For i in 0..points/4-1, `md5("<name>-<i>")` gives four points: the
 *    digest's little-endian 32-bit words 0..3.
 * 3. Points are sorted by value; a key hash maps to the server of the first
 *    point `>=` the hash, wrapping around to the first point.
 *
 * The server name is the configured one, or twemproxy's default (`host:port`,
 * just `host` when the port is 11211). twemproxy formats the point name into
 * an 86-byte buffer and hashes beyond it when it is longer; such names are
 * refused here (and by config validation) instead.
 *
 * Python's uhashring (`HashRing(nodes, hash_fn="ketama")`, defaults vnodes=40,
 * replicas=4) builds the same continuum for `hash: md5` — verified by
 * reading its source (uhashring/ring_ketama.py, ring.py at
 * github.com/ultrabug/uhashring), not by running it (PyPI is unreachable here):
 *
 * - key hash: `md5(str(key).encode("utf-8"))`, digest bytes 0..3 little-endian:
 *   twemproxy's `hash_md5` over the key's UTF-8 bytes (str keys only: a
 *   Python `bytes` key is hashed as its repr, `b'...'`);
 * - points: `ks = vnodes * len(nodes) * weight // weight_sum` names
 *   `f"{node}-{w}"` for w in range(ks), 4 digest words each: the same names
 *   and words. The count is integer floor division instead of twemproxy's
 *   float formula; ketama_test.ts checks both agree for every 1..8-shard
 *   ring with weights 1..5, and shows where they part (25 equal shards:
 *   twemproxy 156 points each, uhashring 160);
 * - lookup: `bisect` (bisect_right) finds the first point `>` the hash where
 *   twemproxy takes `>=`: they differ only for a key whose hash equals a point
 *   exactly (about 1 key in 2^32 / points); a point value shared by two nodes
 *   goes to the last one inserted in uhashring, to either in twemproxy's
 *   unstable qsort.
 *
 * @module
 */

import { KETAMA_POINTS_PER_SERVER, ketamaNameLimit } from "../config/defaults.ts";
import { md5Words } from "./_md5.ts";

/** One server (a shard) on a ketama ring. */
export interface KetamaServer {
  /** Ring name: what the point names are made of. */
  readonly name: string;
  /** Relative weight, an integer >= 1. */
  readonly weight: number;
}

/** Points made from one md5 digest (its four 32-bit words). */
const POINTS_PER_HASH = 4;
/** twemproxy adds this `double` before flooring (nc_ketama.c). */
const KETAMA_EPSILON = 0.0000000001;

const utf8 = new TextEncoder();

/**
 * How many points twemproxy gives a server of `weight` out of `totalWeight`
 * among `servers` live servers, with its `float` arithmetic.
 */
export function ketamaPointCount(weight: number, totalWeight: number, servers: number): number {
  const f = Math.fround;
  const pct = f(f(weight) / f(totalWeight));
  const perHashes = f(f(f(pct * KETAMA_POINTS_PER_SERVER) / POINTS_PER_HASH) * f(servers));
  const floored = Math.floor(f(perHashes + KETAMA_EPSILON));
  return f(floored * POINTS_PER_HASH) >>> 0;
}

/**
 * The four points of `md5("<name>-<index>")` (ketama_hash with alignment
 * 0..3), e.g. for checking published vectors.
 */
export function ketamaPoints(name: string, index: number): [number, number, number, number] {
  const bytes = utf8.encode(`${name}-${index}`);
  const w = md5Words(bytes, 0, bytes.length);
  return [w[0] >>> 0, w[1] >>> 0, w[2] >>> 0, w[3] >>> 0];
}

/** A built continuum: sorted points and the server index of each. */
export class KetamaContinuum {
  readonly #values: Uint32Array;
  readonly #owners: Uint32Array;
  readonly #servers: number;

  /**
   * Builds the continuum of `servers` (in order: a server's index is its
   * position). Throws RangeError for an empty list, a weight below 1, or a
   * name too long for twemproxy's point-name buffer.
   */
  constructor(servers: readonly KetamaServer[]) {
    if (servers.length === 0) throw new RangeError("a ketama ring needs at least one server");
    let total = 0;
    for (const s of servers) {
      if (!Number.isInteger(s.weight) || s.weight < 1) {
        throw new RangeError(`ketama server "${s.name}" has weight ${s.weight}; it must be >= 1`);
      }
      total += s.weight;
    }
    const counts = servers.map((s) => ketamaPointCount(s.weight, total, servers.length));
    const size = counts.reduce((a, b) => a + b, 0);
    const values = new Uint32Array(size);
    const owners = new Uint32Array(size);
    let at = 0;
    for (const [index, server] of servers.entries()) {
      const hashes = counts[index] / POINTS_PER_HASH;
      const limit = ketamaNameLimit(hashes - 1);
      if (utf8.encode(server.name).length > limit) {
        throw new RangeError(
          `ketama server name "${server.name}" is longer than ${limit} bytes (twemproxy's limit)`,
        );
      }
      for (let i = 0; i < hashes; i++) {
        const bytes = utf8.encode(`${server.name}-${i}`);
        const words = md5Words(bytes, 0, bytes.length);
        for (let w = 0; w < POINTS_PER_HASH; w++) {
          values[at] = words[w];
          owners[at] = index;
          at++;
        }
      }
    }
    const order = Array.from(values.keys()).sort((a, b) => values[a] - values[b]);
    this.#values = Uint32Array.from(order, (i) => values[i]);
    this.#owners = Uint32Array.from(order, (i) => owners[i]);
    this.#servers = servers.length;
  }

  /** Number of points on the continuum. */
  get size(): number {
    return this.#values.length;
  }

  /** Point `i` in sorted order: its value and the index of the server it belongs to. */
  point(i: number): { value: number; server: number } {
    return { value: this.#values[i], server: this.#owners[i] };
  }

  /**
   * The index of the server owning `hash` (unsigned 32-bit): the server of
   * the first point >= hash, or of the first point when none is
   * (ketama_dispatch). A one-server ring always answers 0.
   */
  dispatch(hash: number): number {
    if (this.#servers === 1) return 0;
    const values = this.#values;
    let left = 0;
    let right = values.length;
    while (left < right) {
      const middle = (left + right) >>> 1;
      if (values[middle] < hash) left = middle + 1;
      else right = middle;
    }
    return this.#owners[right === values.length ? 0 : right];
  }
}
