/**
 * The near cache: hot reads answered by shardgate itself, filled only over
 * a node connection with `CLIENT TRACKING` on and kept fresh by that node's
 * invalidations (`near_cache.ts` for the picture). The proxy holds one
 * {@link NearCache} per shard with `cache:` on and calls it from the
 * session core: {@link NearCache.lookup} before a read is forwarded,
 * {@link NearCache.written} / {@link NearCache.acked} around a write.
 *
 * Uses `resp` and `config` only.
 *
 * @module
 */

export {
  type CacheClient,
  type CacheEvents,
  type CacheHit,
  type CacheStats,
  NearCache,
  nilReply,
  updateCache,
} from "./near_cache.ts";
export { EVICT_REASONS, type EvictReason } from "./store.ts";
export { type TrackerSocket, type TrackerTarget } from "./tracker.ts";
