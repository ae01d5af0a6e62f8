import assert from "node:assert/strict";
import { byLastDigit, TEST_SHARDS } from "./_test_distribution.ts";
import { encodeCommand as encode, RequestParser } from "../resp/mod.ts";
import {
  mergeBroadcast,
  mergeReplies,
  splitByShard,
  type SplitCommand,
  splitFrame,
  type SplitPlan,
} from "./split.ts";

const utf8 = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const args = (...a: string[]) => a.map((s) => utf8.encode(s));
const SHARDS = TEST_SHARDS;
const shardOf = (key: Uint8Array) => byLastDigit(key);

/** The arguments of a RESP command frame. */
function decodeCommand(frame: Uint8Array): string[] {
  const parser = new RequestParser();
  assert.equal(parser.parse(frame, 0, frame.length), frame.length);
  return parser.args(frame).map(text);
}

function plan(...a: string[]): SplitPlan {
  const p = splitByShard(args(...a), shardOf);
  if (p === null) throw new Error("not split");
  return p;
}

Deno.test("splitByShard() makes one sub-command per shard, not per key, keeping key order", () => {
  const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
  const p = plan("MGET", ...keys);
  assert.equal(p.command, "mget");
  assert.equal(p.keyCount, 100);
  assert.deepEqual(p.parts.map((x) => x.shard), [0, 1, 2]);
  for (const part of p.parts) {
    const sub = decodeCommand(part.frame);
    assert.equal(sub[0], "MGET");
    assert.deepEqual(sub.slice(1), part.positions.map((i) => keys[i]));
    assert.ok(part.positions.every((i) => shardOf(utf8.encode(keys[i])) === part.shard));
  }
  const all = p.parts.flatMap((x) => x.positions).sort((a, b) => a - b);
  assert.deepEqual(all, keys.map((_, i) => i));
});

Deno.test("splitByShard() keeps MSET's values with their keys", () => {
  const p = plan("mset", "a1", "v1", "b2", "v2", "c4", "v4");
  assert.deepEqual(p.parts.map((x) => [x.shard, decodeCommand(x.frame), x.positions]), [
    [1, ["mset", "a1", "v1", "c4", "v4"], [0, 2]],
    [2, ["mset", "b2", "v2"], [1]],
  ]);
});

Deno.test("splitByShard() leaves whole what needs no split or cannot be split", () => {
  assert.equal(splitByShard(args("MGET", "a1", "b4", "c7"), shardOf), null); // one shard
  assert.equal(splitByShard(args("MSET", "a1", "v", "b2"), shardOf), null); // odd arguments
  assert.equal(splitByShard(args("MGET"), shardOf), null);
  assert.equal(splitByShard(args("SUNION", "a1", "b2"), shardOf), null); // not a split command
  for (const name of ["DEL", "UNLINK", "EXISTS", "TOUCH"]) {
    assert.equal(plan(name, "a1", "b2").command, name.toLowerCase());
  }
});

Deno.test("mergeReplies() puts MGET values back in key order (RESP2 and RESP3 nulls)", () => {
  const p = plan("MGET", "a0", "b1", "c2", "d3", "e4");
  // parts: shard 0 (a0, d3), shard 1 (b1, e4), shard 2 (c2)
  const resp2 = mergeReplies(p, [
    utf8.encode("*2\r\n$1\r\nA\r\n$-1\r\n"),
    utf8.encode("*2\r\n$1\r\nB\r\n$2\r\nEE\r\n"),
    utf8.encode("*1\r\n$1\r\nC\r\n"),
  ], SHARDS);
  assert.equal(text(resp2), "*5\r\n$1\r\nA\r\n$1\r\nB\r\n$1\r\nC\r\n$-1\r\n$2\r\nEE\r\n");
  const resp3 = mergeReplies(p, [
    utf8.encode("*2\r\n$1\r\nA\r\n_\r\n"),
    utf8.encode("*2\r\n_\r\n$2\r\nEE\r\n"),
    utf8.encode("*1\r\n$1\r\nC\r\n"),
  ], SHARDS);
  assert.equal(text(resp3), "*5\r\n$1\r\nA\r\n_\r\n$1\r\nC\r\n_\r\n$2\r\nEE\r\n");
});

