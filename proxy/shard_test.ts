/**
 * The proxy against fake nodes, for what a real redis-server cannot do: a
 * reply that stalls half-way, a malformed reply, a reply nobody asked for.
 * Everything else is tested against real servers under tests/.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { always, FakeNode, GET, request, testShard } from "./_test_fake_node.ts";
import { RecordingWriter } from "../telemetry/_test_writer.ts";

Deno.test("Shard retries a read whose reply stalls half-way past the server timeout", async () => {
  // The first node sends half a reply and stalls; the second answers properly.
  const stalling = new FakeNode(always("$5\r\nhel"));
  const good = new FakeNode(always("$5\r\nhello\r\n"));
  const { shard, errors } = testShard(
    [stalling.address, good.address],
    "    timeouts: { server: 200ms }\n    retries: 1\n    hedge: false",
  );
  try {
    shard.start();
    const port = shard.bound()[0].port;
    // Two sequential reads: round robin sends one of them to the stalling node.
    for (let i = 0; i < 2; i++) assertEquals(await request(port, GET, 2), "$5\r\nhello\r\n");
    assert(stalling.commands >= 1, "the stalling node never got a command");
    assert(
      errors.some(([id, kind]) => id === stalling.address && kind === "timeout"),
      JSON.stringify(errors),
    );
  } finally {
    await shard.close(0);
    await stalling.close();
    await good.close();
  }
});

Deno.test("Shard hedges a read that stalls: the other node answers within the hedge delay", async () => {
  const stalling = new FakeNode(always("$5\r\nhel"));
  const good = new FakeNode(always("$5\r\nhello\r\n"));
  const { shard, errors } = testShard(
    [stalling.address, good.address],
    "    timeouts: { server: 5s }\n    hedge: { min_delay: 10ms, max_delay: 10ms }",
  );
  try {
    shard.start();
    const port = shard.bound()[0].port;
    let slowest = 0;
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      assertEquals(await request(port, GET, 2), "$5\r\nhello\r\n");
      slowest = Math.max(slowest, performance.now() - t0);
    }
    assert(stalling.commands >= 1, "the stalling node never got a command");
    // What /metrics exports (ShardCounters.hedges/hedgeWins are never exported).
    const w = new RecordingWriter();
    shard.commandStats!.collect("s", w);
    const hedges = w.find("hedges")[0]?.value ?? 0;
    const wins = w.find("hedgeWins")[0]?.value ?? 0;
    assert(hedges >= 1 && wins >= 1, `hedges ${hedges}, won ${wins}`);
    assert(slowest < 1000, `a read took ${slowest} ms: it waited for the timeout`);
    // Its unanswered reads count against the stalled node as slow.
    const deadline = Date.now() + 3000;
    while (!errors.some(([, k]) => k === "slow") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert(
      errors.some(([id, k]) => id === stalling.address && k === "slow"),
      JSON.stringify(errors),
    );
  } finally {
    await shard.close(0);
    await stalling.close();
    await good.close();
  }
});

Deno.test("Shard treats a malformed reply as a protocol error and retries the read elsewhere", async () => {
  const broken = new FakeNode(always("?garbage\r\n"));
  const good = new FakeNode(always("+fine\r\n"));
  const { shard, errors } = testShard([broken.address, good.address], "    retries: 1");
  try {
    shard.start();
    const port = shard.bound()[0].port;
    for (let i = 0; i < 2; i++) assertEquals(await request(port, GET, 1), "+fine\r\n");
    assert(
      errors.some(([id, kind]) => id === broken.address && kind === "protocol"),
      JSON.stringify(errors),
    );
  } finally {
    await shard.close(0);
    await broken.close();
    await good.close();
  }
});

Deno.test("Shard gives a read the error once retries are exhausted", async () => {
  const broken = new FakeNode(always("?garbage\r\n"));
  const { shard } = testShard([broken.address], "    retries: 1");
  try {
    shard.start();
    const text = await request(shard.bound()[0].port, GET, 1);
    assert(
      /^-ERR shardgate: protocol error on 127\.0\.0\.1:\d+; read failed after 1 attempt\r\n$/
        .test(text),
      text,
    );
  } finally {
    await shard.close(0);
    await broken.close();
  }
});

Deno.test("Shard answers a command whose node sends two replies, then drops that node's connection", async () => {
  // One command, two replies: the second is unasked for; the connection is dropped.
  const chatty = new FakeNode(always("+one\r\n+two\r\n"));
  const { shard, errors } = testShard([chatty.address]);
  try {
    shard.start();
    assertEquals(await request(shard.bound()[0].port, GET, 1), "+one\r\n");
    assert(errors.some(([, kind]) => kind === "protocol"), JSON.stringify(errors));
  } finally {
    await shard.close(0);
    await chatty.close();
  }
});
