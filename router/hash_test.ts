import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { fnv1_64, fnv1a_64, HASH_NAMES, HASHES, one_at_a_time } from "./hash.ts";
import { md5Words } from "./_md5.ts";

const utf8 = new TextEncoder();

function bytes(text: string): Uint8Array {
  return utf8.encode(text);
}

/** A deterministic byte sequence (xorshift32), for inputs of every length. */
function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

Deno.test('HASHES match twemproxy\'s test_all.c vectors for "apple"', () => {
  // twemproxy src/test_all.c, test_hash_algorithms() (libmemcached's hash_results.h).
  const expected: Record<string, number> = {
    one_at_a_time: 2297466611,
    md5: 3195025439,
    crc16: 3662830516,
    crc32: 10542,
    crc32a: 2838417488,
    fnv1_32: 67176023,
    fnv1a_32: 280767167,
    fnv1_64: 473199127,
    fnv1a_64: 1488911807,
    hsieh: 3738850110,
    jenkins: 1442444624,
    murmur: 4142305122,
  };
  const key = bytes("apple");
  for (const name of HASH_NAMES) {
    assert.equal(HASHES[name](key, 0, key.length), expected[name], name);
  }
  assert.deepEqual([...HASH_NAMES].sort(), Object.keys(expected).sort());
});

Deno.test("md5Words() matches node:crypto for every length across block boundaries", () => {
  for (let length = 0; length <= 300; length++) {
    const input = noise(length, length + 7);
    const digest = createHash("md5").update(input).digest();
    const words = md5Words(input, 0, input.length);
    for (let w = 0; w < 4; w++) {
      assert.equal(words[w] >>> 0, digest.readUInt32LE(w * 4), `length ${length}, word ${w}`);
    }
  }
});

Deno.test("every hash reads only key[start..end) of a larger buffer", () => {
  for (let length = 0; length <= 40; length++) {
    const key = noise(length, 99 + length);
    const padded = new Uint8Array(length + 10).fill(0xa5);
    padded.set(key, 3);
    for (const name of HASH_NAMES) {
      const f = HASHES[name];
      assert.equal(f(padded, 3, 3 + length), f(key, 0, length), `${name}, length ${length}`);
    }
  }
});

/** twemproxy's FNV-1 64 in full 64-bit arithmetic (BigInt), with x86's signed chars. */
function fnv1_64Reference(key: Uint8Array): number {
  const mask = (1n << 64n) - 1n;
  let hash = 0xcbf29ce484222325n;
  for (const b of key) {
    hash = (hash * 0x100000001b3n) & mask;
    hash ^= BigInt.asUintN(64, BigInt((b << 24) >> 24));
  }
  return Number(hash & 0xffffffffn);
}

Deno.test("fnv1_64() equals the 64-bit computation truncated to 32 bits", () => {
  for (let length = 0; length <= 64; length++) {
    const key = noise(length, 1234 + length);
    assert.equal(fnv1_64(key, 0, key.length), fnv1_64Reference(key), `length ${length}`);
  }
});

Deno.test("fnv1a_64() and one_at_a_time() read bytes >= 0x80 as signed chars, as x86 twemproxy does", () => {
  // One byte 0xff: C sign-extends the char to 0xffffffff before the xor.
  const ff = Uint8Array.of(0xff);
  assert.equal(
    fnv1a_64(ff, 0, 1),
    Number(BigInt.asUintN(32, (0x84222325n ^ 0xffffffffn) * 0x1b3n)),
  );
  assert.notEqual(fnv1a_64(ff, 0, 1), Number(BigInt.asUintN(32, (0x84222325n ^ 0xffn) * 0x1b3n)));
  // one_at_a_time: value += (uint32_t)(char)0xff, i.e. -1, on the first step.
  let h = 0xffffffff;
  h = (h + (h << 10)) >>> 0;
  h = (h ^ (h >>> 6)) >>> 0;
  h = (h + (h << 3)) >>> 0;
  h = (h ^ (h >>> 11)) >>> 0;
  h = (h + (h << 15)) >>> 0;
  assert.equal(one_at_a_time(ff, 0, 1), h);
  // ASCII is unaffected: the vectors above cover it.
});
