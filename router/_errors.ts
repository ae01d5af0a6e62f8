/**
 * The router ports' side of the one error table (`proxy/errors.ts`, where
 * the strings live), and the helper that quotes a shard's error inside
 * another.
 *
 * @module
 */

export { bareReason, RouterErrorText, type ShardFailureText } from "../proxy/errors.ts";
