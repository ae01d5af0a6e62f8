/**
 * Timeouts and limits of the test harness, in one place. These are test
 * infrastructure settings, not product defaults (those live in
 * `config/defaults.ts`).
 *
 * @module
 */

/** How long a redis-server may take to answer PING after it was spawned. */
export const REDIS_START_TIMEOUT_MS = 10_000;
/** How long a process may take to exit after SIGTERM before it gets SIGKILL. */
export const STOP_TIMEOUT_MS = 5_000;
/** Default poll interval of condition waits. */
export const POLL_INTERVAL_MS = 25;
/** Default deadline of `waitFor`. */
export const WAIT_FOR_TIMEOUT_MS = 10_000;
/** How long replicas may take to report `master_link_status:up` and catch up. */
export const REPLICA_SYNC_TIMEOUT_MS = 20_000;
/** How long one `redis-cli` run may take before it is killed. */
export const CLI_TIMEOUT_MS = 10_000;
/** How long one raw PING may take (readiness polls). */
export const PING_TIMEOUT_MS = 500;
/** How often a spawn on a freshly picked port is retried when the port was taken meanwhile. */
export const PORT_RETRIES = 5;
/** How long shardgate may take to log `ready`. */
export const SHARDGATE_READY_TIMEOUT_MS = 30_000;
/** How long shardgate may take to exit after SIGTERM before it gets SIGKILL. */
export const SHARDGATE_STOP_TIMEOUT_MS = 10_000;
/** Default deadline of `ShardgateProcess.waitForLog`. */
export const WAIT_FOR_LOG_TIMEOUT_MS = 10_000;
/** Connect timeout of test clients. */
export const CLIENT_CONNECT_TIMEOUT_MS = 5_000;
/** How long `LoadLoop.stop()` lets in-flight operations finish before destroying clients. */
export const LOAD_STOP_TIMEOUT_MS = 5_000;
/** Pause of a load worker after a failed operation (avoids a hot failure loop). */
export const LOAD_FAILURE_BACKOFF_MS = 10;
/** Distinct error messages a load loop keeps. */
export const LOAD_MAX_ERROR_MESSAGES = 100;
/** An operation slower than this counts as slow in load stats. */
export const LOAD_SLOW_OP_MS = 1_000;
/** Lines of a process log quoted in error messages. */
export const LOG_TAIL_LINES = 40;
