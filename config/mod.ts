/**
 * shardgate configuration: parse and validate the YAML file into a
 * normalised {@link Config}, compare two configs for hot reload, and watch
 * the file for changes.
 *
 * ```ts
 * const result = await loadConfig("shardgate.yaml");
 * if (result.config === null) for (const issue of result.issues) console.error(formatIssue(issue));
 * ```
 *
 * @module
 */

export type * from "./types.ts";
export { type ConfigResult, formatIssue, issueAt, loadConfig, parseConfig } from "./load.ts";
export { formatDuration, parseDuration } from "./duration.ts";
export { suggestKey } from "./_yaml.ts";
export { formatAddress, isLoopbackHost, parseAddress } from "./address.ts";
export { EnvReferenceError, expandEnv } from "./env.ts";
export { type ConfigDiff, diffConfigs, type RouterChange, type ShardChange } from "./diff.ts";
export { type ConfigWatcher, watchConfig, type WatchOptions } from "./watch.ts";
