/**
 * The router ports' side of the one error table (`proxy/errors.ts`, where
 * the strings live), and the helper that quotes a shard's error inside
 * another.
 *
 * @module
 */

export { RouterErrorText, type ShardFailureText } from "../proxy/errors.ts";

const SHARDGATE_PREFIX = "ERR shardgate: ";

/** An error message without shardgate's own prefix, so it can be quoted inside another. */
export function bareReason(message: string): string {
  return message.startsWith(SHARDGATE_PREFIX) ? message.slice(SHARDGATE_PREFIX.length) : message;
}
