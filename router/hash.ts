/**
 * The key hash functions of twemproxy 0.5 (`src/hashkit/`), bit for bit,
 * so that a key lands on the shard it landed on behind twemproxy.
 *
 * Every function hashes the bytes `key[start..end)` and returns an unsigned
 * 32-bit integer. Two quirks of the C code are kept on purpose:
 *
 * - twemproxy reads keys as `const char *`, and `char` is signed on x86, so
 *   in `fnv1_64`, `fnv1a_64`, `fnv1_32`, `fnv1a_32`, `one_at_a_time` and the
 *   three-byte tail of `hsieh` a byte >= 0x80 enters the hash sign-extended
 *   (0xff becomes 0xffffffff). This changes where non-ASCII keys go.
 * - The "64-bit" FNV variants return `(uint32_t)` of the hash; `fnv1a_64`
 *   even runs in 32 bits with the 64-bit constants truncated. Both equal a
 *   32-bit computation with the low words of the 64-bit offset basis and
 *   prime, which is what is done here.
 *
 * `crc16` is twemproxy's, not Redis Cluster's slot CRC: same XMODEM table,
 * but the running value is a `uint32_t` that is never masked to 16 bits
 * (see slots.ts for the cluster one). `crc32` is libmemcached's variant
 * (bits 16..30 of the CRC); `crc32a` is the standard CRC-32.
 *
 * @module
 */

import type { RouterHash } from "../config/types.ts";
import { CRC16_TABLE, CRC32_TABLE } from "./_crc.ts";
import { md5Words } from "./_md5.ts";

/** A key hash: the bytes `key[start..end)` to an unsigned 32-bit integer. */
export type KeyHash = (key: Uint8Array, start: number, end: number) => number;

/** twemproxy's hash names (the `hash:` values of a pool; a ketama router's `hash`). */
export type HashName = RouterHash;

/** Low 32 bits of the 64-bit FNV offset basis 0xcbf29ce484222325. */
const FNV_64_INIT_LOW = 0x84222325;
/** Low 32 bits of the 64-bit FNV prime 0x100000001b3. */
const FNV_64_PRIME_LOW = 0x1b3;
const FNV_32_INIT = 0x811c9dc5;
const FNV_32_PRIME = 0x01000193;
const MURMUR_M = 0x5bd1e995;
const MURMUR_SEED = 0xdeadbeef;
const JENKINS_SEED = 0xdeadbeef;
/** libmemcached's `initval` for Bob Jenkins' lookup3. */
const JENKINS_INITVAL = 13;

/** A byte as x86 C reads a `char`: -128..127 (as a 32-bit pattern, 0xff is 0xffffffff). */
function signedByte(b: number): number {
  return (b << 24) >> 24;
}

/** twemproxy `fnv1_64` (truncated to 32 bits; signed chars). */
export function fnv1_64(key: Uint8Array, start: number, end: number): number {
  let hash = FNV_64_INIT_LOW;
  for (let i = start; i < end; i++) {
    hash = Math.imul(hash, FNV_64_PRIME_LOW) ^ signedByte(key[i]);
  }
  return hash >>> 0;
}

/** twemproxy `fnv1a_64`, its default (32-bit arithmetic; signed chars). */
export function fnv1a_64(key: Uint8Array, start: number, end: number): number {
  let hash = FNV_64_INIT_LOW;
  for (let i = start; i < end; i++) {
    hash = Math.imul(hash ^ signedByte(key[i]), FNV_64_PRIME_LOW);
  }
  return hash >>> 0;
}

/** twemproxy `fnv1_32` (signed chars). */
export function fnv1_32(key: Uint8Array, start: number, end: number): number {
  let hash = FNV_32_INIT;
  for (let i = start; i < end; i++) {
    hash = Math.imul(hash, FNV_32_PRIME) ^ signedByte(key[i]);
  }
  return hash >>> 0;
}

/** twemproxy `fnv1a_32` (signed chars). */
export function fnv1a_32(key: Uint8Array, start: number, end: number): number {
  let hash = FNV_32_INIT;
  for (let i = start; i < end; i++) {
    hash = Math.imul(hash ^ signedByte(key[i]), FNV_32_PRIME);
  }
  return hash >>> 0;
}

/** twemproxy `one_at_a_time`, Jenkins' one-at-a-time hash (signed chars). */
export function one_at_a_time(key: Uint8Array, start: number, end: number): number {
  let h = 0;
  for (let i = start; i < end; i++) {
    h = (h + signedByte(key[i])) | 0;
    h = (h + (h << 10)) | 0;
    h ^= h >>> 6;
  }
  h = (h + (h << 3)) | 0;
  h ^= h >>> 11;
  h = (h + (h << 15)) | 0;
  return h >>> 0;
}

/** twemproxy `md5`: the first four bytes of the MD5 digest, little-endian. */
export function md5(key: Uint8Array, start: number, end: number): number {
  return md5Words(key, start, end)[0] >>> 0;
}

/** twemproxy `crc16`: XMODEM table, running value never masked to 16 bits. */
export function crc16(key: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = (crc << 8) ^ CRC16_TABLE[((crc >>> 8) ^ key[i]) & 0xff];
  }
  return crc >>> 0;
}

/** twemproxy `crc32`, libmemcached's: bits 16..30 of the CRC-32. */
export function crc32(key: Uint8Array, start: number, end: number): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) {
    crc = (crc >>> 8) ^ CRC32_TABLE[(crc ^ key[i]) & 0xff];
  }
  return (~crc >>> 16) & 0x7fff;
}

