/**
 * The one table of error replies shardgate itself sends to clients (Envoy
 * redis_proxy style). Every client-facing error string lives here; nothing
 * else in the proxy builds one. Static replies are pre-encoded once.
 *
 * @module
 */

const te = new TextEncoder();

/** Encodes `-<message>\r\n`, folding CR/LF so a message can never break framing. */
export function errorReply(message: string): Uint8Array {
  return te.encode(`-${message.replace(/[\r\n]+/g, " ")}\r\n`);
}

/** How every error shardgate answers by itself begins (the node's own errors never do). */
export const SHARDGATE_ERROR_PREFIX = "ERR shardgate: ";

/** An error message without shardgate's own prefix, so it can be quoted inside another. */
export function bareReason(message: string): string {
  return message.startsWith(SHARDGATE_ERROR_PREFIX)
    ? message.slice(SHARDGATE_ERROR_PREFIX.length)
    : message;
}

/** Client-facing error messages (without the leading `-`). */
export const ErrorText = {
  /** Readers port: no replica serves and fallback is none (or the primary is gone too). */
  noReaders: (shard: string): string => `ERR shardgate: no node serves reads for shard '${shard}'`,
  /** Writer port: no usable primary. */
  noPrimary: (shard: string, why: string | null): string =>
    `ERR shardgate: no primary for shard '${shard}'${why ? ` (${why})` : ""}; write refused`,
  /** A write whose node connection broke or timed out before the reply. */
  /** Writes held for a new primary that checks did not name in time (nothing ran). */
  heldTooLong: (shard: string, ms: number): string =>
    `ERR shardgate: no primary for shard '${shard}' took the write within ${ms} ms of a failover; it was not applied`,
  writeLost: (node: string, reason: string): string =>
    `ERR shardgate: ${reason} on ${node} before the reply; the command was not retried and may or may not have been applied`,
  /** A read-only command that failed on every node it was tried on. */
  readFailed: (node: string, reason: string, attempts: number): string =>
    `ERR shardgate: ${reason} on ${node}; read failed after ${attempts} attempt${
      attempts === 1 ? "" : "s"
    }`,
  /** The listener is past `max_clients` (Redis's own wording). */
  maxClients: "ERR max number of clients reached",
  /** Commands before AUTH when the listener has a client password (Redis's wording). */
  noAuth: "NOAUTH Authentication required.",
  /** Wrong client password (Redis's wording). */
  wrongPass: "WRONGPASS invalid username-password pair or user is disabled.",
  /** AUTH sent to a listener without a client password (Redis's wording). */
  authNotConfigured:
    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
  /** AUTH with the wrong number of arguments (Redis's wording). */
  authArity: "ERR wrong number of arguments for 'auth' command",
  /** Commands that make no sense through a proxy (replication stream, shutdown...). */
  refused: (command: string): string =>
    `ERR shardgate: '${command}' is not supported through the proxy`,
  /** Malformed client input; the message is Redis's own ("Protocol error: ..."). */
  protocol: (message: string): string => `ERR ${message}`,
  /** A replication command on the readers port (replicas replicate from the primary). */
  replicationOnReaders: (command: string): string =>
    `ERR shardgate: '${command}' is only supported on the writer port`,
  /** HELLO with a version that is not a number (Redis's wording). */
  helloVersion: "ERR Protocol version is not an integer or out of range",
  /** HELLO with a version other than 2 or 3 (Redis's wording). */
  noProto: "NOPROTO unsupported protocol version",
  /** HELLO with an unknown option (Redis's wording). */
  helloSyntax: (option: string): string => `ERR Syntax error in HELLO option '${option}'`,
  /** HELLO without AUTH when the listener has a client password (Redis's wording). */
  helloNoAuth:
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
  /** CLIENT SETNAME / HELLO SETNAME with spaces or special characters (Redis's wording). */
  badClientName: "ERR Client names cannot contain spaces, newlines or special characters.",
  /** A subcommand the node does not know, e.g. CLIENT SETINFO before Redis 7.2 (Redis's wording). */
  unknownSubcommand: (sub: string, container: string): string =>
    `ERR unknown subcommand '${sub}'. Try ${container} HELP.`,
  /** CLIENT SETINFO with an unknown attribute (Redis 7.2's wording). */
  unknownClientAttr: (attr: string): string => `ERR Unrecognized option '${attr}'`,
  /** CLIENT SETINFO with spaces or special characters (Redis 7.2's wording). */
  badClientAttr: (attr: string): string =>
    `ERR ${attr} cannot contain spaces, newlines or special characters.`,
  /** A SCAN cursor shardgate did not hand out (Redis's wording). */
  invalidCursor: "ERR invalid cursor",
  /** A SCAN continuation whose node no longer serves reads. */
  scanRestart: (node: string): string =>
    `ERR shardgate: the node that made this cursor (${node}) no longer serves reads; restart the scan from cursor 0`,
  /** A SCAN continuation whose node failed before the reply. */
  scanLost: (node: string, reason: string): string =>
    `ERR shardgate: ${reason} on ${node}, the node this cursor belongs to; restart the scan from cursor 0`,
  /** A command sent to every node that no node answered. */
  broadcastFailed: (shard: string, reason: string): string =>
    `ERR shardgate: no node of shard '${shard}' answered (${reason})`,
  /** A router port's command for another shard while the session is held on one (e.g. subscribed). */
  pinnedElsewhere: (shard: string): string =>
    `ERR shardgate: this connection is held on shard '${shard}' (a subscription, MONITOR or CLIENT TRACKING); send commands for other shards on another connection`,
  /** A command sent in parts whose replies could not be merged (a bug: says what went wrong). */
  mergeFailed: (why: string): string =>
    `ERR shardgate: the parts' replies could not be merged (${why})`,
  /** The node refused a connection's setup (HELLO 3, SELECT n): its own words. */
  setupRefused: (node: string, detail: string): string =>
    `ERR shardgate: ${node} refused the connection's setup: ${detail}`,
} as const;

// ---- router ports ----

/** A shard that gave no usable reply, and why (router ports' split commands). */
export interface ShardFailureText {
  readonly shard: string;
  readonly reason: string;
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

/** Pre-encoded static replies, sent without allocating. */
export const Replies = {
  ok: te.encode("+OK\r\n"),
  maxClients: errorReply(ErrorText.maxClients),
  noAuth: errorReply(ErrorText.noAuth),
  wrongPass: errorReply(ErrorText.wrongPass),
  authNotConfigured: errorReply(ErrorText.authNotConfigured),
  authArity: errorReply(ErrorText.authArity),
  reset: te.encode("+RESET\r\n"),
} as const;
