/**
 * The data path: shard listeners, client sessions (multiplexed or pinned),
 * node connection pools, balancers and the retry policy.
 *
 * @module
 */

export { Shard, type ShardOptions, staticRoutes } from "./shard.ts";
export { ListenError, ReleasedSockets } from "./_bind.ts";
export {
  type Balancer,
  type BalancerNode,
  createBalancer,
  LeastPending,
  SmoothRoundRobin,
} from "./balancer.ts";
export { ErrorText } from "./errors.ts";
export {
  Locality,
  LOCALITY_NAMES,
  LocalityCounter,
  type LocalityName,
  type NodeZone,
  ShardZones,
  ZonedBalancer,
  type ZoneSnapshot,
  type ZoneSource,
} from "./zones.ts";
export { FAULT_KINDS, FaultKindIndex, FaultRule, faultsForNode, pickFault } from "./faults.ts";
export { SHARD_COUNTERS, type ShardCounterId, ShardCounters } from "./metrics.ts";
export { type GateCounters, ReadGate } from "./consistency.ts";
export type { ByProtocol, NodeStats, ShardStats } from "./stats.ts";
export {
  type CursorNode,
  type FanPart,
  type KeyRouting,
  KeyVerdict,
  type ListenerRole,
  type NodeHandle,
  type PortContext,
  ShardPortRouting,
  type ShardRoutes,
  type WriterWaiter,
} from "./_runtime.ts";
export { loadNodeNet, PortListener } from "./listener.ts";
export type { ClientView } from "./_clients.ts";
export type { ServerIdentity } from "./_local.ts";