Deno.test("mergeReplies() answers an error in place of each MGET key of a failed shard", () => {
  const p = plan("MGET", "a0", "b1", "c2", "d3");
  const merged = text(mergeReplies(p, [
    utf8.encode("*2\r\n$1\r\nA\r\n$1\r\nD\r\n"),
    { error: "ERR shardgate: connection lost on 10.0.0.2:6379; read failed after 3 attempts" },
    utf8.encode("-LOADING Redis is loading the dataset in memory\r\n"),
  ], SHARDS));
  assert.equal(
    merged,
    "*4\r\n$1\r\nA\r\n" +
      "-ERR shardgate: shard 'sessions' failed: connection lost on 10.0.0.2:6379; read failed after 3 attempts\r\n" +
      "-ERR shardgate: shard 'orders' failed: LOADING Redis is loading the dataset in memory\r\n" +
      "$1\r\nD\r\n",
  );
  // A reply of the wrong shape is an error for its keys, not a broken frame.
  const odd = text(mergeReplies(p, [
    utf8.encode("*1\r\n$1\r\nA\r\n"),
    utf8.encode("*1\r\n$1\r\nB\r\n"),
    utf8.encode("*1\r\n$1\r\nC\r\n"),
  ], SHARDS));
  assert.match(odd, /^\*4\r\n-ERR shardgate: shard 'users' failed: unexpected reply to 'mget'/);
  // A RESP3 blob error counts as an error too.
  const blob = text(mergeReplies(p, [
    utf8.encode("*2\r\n$1\r\nA\r\n$1\r\nD\r\n"),
    utf8.encode("!21\r\nSYNTAX invalid syntax\r\n"),
    utf8.encode("*1\r\n$1\r\nC\r\n"),
  ], SHARDS));
  assert.match(blob, /-ERR shardgate: shard 'sessions' failed: SYNTAX invalid syntax\r\n/);
});

Deno.test("mergeReplies() takes an MGET part only when every element is whole and well formed", () => {
  const p = plan("MGET", "a0", "b1", "c2");
  const good = [utf8.encode("*1\r\n$1\r\nA\r\n"), utf8.encode("*1\r\n$1\r\nC\r\n")];
  const withB = (b: string) => text(mergeReplies(p, [good[0], utf8.encode(b), good[1]], SHARDS));
  // Elements the bulk fast path does not read go through the scanner.
  assert.equal(withB("*1\r\n=7\r\ntxt:abc\r\n"), "*3\r\n$1\r\nA\r\n=7\r\ntxt:abc\r\n$1\r\nC\r\n");
  assert.equal(
    withB("*1\r\n|1\r\n+k\r\n+v\r\n$1\r\nB\r\n"),
    "*3\r\n$1\r\nA\r\n|1\r\n+k\r\n+v\r\n$1\r\nB\r\n$1\r\nC\r\n",
  );
  for (
    const bad of [
      "*1\r\n$2\r\nB\r\n", // length says 2, one byte follows
      "*1\r\n$1\r\nBX\r\n", // one byte too many
      "*1\r\n$1\r\nB", // cut short
      "*1\r\n$-2\r\n", // no such null
      "*1\r\n$-10\r\n",
      "*1\r\n$x\r\nB\r\n",
      "*1\r\n$\r\n\r\n",
      "*1\r\n$1\r\nB\r\n$1\r\nZ\r\n", // an element more than announced
      "*1\r\n~1\r\n", // an unfinished set
    ]
  ) {
    const merged = withB(bad);
    assert.match(
      merged,
      /^\*3\r\n\$1\r\nA\r\n-ERR shardgate: shard '[a-z]+' failed: unexpected reply/,
      JSON.stringify(bad),
    );
    assert.ok(merged.endsWith("\r\n$1\r\nC\r\n"), JSON.stringify(bad));
  }
});

Deno.test("mergeReplies() sums DEL, UNLINK, EXISTS and TOUCH, and acknowledges MSET", () => {
  for (const name of ["DEL", "UNLINK", "EXISTS", "TOUCH"]) {
    const p = plan(name, "a0", "b1", "c2");
    const merged = mergeReplies(
      p,
      [":1\r\n", ":0\r\n", ":2\r\n"].map((s) => utf8.encode(s)),
      SHARDS,
    );
    assert.equal(text(merged), ":3\r\n", name);
  }
  const mset = plan("MSET", "a0", "1", "b1", "2");
  assert.equal(
    text(mergeReplies(mset, [utf8.encode("+OK\r\n"), utf8.encode("+OK\r\n")], SHARDS)),
    "+OK\r\n",
  );
});

