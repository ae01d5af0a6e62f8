/**
 * MD5 (RFC 1321) over a byte range, without allocating: the ketama
 * continuum and `hash: md5` need only the digest's 32-bit little-endian
 * words, and `node:crypto` would cost an object and a Buffer per key.
 * Checked against `node:crypto` in hash_test.ts.
 *
 * @module
 */

/** Per-round left-rotation amounts (RFC 1321 section 3.4). */
const SHIFTS = Int32Array.of(7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21);

/** The sine table: T[i] = floor(2^32 * |sin(i + 1)|). */
const T = new Int32Array(64);
for (let i = 0; i < 64; i++) T[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 0x1_0000_0000) | 0;

const BLOCK_BYTES = 64;
/** Bytes left in the last block for the message length (a 64-bit bit count). */
const LENGTH_BYTES = 8;

const block = new Uint8Array(BLOCK_BYTES);
const words = new Int32Array(16);
/** The digest state: A, B, C, D, as little-endian words of the 16-byte digest. */
const state = new Int32Array(4);

/** Mixes one 64-byte block, read from `src` at `at`, into `state`. */
function mixBlock(src: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++) {
    const p = at + i * 4;
    words[i] = src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24);
  }
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  for (let i = 0; i < 64; i++) {
    const round = i >> 4;
    let f: number;
    let g: number;
    if (round === 0) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (round === 1) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (round === 2) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    const s = SHIFTS[round * 4 + (i & 3)];
    const sum = (a + f + T[i] + words[g]) | 0;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
}

/**
 * Computes the MD5 digest of `buf[start..end)` and returns it as four
 * little-endian 32-bit words (digest bytes 0-3, 4-7, 8-11, 12-15), valid
 * until the next call. The array is shared: copy what you keep.
 */
export function md5Words(buf: Uint8Array, start: number, end: number): Int32Array {
  state[0] = 0x67452301;
  state[1] = 0xefcdab89 | 0;
  state[2] = 0x98badcfe | 0;
  state[3] = 0x10325476;
  const length = end - start;
  let p = start;
  for (; end - p >= BLOCK_BYTES; p += BLOCK_BYTES) mixBlock(buf, p);
  const rest = end - p;
  block.fill(0);
  for (let i = 0; i < rest; i++) block[i] = buf[p + i];
  block[rest] = 0x80;
  if (rest + 1 > BLOCK_BYTES - LENGTH_BYTES) {
    mixBlock(block, 0);
    block.fill(0);
  }
  // Bit length, little-endian; keys are far below 2^53 bits.
  const bitsLow = (length * 8) >>> 0;
  const bitsHigh = Math.floor(length / 0x2000_0000);
  const at = BLOCK_BYTES - LENGTH_BYTES;
  for (let i = 0; i < 4; i++) {
    block[at + i] = (bitsLow >>> (8 * i)) & 0xff;
    block[at + 4 + i] = (bitsHigh >>> (8 * i)) & 0xff;
  }
  mixBlock(block, 0);
  return state;
}
