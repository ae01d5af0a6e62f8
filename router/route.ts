/**
 * What a router port does with one command (issue 11), before the proxy
 * sends it to a shard's readers or writer route:
 *
 * | command                                       | action                                     |
 * | --------------------------------------------- | ------------------------------------------ |
 * | PING, ECHO                                    | LOCAL: answered by shardgate               |
 * | SCAN, KEYS, FLUSHALL, FLUSHDB, INFO, DBSIZE,  | REFUSE: they would see one shard; the      |
 * | RANDOMKEY, MONITOR                            | error names each shard's own port          |
 * | SUBSCRIBE, PSUBSCRIBE, PUBLISH, their UN-     | REFUSE: no key to pick a shard by          |
 * | forms, PUBSUB                                 |                                            |
 * | SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE            | by channel (Redis's not_key key specs)     |
 * | SCRIPT LOAD/FLUSH, FUNCTION LOAD/DELETE/      | ALL: sent to every shard, replies merged   |
 * | FLUSH/RESTORE                                 | by {@link mergeBroadcast}                  |
 * | keys all on one shard (any command: EVAL…     | SHARD                                      |
 * | with numkeys, blocking commands, WATCH…)      |                                            |
 * | MGET, MSET, DEL, UNLINK, EXISTS, TOUCH over   | SPLIT per shard, merged in key order       |
 * | several shards                                |                                            |
 * | any other command with keys on several shards | REFUSE (cross-shard)                       |
 * | anything else without keys (MULTI, EXEC, TIME,| ANY: the session's shard if it has one     |
 * | CLIENT…, unknown commands)                    | (transaction.ts), else any shard           |
 *
 * Keys come from the generated key specs (resp/keys.ts). Connection state
 * (HELLO, SELECT, AUTH, CLIENT SETNAME…) stays the proxy session's business,
 * as on shard ports; transactions are bound to one shard by
 * {@link TransactionBinding}.
 *
 * @module
 */

import {
  CommandKeys,
  commandNameOf,
  encodeBulk,
  encodeCommand,
  findKeys,
  RequestParser,
} from "../resp/mod.ts";
import { RouterErrorText } from "./_errors.ts";
import type { KeyDistribution } from "./distribution.ts";
import { isSplitCommand, splitFrame, type SplitPlan } from "./split.ts";

/** What to do with a command on a router port. */
export const RouterAction = {
  /** Answer {@link CommandRouter.reply} locally. */
  LOCAL: 1,
  /** Answer the error {@link CommandRouter.error} (without `-`). */
  REFUSE: 2,
  /** Send it to shard {@link CommandRouter.shard}. */
  SHARD: 3,
  /** Send each part of {@link CommandRouter.plan}, merge with mergeReplies(). */
  SPLIT: 4,
  /** No key: the session's shard, or any shard. */
  ANY: 5,
  /** Send it to every shard, merge with mergeBroadcast(). */
  ALL: 6,
} as const;
/** One of the {@link RouterAction} values. */
export type RouterAction = typeof RouterAction[keyof typeof RouterAction];

/** A shard's own listen addresses, for errors that send clients there. */
export interface ShardPorts {
  readonly name: string;
  readonly readers: string;
  readonly writer: string | null;
}

/** Commands that only see one shard's data, and whether they write (their port is the writer). */
const PER_SHARD: Readonly<Record<string, "readers" | "writer">> = {
  scan: "readers",
  keys: "readers",
  info: "readers",
  dbsize: "readers",
  randomkey: "readers",
  monitor: "readers",
  flushall: "writer",
  flushdb: "writer",
};
/** Pub/sub commands with no channel Redis treats as a key. */
const UNSHARDED_PUBSUB = new Set([
  "subscribe",
  "psubscribe",
  "unsubscribe",
  "punsubscribe",
  "publish",
  "pubsub",
]);
/** Sharded pub/sub: routed by channel (key specs flagged not_key). */
const SHARDED_PUBSUB = new Set(["spublish", "ssubscribe", "sunsubscribe"]);
/** Loads that must reach every shard, so EVALSHA and FCALL work wherever the keys are. */
const BROADCAST = new Set([
  "script|load",
  "script|flush",
  "function|load",
  "function|delete",
  "function|flush",
  "function|restore",
]);

const PONG = new TextEncoder().encode("+PONG\r\n");

/**
 * Routes the commands of router-port sessions. One instance per router
 * (and config version): after {@link CommandRouter.route} the fields
 * `shard`, `reply`, `error` and `plan` describe the decision until the next
 * call, as {@link RequestParser}'s fields describe its last command. The
 * common case (keys on one shard) allocates nothing.
 */
