/**
 * Test harness for end-to-end tests with real processes: redis-server
 * nodes and replica sets, shardgate itself, `redis` npm clients, load loops
 * and condition waits. Every process started is tracked until stopped;
 * `stopAll()` stops what a test forgot, and anything still running when the
 * test module unloads is SIGKILLed.
 *
 * ```ts
 * await using set = await startReplicaSet({ replicas: 2 });
 * await using sg = await startShardgate(`
 * shards:
 *   users:
 *     readers: 127.0.0.1:0
 *     nodes: [${set.addresses.join(", ")}]
 * `);
 * await using load = await loadLoop({ port: sg.ports.users.readers, op: async (c) => { await c.get("k"); } });
 * await set.replicas[0].kill();
 * assertEquals((await load.stop()).failed, 0);
 * ```
 *
 * @module
 */

export { freePort, freePorts } from "./ports.ts";
export { delay, errorText, waitFor, type WaitForOptions, withTimeout } from "./wait.ts";
export { liveCount, stopAll } from "./_registry.ts";
export {
  parseInfo,
  ping,
  RedisProcess,
  type RestartOptions,
  startRedis,
  type StartRedisOptions,
} from "./redis_process.ts";
export { ReplicaSet, type ReplicaSetOptions, startReplicaSet } from "./replica_set.ts";
export {
  type CliResult,
  type LogRecord,
  parseLogLine,
  portOf,
  REPO_ROOT,
  runShardgateCli,
  ShardgateProcess,
  type ShardPorts,
  startShardgate,
  type StartShardgateOptions,
  type WaitForLogOptions,
} from "./shardgate_process.ts";
export {
  closeClient,
  redisClient,
  type RedisClientOptions,
  type TestClient,
  withClients,
} from "./client.ts";
export { type LoadLoop, loadLoop, type LoadLoopOptions, type LoadStats } from "./load_loop.ts";
export { rssBytes, unreadBytes } from "./proc.ts";
export {
  type AttrValue,
  type OtlpEnvOptions,
  OtlpReceiver,
  type ReceivedPoint,
  type ReceivedSpan,
  startOtlpReceiver,
} from "./otlp_receiver.ts";
export {
  family,
  histogramSeries,
  parsePrometheus,
  type PromFamily,
  type PromHistogram,
  type PromSample,
  sampleValue,
} from "./prometheus.ts";
