/**
 * Redis Cluster's key slots: CRC16/XMODEM of the key, or of its `{tag}`,
 * modulo 16384 (`keyHashSlot` in Redis's cluster.c).
 *
 * @module
 */

import { CLUSTER_SLOTS } from "../config/defaults.ts";
import { CRC16_TABLE } from "./_crc.ts";
import { findTag, tagEnd } from "./_tag.ts";

const LEFT_BRACE = 0x7b;
const RIGHT_BRACE = 0x7d;

/** CRC-16/XMODEM of `key[start..end)` (Redis's `crc16`), 0..65535. */
export function clusterCrc16(key: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) ^ CRC16_TABLE[((crc >>> 8) ^ key[i]) & 0xff]) & 0xffff;
  }
  return crc;
}

/**
 * The Redis Cluster hash slot of the key `key[start..end)`: the CRC16 of
 * what is between the first `{` and the first `}` after it when that is not
 * empty, else of the whole key, modulo 16384.
 */
export function keySlot(key: Uint8Array, start = 0, end: number = key.length): number {
  const tag = findTag(key, start, end, LEFT_BRACE, RIGHT_BRACE);
  const crc = tag < 0 ? clusterCrc16(key, start, end) : clusterCrc16(key, tag, tagEnd());
  return crc & (CLUSTER_SLOTS - 1);
}