export class CommandRouter {
  /** SHARD: the shard index; otherwise -1. */
  shard = -1;
  /** LOCAL: the reply bytes. */
  reply: Uint8Array | null = null;
  /** REFUSE: the error message (without `-`). */
  error: string | null = null;
  /** SPLIT: the per-shard parts. */
  plan: SplitPlan | null = null;
  /** The canonical command name of the last command (`get`, `script|load`), if Redis knows it. */
  command: string | undefined = undefined;

  readonly #distribution: KeyDistribution;
  readonly #ports: readonly ShardPorts[];
  readonly #keys = new CommandKeys();
  /** The shard of each key of the command at hand (scratch). */
  #shardOfKey = new Int32Array(16);
  readonly #parser = new RequestParser();

  /**
   * @param distribution the router's key → shard mapping
   * @param ports each shard's own listen addresses, by shard index
   */
  constructor(distribution: KeyDistribution, ports: readonly ShardPorts[]) {
    this.#distribution = distribution;
    this.#ports = ports;
  }

  /** Shard names by index. */
  get shards(): readonly string[] {
    return this.#distribution.shards;
  }

  /** Decides for the command `parser` just parsed from `buf` (argc >= 1). */
  route(parser: RequestParser, buf: Uint8Array): RouterAction {
    this.shard = -1;
    this.reply = null;
    this.error = null;
    this.plan = null;
    const name = commandNameOf(parser, buf);
    this.command = name;
    if (name === undefined) return RouterAction.ANY;
    if (name === "ping" || name === "echo") return this.#local(name, parser, buf);
    const perShard = PER_SHARD[name];
    if (perShard !== undefined) {
      return this.#refuse(RouterErrorText.perShard(name, this.#portList(perShard)));
    }
    if (UNSHARDED_PUBSUB.has(name) || name.startsWith("pubsub|")) {
      return this.#refuse(RouterErrorText.noShardForPubSub(name));
    }
    if (BROADCAST.has(name)) return RouterAction.ALL;

    const keys = findKeys(parser, buf, this.#keys, SHARDED_PUBSUB.has(name));
    const n = keys.count;
    if (n === 0) return RouterAction.ANY;
    const d = this.#distribution;
    const kb = keys.buf;
    if (this.#shardOfKey.length < n) this.#shardOfKey = new Int32Array(n * 2);
    const shardOfKey = this.#shardOfKey;
    const first = shardOfKey[0] = d.shardOf(kb, keys.start[0], keys.end[0]);
    let spread = false;
    for (let i = 1; i < n; i++) {
      shardOfKey[i] = d.shardOf(kb, keys.start[i], keys.end[i]);
      if (shardOfKey[i] !== first) spread = true;
    }
    if (!spread) {
      this.shard = first;
      return RouterAction.SHARD;
    }
    if (isSplitCommand(name)) {
      // The client's bytes are cut into the parts as they are (a re-encoded
      // inline command's too: keys.buf is a multibulk frame either way).
      const plan = splitFrame(name, kb, n, keys.start, keys.end, shardOfKey);
      if (plan !== null) {
        this.plan = plan;
        return RouterAction.SPLIT;
      }
    }
    const involved = new Set<string>();
    for (let i = 0; i < n; i++) involved.add(d.shards[shardOfKey[i]]);
    return this.#refuse(RouterErrorText.crossShard(name, [...involved]));
  }

  /** Decides for a command given as its arguments (allocates; for tests and the slow path). */
  routeArgs(args: readonly (string | Uint8Array)[]): RouterAction {
    const frame = encodeCommand(args);
    this.#parser.reset();
    this.#parser.parse(frame, 0, frame.length);
    return this.route(this.#parser, frame);
  }

  #args(parser: RequestParser, buf: Uint8Array): Uint8Array[] {
    return parser.inline ? parser.inlineArgs(buf, parser.start, parser.end) : parser.args(buf);
  }

  #refuse(message: string): RouterAction {
    this.error = message;
    return RouterAction.REFUSE;
  }

  #local(name: "ping" | "echo", parser: RequestParser, buf: Uint8Array): RouterAction {
    const argc = parser.argc;
    if (name === "ping" && argc === 1) {
      this.reply = PONG;
      return RouterAction.LOCAL;
    }
    if ((name === "ping" && argc === 2) || (name === "echo" && argc === 2)) {
      this.reply = encodeBulk(this.#args(parser, buf)[1]);
      return RouterAction.LOCAL;
    }
    return this.#refuse(RouterErrorText.arity(name));
  }

  #portList(kind: "readers" | "writer"): string {
    return this.#ports.map((p) => {
      const address = kind === "writer" ? p.writer : p.readers;
      return `${p.name} ${address ?? "(no writer port)"}`;
    }).join(", ");
  }
}