/** twemproxy `crc32a`: the standard CRC-32. */
export function crc32a(key: Uint8Array, start: number, end: number): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) {
    crc = (crc >>> 8) ^ CRC32_TABLE[(crc ^ key[i]) & 0xff];
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Little-endian unsigned 16 bits at `p`. */
function get16(key: Uint8Array, p: number): number {
  return key[p] | (key[p + 1] << 8);
}

/** twemproxy `hsieh`, Paul Hsieh's SuperFastHash (the 3-byte tail reads a signed char). */
export function hsieh(key: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length <= 0) return 0;
  let hash = 0;
  let p = start;
  for (let blocks = length >> 2; blocks > 0; blocks--) {
    hash = (hash + get16(key, p)) | 0;
    const tmp = (get16(key, p + 2) << 11) ^ hash;
    hash = (hash << 16) ^ tmp;
    p += 4;
    hash = (hash + (hash >>> 11)) | 0;
  }
  switch (length & 3) {
    case 3:
      hash = (hash + get16(key, p)) | 0;
      hash ^= hash << 16;
      hash ^= signedByte(key[p + 2]) << 18;
      hash = (hash + (hash >>> 11)) | 0;
      break;
    case 2:
      hash = (hash + get16(key, p)) | 0;
      hash ^= hash << 11;
      hash = (hash + (hash >>> 17)) | 0;
      break;
    case 1:
      hash = (hash + key[p]) | 0;
      hash ^= hash << 10;
      hash = (hash + (hash >>> 1)) | 0;
      break;
  }
  hash ^= hash << 3;
  hash = (hash + (hash >>> 5)) | 0;
  hash ^= hash << 4;
  hash = (hash + (hash >>> 17)) | 0;
  hash ^= hash << 25;
  hash = (hash + (hash >>> 6)) | 0;
  return hash >>> 0;
}

/** Little-endian unsigned 32 bits at `p` (as an int32 pattern). */
function get32(key: Uint8Array, p: number): number {
  return key[p] | (key[p + 1] << 8) | (key[p + 2] << 16) | (key[p + 3] << 24);
}

/** twemproxy `murmur`, MurmurHash2 with seed 0xdeadbeef * length. */
export function murmur(key: Uint8Array, start: number, end: number): number {
  let length = end - start;
  let h = Math.imul(MURMUR_SEED, length) ^ length;
  let p = start;
  while (length >= 4) {
    let k = get32(key, p);
    k = Math.imul(k, MURMUR_M);
    k ^= k >>> 24;
    k = Math.imul(k, MURMUR_M);
    h = Math.imul(h, MURMUR_M) ^ k;
    p += 4;
    length -= 4;
  }
  switch (length) {
    case 3:
      h ^= key[p + 2] << 16;
      h ^= key[p + 1] << 8;
      h = Math.imul(h ^ key[p], MURMUR_M);
      break;
    case 2:
      h ^= key[p + 1] << 8;
      h = Math.imul(h ^ key[p], MURMUR_M);
      break;
    case 1:
      h = Math.imul(h ^ key[p], MURMUR_M);
      break;
  }
  h ^= h >>> 13;
  h = Math.imul(h, MURMUR_M);
  h ^= h >>> 15;
  return h >>> 0;
}

function rot(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Bytes `key[p..p+n)` (n <= 4) as a little-endian word, zero-filled. */
function tailWord(key: Uint8Array, p: number, n: number): number {
  let w = 0;
  for (let i = n - 1; i >= 0; i--) w = (w << 8) | key[p + i];
  return w;
}

/** twemproxy `jenkins`, Bob Jenkins' lookup3 `hashlittle` with initval 13. */
export function jenkins(key: Uint8Array, start: number, end: number): number {
  let length = end - start;
  let a = (JENKINS_SEED + length + JENKINS_INITVAL) | 0;
  let b = a;
  let c = a;
  let p = start;
  while (length > 12) {
    a = (a + get32(key, p)) | 0;
    b = (b + get32(key, p + 4)) | 0;
    c = (c + get32(key, p + 8)) | 0;
    // mix(a, b, c)
    a = (a - c) | 0;
    a ^= rot(c, 4);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rot(a, 6);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rot(b, 8);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= rot(c, 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rot(a, 19);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rot(b, 4);
    b = (b + a) | 0;
    length -= 12;
    p += 12;
  }
  if (length === 0) return c >>> 0;
  a = (a + tailWord(key, p, Math.min(length, 4))) | 0;
  if (length > 4) b = (b + tailWord(key, p + 4, Math.min(length - 4, 4))) | 0;
  if (length > 8) c = (c + tailWord(key, p + 8, length - 8)) | 0;
  // final(a, b, c)
  c ^= b;
  c = (c - rot(b, 14)) | 0;
  a ^= c;
  a = (a - rot(c, 11)) | 0;
  b ^= a;
  b = (b - rot(a, 25)) | 0;
  c ^= b;
  c = (c - rot(b, 16)) | 0;
  a ^= c;
  a = (a - rot(c, 4)) | 0;
  b ^= a;
  b = (b - rot(a, 14)) | 0;
  c ^= b;
  c = (c - rot(b, 24)) | 0;
  return c >>> 0;
}

/** Every hash by its twemproxy name. */
export const HASHES: Readonly<Record<HashName, KeyHash>> = {
  one_at_a_time,
  md5,
  crc16,
  crc32,
  crc32a,
  fnv1_64,
  fnv1a_64,
  fnv1_32,
  fnv1a_32,
  hsieh,
  murmur,
  jenkins,
};

/** twemproxy's hash names, in twemproxy's order. */
export const HASH_NAMES: readonly HashName[] = Object.keys(HASHES) as HashName[];
