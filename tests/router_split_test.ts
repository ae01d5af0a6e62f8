/**
 * The router's pure pieces against real servers, before the proxy wires
 * them: a CommandRouter built from a config splits MGET / DEL of 100 keys
 * over 3 redis-servers, each part goes to its server (RESP2, or RESP3
 * after HELLO 3), and the merged reply is checked, also with one server
 * killed: the other keys' values come back, the dead shard's keys are
 * errors, and nothing waits.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../config/mod.ts";
import {
  CommandRouter,
  createDistribution,
  mergeReplies,
  RouterAction,
  type ShardReply,
} from "../router/mod.ts";
import { errorText, type RedisProcess, startRedis } from "./helpers/mod.ts";
import { frameText, pipeline } from "./_raw_resp.ts";

const SHARDS = 3;
const KEYS = 100;

/** A router over one shard per server (ketama, md5) and its CommandRouter. */
function routerOver(servers: readonly RedisProcess[]): CommandRouter {
  const text = [
    "shards:",
    ...servers.map((s, i) => `  s${i}: { readers: 127.0.0.1:0, nodes: ["${s.address}"] }`),
    "routers:",
    "  r: { listen: 127.0.0.1:0, hash: md5, shards: [s0, s1, s2] }",
  ].join("\n");
  const result = parseConfig(text, "router.yaml", {});
  if (result.config === null) throw new Error(JSON.stringify(result.issues));
  const ports = servers.map((s, i) => ({ name: `s${i}`, readers: s.address, writer: null }));
  return new CommandRouter(createDistribution(result.config.routers[0]), ports);
}

/** Sends each part to its server (after HELLO 3 for RESP3); a failed server is a ShardFailure. */
function sendParts(
  router: CommandRouter,
  servers: readonly RedisProcess[],
  resp3: boolean,
): Promise<ShardReply[]> {
  const plan = router.plan;
  if (plan === null) throw new Error("no plan");
  return Promise.all(plan.parts.map(async (part): Promise<ShardReply> => {
    try {
      const hello = resp3 ? [["HELLO", "3"]] : [];
      const replies = await pipeline(servers[part.shard].port, [...hello, part.frame]);
      return replies[replies.length - 1];
    } catch (e) {
      return {
        error: `ERR shardgate: connect failed on ${servers[part.shard].address}: ${errorText(e)}`,
      };
    }
  }));
}

Deno.test("MGET and DEL of 100 keys split over 3 real servers merge in key order, also with one server dead", async () => {
  const servers: RedisProcess[] = [];
  try {
    for (let i = 0; i < SHARDS; i++) servers.push(await startRedis());
    const router = routerOver(servers);
    const keys = Array.from({ length: KEYS }, (_, i) => `key:${i}:ключ`);
    // Seed every even key on the server the ring says, directly.
    for (const [i, key] of keys.entries()) {
      if (i % 2 !== 0) continue;
      assert.equal(router.routeArgs(["SET", key, `v${i}`]), RouterAction.SHARD);
      const [reply] = await pipeline(servers[router.shard].port, [["SET", key, `v${i}`]]);
      assert.equal(frameText(reply), "+OK");
    }
    const expected = keys.map((_, i) => i % 2 === 0 ? `$${`v${i}`.length}\r\nv${i}\r\n` : null);

    for (const resp3 of [false, true]) {
      assert.equal(router.routeArgs(["MGET", ...keys]), RouterAction.SPLIT);
      assert.equal(router.plan?.parts.length, SHARDS);
      const merged = frameText(
        mergeReplies(router.plan!, await sendParts(router, servers, resp3), router.shards),
      );
      const nil = resp3 ? "_\r\n" : "$-1\r\n";
      assert.equal(merged + "\r\n", `*${KEYS}\r\n` + expected.map((e) => e ?? nil).join(""));
    }

    // One server dies: its keys become errors, the others' values still come back.
    const dead = 1;
    await servers[dead].kill();
    assert.equal(router.routeArgs(["MGET", ...keys]), RouterAction.SPLIT);
    const plan = router.plan!;
    const started = performance.now();
    const merged = mergeReplies(plan, await sendParts(router, servers, false), router.shards);
    assert.ok(performance.now() - started < 2_000, "a dead shard must not make MGET wait");
    const lines = frameText(merged).split("\r\n");
    const deadKeys = new Set(plan.parts.find((p) => p.shard === dead)!.positions);
    // Walk the merged array: one error line per dead key, the value (or nil) otherwise.
    let at = 1;
    for (let i = 0; i < KEYS; i++) {
      if (deadKeys.has(i)) {
        assert.match(
          lines[at],
          /^-ERR shardgate: shard 's1' failed: connect failed on /,
          `key ${i}`,
        );
        at += 1;
      } else if (i % 2 === 0) {
        assert.deepEqual(lines.slice(at, at + 2), [`$${`v${i}`.length}`, `v${i}`], `key ${i}`);
        at += 2;
      } else {
        assert.equal(lines[at], "$-1", `key ${i}`);
        at += 1;
      }
    }
    assert.ok(deadKeys.size > 0 && deadKeys.size < KEYS);

    // DEL over the same keys: one error naming the dead shard and what the others did.
    assert.equal(router.routeArgs(["DEL", ...keys]), RouterAction.SPLIT);
    const del = frameText(
      mergeReplies(router.plan!, await sendParts(router, servers, false), router.shards),
    );
    assert.match(
      del,
      /^-ERR shardgate: 'del' failed on shard 's1' \(connect failed on .*\); the other 2 shards applied their part$/,
    );
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
});
