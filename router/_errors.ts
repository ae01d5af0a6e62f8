/**
 * The error replies router ports send to clients, in one table (without the
 * leading `-`). Kept apart from proxy/errors.ts while the proxy's session
 * core is rewritten; meant to be folded into that table when the router is
 * wired in.
 *
 * @module
 */

/** A shard that gave no usable reply, and why. */
export interface ShardFailureText {
  readonly shard: string;
  readonly reason: string;
}

const SHARDGATE_PREFIX = "ERR shardgate: ";

/** An error message without shardgate's own prefix, so it can be quoted inside another. */
export function bareReason(message: string): string {
  return message.startsWith(SHARDGATE_PREFIX) ? message.slice(SHARDGATE_PREFIX.length) : message;
}

function quoteShards(shards: readonly string[]): string {
  return shards.map((s) => `'${s}'`).join(", ");
}

function failures(list: readonly ShardFailureText[]): string {
  const plural = list.length === 1 ? "shard" : "shards";
  return `${plural} ${list.map((f) => `'${f.shard}' (${f.reason})`).join(", ")}`;
}

/** Client-facing error messages of router ports. */
export const RouterErrorText = {
  /** A multi-key command other than the split ones whose keys map to several shards. */
  crossShard: (command: string, shards: readonly string[]): string =>
    `ERR shardgate: '${command}' has keys on several shards (${quoteShards(shards)}) ` +
    `of this router port; put them on one shard with a hash tag, e.g. {user1}:a and {user1}:b`,
  /** A command that only sees one shard's data (SCAN, KEYS, INFO...), with each shard's own port. */
  perShard: (command: string, ports: string): string =>
    `ERR shardgate: '${command}' would see only one shard through a router port; ` +
    `send it to each shard's own port: ${ports}`,
  /** Pub/sub without a channel Redis treats as a key. */
  noShardForPubSub: (command: string): string =>
    `ERR shardgate: '${command}' has no key to pick a shard by on a router port; ` +
    `use sharded pub/sub (SSUBSCRIBE, SPUBLISH) or a shard's own port`,
  /** A queued command of a transaction (or a WATCH) on another shard than the transaction's. */
  otherShardInTransaction: (command: string, shard: string, bound: string): string =>
    `ERR shardgate: '${command}' is on shard '${shard}' but this transaction is on shard ` +
    `'${bound}'; a transaction through a router port must stay on one shard`,
  /** MGET: the element in place of each key of a shard that failed. */
  keyFailed: (shard: string, reason: string): string =>
    `ERR shardgate: shard '${shard}' failed: ${reason}`,
  /** MSET, DEL, UNLINK, TOUCH: some shards failed, the others applied their part. */
  writeFailed: (command: string, failed: readonly ShardFailureText[], applied: number): string =>
    `ERR shardgate: '${command}' failed on ${failures(failed)}; ` +
    (applied === 0
      ? "no shard applied it"
      : `the other ${applied} shard${applied === 1 ? "" : "s"} applied ${
        applied === 1 ? "its" : "their"
      } part`),
  /** EXISTS: some shards failed. */
  readFailed: (command: string, failed: readonly ShardFailureText[]): string =>
    `ERR shardgate: '${command}' failed on ${failures(failed)}`,
  /** A shard's reply of a type the merge cannot use. */
  unexpectedReply: (command: string): string =>
    `ERR shardgate: unexpected reply to '${command}' from the shard`,
  /** Script and function loads sent to every shard that did not all agree. */
  broadcastDiffers: (command: string): string =>
    `ERR shardgate: '${command}' got different replies from the shards of this router port`,
  /** EXEC after a queued command was refused (Redis's wording). */
  execAbort: "EXECABORT Transaction discarded because of previous errors.",
  /** PING / ECHO with the wrong number of arguments (Redis's wording). */
  arity: (command: string): string => `ERR wrong number of arguments for '${command}' command`,
} as const;
