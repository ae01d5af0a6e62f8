/**
 * Router ports: key hashing over several shards, compatible with twemproxy
 * (and Python's uhashring) or Redis Cluster slots, and what to do with each
 * command on such a port. Pure: no sockets; the proxy wires it.
 *
 * ```ts
 * const distribution = createDistribution(config.routers[0]);
 * const router = new CommandRouter(distribution, ports);
 * switch (router.route(parser, buf)) {
 *   case RouterAction.SHARD: // send to router.shard's readers or writer route
 *   case RouterAction.SPLIT: // send router.plan.parts, then mergeReplies(plan, replies, router.shards)
 *   // LOCAL: router.reply; REFUSE: router.error; ANY: the session's shard; ALL: every shard
 * }
 * ```
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
export { KetamaContinuum, ketamaPointCount, ketamaPoints, type KetamaServer } from "./ketama.ts";
export { clusterCrc16, keySlot } from "./slots.ts";
export {
  createDistribution,
  KetamaDistribution,
  type KeyDistribution,
  ringMoves,
  sampleKeys,
  SlotsDistribution,
} from "./distribution.ts";
export {
  isSplitCommand,
  mergeBroadcast,
  mergeReplies,
  type ShardFailure,
  type ShardReply,
  splitByShard,
  type SplitCommand,
  type SplitPart,
  type SplitPlan,
} from "./split.ts";
export { CommandRouter, RouterAction, type ShardPorts } from "./route.ts";
export { BindingVerdict, type RoutedCommand, TransactionBinding } from "./transaction.ts";
export { RouterErrorText } from "./_errors.ts";
export { RouterPort, type ShardLookup } from "./port.ts";