Deno.test("mergeReplies() answers one error naming the failed shards of a counting command", () => {
  const del = plan("DEL", "a0", "b1", "c2");
  assert.equal(
    text(mergeReplies(del, [
      utf8.encode(":1\r\n"),
      {
        error:
          "ERR shardgate: timeout on 10.0.0.2:6379 before the reply; the command was not retried and may or may not have been applied",
      },
      utf8.encode(":1\r\n"),
    ], SHARDS)),
    "-ERR shardgate: 'del' failed on shard 'sessions' (timeout on 10.0.0.2:6379 before the reply; " +
      "the command was not retried and may or may not have been applied); " +
      "the other 2 shards applied their part\r\n",
  );
  const exists = plan("EXISTS", "a0", "b1", "c2");
  assert.equal(
    text(mergeReplies(exists, [
      utf8.encode("-MASTERDOWN Link with MASTER is down\r\n"),
      utf8.encode(":1\r\n"),
      { error: "ERR shardgate: no node serves reads for shard 'orders'" },
    ], SHARDS)),
    "-ERR shardgate: 'exists' failed on shards 'users' (MASTERDOWN Link with MASTER is down), " +
      "'orders' (no node serves reads for shard 'orders')\r\n",
  );
  const mset = plan("MSET", "a0", "1", "b1", "2");
  assert.equal(
    text(mergeReplies(mset, [utf8.encode("+OK\r\n"), utf8.encode(":1\r\n")], SHARDS)),
    "-ERR shardgate: 'mset' failed on shard 'sessions' (unexpected reply to 'mset' from the shard); " +
      "the other 1 shard applied its part\r\n",
  );
  assert.throws(() => mergeReplies(mset, [utf8.encode("+OK\r\n")], SHARDS), RangeError);
});

Deno.test("mergeBroadcast() answers the shards' common reply, or the first error", () => {
  const sha = utf8.encode("$40\r\n" + "a".repeat(40) + "\r\n");
  assert.equal(mergeBroadcast("script|load", [sha, sha, sha]), sha);
  const err = utf8.encode("-ERR Error compiling script\r\n");
  assert.equal(mergeBroadcast("script|load", [sha, err, sha]), err);
  assert.equal(
    text(mergeBroadcast("script|load", [sha, { error: "ERR shardgate: timeout on x" }])),
    "-ERR shardgate: timeout on x\r\n",
  );
  assert.equal(
    text(mergeBroadcast("function|load", [utf8.encode("$1\r\na\r\n"), utf8.encode("$1\r\nb\r\n")])),
    "-ERR shardgate: 'function|load' got different replies from the shards of this router port\r\n",
  );
});

Deno.test("splitFrame() cuts the client's own frame into the same parts as splitByShard()", () => {
  const cases = [
    ["MGET", ...Array.from({ length: 30 }, (_, i) => `key:${i}`)],
    ["mset", "a1", "v1", "b2", "a much longer value 2", "c4", "", "d5", "v5"],
    ["DEL", "x1", "y2", "z3", "ключ4"],
  ];
  for (const c of cases) {
    const frame = utf8.encode("PADDING" + text(encode(c)) + "*1\r\n$4\r\nPING\r\n");
    const parser = new RequestParser();
    parser.parse(frame, 7, frame.length);
    const stride = c[0].toLowerCase() === "mset" ? 2 : 1;
    const all = parser.args(frame);
    const n = (all.length - 1) / stride;
    const starts = new Int32Array(n), ends = new Int32Array(n), shards = new Int32Array(n);
    let at = 7 + `*${c.length}\r\n`.length + `$${utf8.encode(c[0]).length}\r\n`.length +
      utf8.encode(c[0]).length + 2;
    for (let i = 0; i < c.length - 1; i++) {
      const a = utf8.encode(c[1 + i]);
      const head = `$${a.length}\r\n`.length;
      if (i % stride === 0) {
        const k = i / stride;
        starts[k] = at + head;
        ends[k] = at + head + a.length;
        shards[k] = shardOf(a);
      }
      at += head + a.length + 2;
    }
    const fast = splitFrame(c[0].toLowerCase() as SplitCommand, frame, n, starts, ends, shards)!;
    const slow = splitByShard(args(...c), shardOf)!;
    assert.deepEqual(
      fast.parts.map((p) => [p.shard, decodeCommand(p.frame).slice(1), p.positions]),
      slow.parts.map((p) => [p.shard, decodeCommand(p.frame).slice(1), p.positions]),
      c[0],
    );
    assert.equal(fast.keyCount, slow.keyCount);
  }
});
