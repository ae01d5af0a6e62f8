import assert from "node:assert/strict";
import { KetamaContinuum, ketamaPointCount, ketamaPoints } from "./ketama.ts";

Deno.test("ketamaPoints() matches twemproxy's test_all.c vectors", () => {
  // test_all.c: ketama_hash("server1-8", 9, 0) and (…, 3).
  const points = ketamaPoints("server1", 8);
  assert.equal(points[0], 3853726576);
  assert.equal(points[3], 2667054752);
});

Deno.test("ketamaPointCount() keeps twemproxy's float arithmetic", () => {
  assert.equal(ketamaPointCount(1, 3, 3), 160);
  assert.equal(ketamaPointCount(1, 1, 1), 160);
  // float rounding of 1/25 * 160 / 4 * 25 lands just under 40: floorf gives 39.
  assert.equal(ketamaPointCount(1, 25, 25), 156);
  assert.equal(ketamaPointCount(1, 24, 24), 160);
  // weights 1, 2, 3 of 6 over 3 servers: 80, 160, 240 points.
  assert.deepEqual([1, 2, 3].map((w) => ketamaPointCount(w, 6, 3)), [80, 160, 240]);
  // weights 3 and 1 over 2 servers: pct 0.75 -> floor(60) * 4, pct 0.25 -> floor(20) * 4.
  assert.deepEqual([3, 1].map((w) => ketamaPointCount(w, 4, 2)), [240, 80]);
});

/** uhashring's point count (ring_ketama.py): vnodes * len(nodes) * weight // weight_sum names, 4 points each. */
function uhashringPointCount(weight: number, total: number, servers: number): number {
  return Math.floor((40 * servers * weight) / total) * 4;
}

Deno.test("ketamaPointCount() agrees with uhashring for 1..8 shards of weights 1..5, not for 25 equal shards", () => {
  let cases = 0;
  const weights = [1, 2, 3, 4, 5];
  for (let servers = 1; servers <= 8; servers++) {
    // The first three servers take every weight combination, the others weight 1.
    for (const a of weights) {
      for (const b of weights) {
        for (const c of weights) {
          const ws = [a, b, c, ...new Array<number>(Math.max(0, servers - 3)).fill(1)].slice(
            0,
            servers,
          );
          const total = ws.reduce((x, y) => x + y, 0);
          for (const w of ws) {
            cases++;
            assert.equal(
              ketamaPointCount(w, total, servers),
              uhashringPointCount(w, total, servers),
              `weights ${ws}`,
            );
          }
        }
      }
    }
  }
  assert.ok(cases > 2000);
  assert.equal(uhashringPointCount(1, 25, 25), 160);
  assert.notEqual(ketamaPointCount(1, 25, 25), uhashringPointCount(1, 25, 25));
});

Deno.test('KetamaContinuum holds 4 points per md5 of "<name>-<i>", sorted', () => {
  const ring = new KetamaContinuum([{ name: "server1", weight: 1 }, {
    name: "server2",
    weight: 1,
  }]);
  assert.equal(ring.size, 320);
  const values = Array.from({ length: ring.size }, (_, i) => ring.point(i).value);
  assert.deepEqual(values, [...values].sort((a, b) => a - b));
  const expected = new Set<number>();
  for (let i = 0; i < 40; i++) for (const p of ketamaPoints("server1", i)) expected.add(p);
  const ofServer1 = new Set(
    Array.from({ length: ring.size }, (_, i) => ring.point(i)).filter((p) => p.server === 0)
      .map((p) => p.value),
  );
  assert.deepEqual(ofServer1, expected);
});

Deno.test("KetamaContinuum.dispatch() takes the first point >= the hash, wrapping around", () => {
  const ring = new KetamaContinuum([
    { name: "a", weight: 1 },
    { name: "b", weight: 2 },
    { name: "c", weight: 1 },
  ]);
  for (let i = 0; i < ring.size; i++) {
    const { value, server } = ring.point(i);
    assert.equal(ring.dispatch(value), server);
    if (i > 0 && ring.point(i - 1).value < value) assert.equal(ring.dispatch(value - 1), server);
  }
  const last = ring.point(ring.size - 1).value;
  if (last < 0xffffffff) assert.equal(ring.dispatch(last + 1), ring.point(0).server);
  assert.equal(ring.dispatch(0), ring.point(0).server);
  assert.equal(new KetamaContinuum([{ name: "only", weight: 3 }]).dispatch(12345), 0);
});

Deno.test("KetamaContinuum refuses what twemproxy cannot hash the same way", () => {
  assert.throws(() => new KetamaContinuum([]), RangeError);
  assert.throws(() => new KetamaContinuum([{ name: "a", weight: 0 }]), RangeError);
  // 40 names per server with 2 servers: indexes up to 79, so 82 bytes of name fit in 85.
  new KetamaContinuum([{ name: "x".repeat(82), weight: 1 }, { name: "y", weight: 1 }]);
  assert.throws(
    () => new KetamaContinuum([{ name: "x".repeat(83), weight: 1 }, { name: "y", weight: 1 }]),
    /longer than 82 bytes/,
  );
});
