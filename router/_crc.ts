/**
 * CRC lookup tables, computed once at load from their polynomials.
 *
 * @module
 */

/** CRC-16/XMODEM polynomial (Redis Cluster's key slots, twemproxy's `crc16`). */
const CRC16_POLY = 0x1021;
/** CRC-32 (IEEE 802.3) polynomial, bit-reversed (twemproxy's `crc32` and `crc32a`). */
const CRC32_POLY_REVERSED = 0xedb88320;

function crc16Table(): Uint16Array {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? (crc << 1) ^ CRC16_POLY : crc << 1;
    }
    table[i] = crc & 0xffff;
  }
  return table;
}

function crc32Table(): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 1 ? (crc >>> 1) ^ CRC32_POLY_REVERSED : crc >>> 1;
    }
    table[i] = crc >>> 0;
  }
  return table;
}

/** CRC-16/XMODEM table (MSB first), indexed by the next byte xor the CRC's high byte. */
export const CRC16_TABLE: Uint16Array = crc16Table();
/** CRC-32 table (LSB first), indexed by the next byte xor the CRC's low byte. */
export const CRC32_TABLE: Uint32Array = crc32Table();
