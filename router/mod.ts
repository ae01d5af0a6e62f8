/**
 * Router ports: key hashing over several shards, compatible with twemproxy
 * (and Python's uhashring) or Redis Cluster slots.
 *
 * @module
 */

export {
  crc16,
  crc32,
  crc32a,
  fnv1_32,
  fnv1_64,
  fnv1a_32,
  fnv1a_64,
  HASH_NAMES,
  HASHES,
  type HashName,
  hsieh,
  jenkins,
  type KeyHash,
  md5,
  murmur,
  one_at_a_time,
} from "./hash.ts";
export {
  KetamaContinuum,
  ketamaPointCount,
  ketamaPoints,
  type KetamaServer,
  maxKetamaNameBytes,
} from "./ketama.ts";
export { clusterCrc16, keySlot } from "./slots.ts";
export {
  createDistribution,
  KetamaDistribution,
  type KeyDistribution,
  ringMoves,
  sampleKeys,
  SlotsDistribution,
} from "./distribution.ts";
