import assert from "node:assert/strict";
import { LAST_DIGIT, TEST_SHARDS } from "./_test_distribution.ts";
import { CommandRouter } from "./route.ts";
import { BindingVerdict, TransactionBinding } from "./transaction.ts";

const SHARDS = TEST_SHARDS;
const { PASS, SEND, HOLD, REFUSE, ABORT, DISCARDED } = BindingVerdict;

/** Feeds `commands` through a router and one binding; returns [verdict, shard] per command. */
function session(
  ...commands: string[][]
): { steps: [number, number][]; binding: TransactionBinding; errors: (string | null)[] } {
  const router = new CommandRouter(LAST_DIGIT, []);
  const binding = new TransactionBinding(SHARDS);
  const steps: [number, number][] = [];
  const errors: (string | null)[] = [];
  for (const cmd of commands) {
    const action = router.routeArgs(cmd);
    steps.push([binding.next(action, router), binding.shard]);
    errors.push(binding.error);
  }
  return { steps, binding, errors };
}

Deno.test("TransactionBinding holds MULTI until the first key picks the shard, then sends it all there", () => {
  const { steps } = session(
    ["MULTI"],
    ["PING"],
    ["SET", "a2", "v"],
    ["INCR", "b5"],
    ["EXEC"],
    ["GET", "c1"],
  );
  assert.deepEqual(steps, [[HOLD, -1], [HOLD, -1], [SEND, 2], [SEND, 2], [SEND, 2], [PASS, -1]]);
});

Deno.test("TransactionBinding binds WATCH's shard and refuses a queued command on another", () => {
  const { steps, binding, errors } = session(
    ["WATCH", "a1"],
    ["GET", "z0"], // outside MULTI: routed as usual
    ["MULTI"],
    ["SET", "b4", "v"],
    ["GET", "c2"],
    ["EXEC"],
  );
  assert.deepEqual(steps, [[SEND, 1], [PASS, 1], [SEND, 1], [SEND, 1], [REFUSE, 1], [ABORT, 1]]);
  assert.equal(
    errors[4],
    "ERR shardgate: 'get' is on shard 'orders' but this transaction is on shard 'sessions'; " +
      "a transaction through a router port must stay on one shard",
  );
  assert.equal(binding.multiSent, true); // so DISCARD goes to shard 1 before -EXECABORT
});

Deno.test("TransactionBinding refuses cross-shard commands inside MULTI and aborts EXEC", () => {
  const { steps, binding, errors } = session(["MULTI"], ["MGET", "a0", "b1"], ["EXEC"], ["PING"]);
  assert.deepEqual(steps.map((s) => s[0]), [HOLD, REFUSE, ABORT, PASS]);
  assert.match(errors[1] ?? "", /'mget' has keys on several shards \('users', 'sessions'\)/);
  assert.equal(binding.inMulti, false);
  const arity = session(["MULTI"], ["ECHO"], ["EXEC"]);
  assert.deepEqual(arity.steps.map((s) => s[0]), [HOLD, REFUSE, ABORT]);
  assert.equal(arity.errors[1], "ERR wrong number of arguments for 'echo' command");
});

Deno.test("TransactionBinding runs a keyless transaction on shard 0 and handles DISCARD", () => {
  assert.deepEqual(session(["MULTI"], ["TIME"], ["EXEC"]).steps, [[HOLD, -1], [HOLD, -1], [
    SEND,
    0,
  ]]);
  assert.deepEqual(session(["MULTI"], ["DISCARD"], ["GET", "a1"]).steps, [
    [HOLD, -1],
    [DISCARDED, -1],
    [PASS, -1],
  ]);
  assert.deepEqual(session(["MULTI"], ["SET", "a1", "v"], ["DISCARD"], ["GET", "a2"]).steps, [
    [HOLD, -1],
    [SEND, 1],
    [SEND, 1],
    [PASS, -1],
  ]);
});

Deno.test("TransactionBinding refuses WATCH on a second shard and releases on UNWATCH", () => {
  const { steps, errors } = session(["WATCH", "a1"], ["WATCH", "b2"], ["UNWATCH"], ["WATCH", "b2"]);
  assert.deepEqual(steps, [[SEND, 1], [REFUSE, 1], [SEND, 1], [SEND, 2]]);
  assert.match(
    errors[1] ?? "",
    /'watch' is on shard 'orders' but this transaction is on shard 'sessions'/,
  );
  const cross = session(["WATCH", "a1", "b2"]);
  assert.deepEqual(cross.steps, [[REFUSE, -1]]);
  assert.match(cross.errors[0] ?? "", /'watch' has keys on several shards/);
  assert.deepEqual(session(["UNWATCH"], ["EXEC"], ["RESET"]).steps, [[PASS, -1], [PASS, -1], [
    PASS,
    -1,
  ]]);
});
