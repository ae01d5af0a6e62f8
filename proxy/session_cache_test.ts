import assert from "node:assert/strict";
import { FakeClient, FakeRuntime, resp } from "./_test_fake_runtime.ts";
import { NearCache } from "../cache/mod.ts";
import { FakeNodeSocket, fakeTarget } from "../cache/_test_fake_node.ts";

const SETUP_REPLIES = "%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n+OK\r\n+OK\r\n";
const GET_K = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  assert.equal(cond(), true);
}

/** Resolves after the end of the current event-loop turn (when waiting cache hits are settled). */
function turnEnd(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** A fake shard whose near cache holds `k` = `v`. */
async function cachedRuntime(): Promise<
  { rt: FakeRuntime; cache: NearCache; node: FakeNodeSocket }
> {
  const node = new FakeNodeSocket();
  const cache = new NearCache({
    enabled: true,
    maxKeys: 10,
    maxBytes: 1 << 20,
    minReads: 1,
    maxAgeMs: 60_000,
  });
  cache.serving([fakeTarget("n1:6379", node)]);
  await node.waitWritten("TRACKING");
  node.send(SETUP_REPLIES);
  await until(() => cache.stats().tracking);
  const rt = Object.assign(new FakeRuntime(), { cache });
  const warm = new FakeClient(rt);
  warm.command("GET", "k"); // a miss: forwarded, and the key is fetched on the tracking connection
  rt.nodes[1].main.reply("$1\r\nv\r\n");
  await node.waitWritten(GET_K);
  node.send("$1\r\nv\r\n:-1\r\n");
  await until(() => cache.stats().keys === 1);
  return { rt, cache, node };
}

Deno.test("SessionCore answers a cached GET itself, in order behind a read still at a node", async () => {
  const { rt, cache } = await cachedRuntime();
  const c = new FakeClient(rt);
  c.command("GET", "a");
  const n = rt.nodes.find((x) => x.main.sent.some((s) => s.text.includes("$1\r\na\r\n")))!;
  c.command("GET", "k");
  await turnEnd();
  assert.equal(c.take(), "", "the hit waits for a's reply");
  assert.equal(
    rt.nodes.every((x) => !x.main.sent.some((s) => s.text === GET_K && s.slot.owner === c.core)),
    true,
    "k never reached a node",
  );
  n.main.reply("$1\r\nA\r\n");
  assert.equal(c.take(), "$1\r\nA\r\n$1\r\nv\r\n");
  assert.equal(cache.stats().hits, 1);
  cache.close();
});

Deno.test("SessionCore answers a hit at the end of the turn, not while the turn's other input is read", async () => {
  const { rt, cache } = await cachedRuntime();
  const c = new FakeClient(rt);
  c.command("GET", "k");
  assert.equal(c.take(), "", "not before the turn ends");
  await turnEnd();
  assert.equal(c.take(), "$1\r\nv\r\n");
  assert.equal(cache.stats().hits, 1);
  cache.close();
});

Deno.test("SessionCore forwards a hit whose key was evicted later in the same turn (never the old value)", async () => {
  const { rt, cache } = await cachedRuntime();
  const c = new FakeClient(rt);
  const w = new FakeClient(rt, "writer");
  c.command("GET", "k"); // a hit, waiting for the end of the turn
  w.command("SET", "k", "2"); // read in the same turn: evicts k
  await turnEnd();
  assert.equal(c.take(), "", "not answered from the cache");
  const n = rt.nodes.find((x) =>
    x.main.sent.some((s) => s.text === GET_K && s.slot.owner === c.core)
  );
  assert.ok(n !== undefined, "forwarded to a node");
  n.main.reply("$1\r\n2\r\n");
  assert.equal(c.take(), "$1\r\n2\r\n");
  const st = cache.stats();
  assert.equal(st.hits, 0);
  assert.equal(st.retractedHits, 1);
  cache.close();
});

Deno.test("SessionCore: a hit of a session closed before the turn ends is dropped", async () => {
  const { rt, cache } = await cachedRuntime();
  const c = new FakeClient(rt);
  c.command("GET", "k");
  c.core.close();
  await turnEnd();
  assert.equal(c.take(), "");
  cache.close();
});

Deno.test("SessionCore: a write on the writer port evicts its key before the client sees +OK", async () => {
  const { rt, cache } = await cachedRuntime();
  const w = new FakeClient(rt, "writer");
  w.command("SET", "k", "2");
  assert.equal(cache.stats().keys, 0, "evicted when sent");
  rt.primary!.main.reply("+OK\r\n");
  assert.equal(w.take(), "+OK\r\n");
  assert.equal(cache.stats().evictions.write, 1);
  // The writer port's own reads are never answered from the cache.
  w.command("GET", "k");
  assert.equal(w.take(), "");
  cache.close();
});

Deno.test("SessionCore: a transaction's write evicts its key again at EXEC's reply, before the client sees it", async () => {
  const { rt, cache, node } = await cachedRuntime();
  const w = new FakeClient(rt, "writer");
  w.send(resp("MULTI") + resp("SET", "k", "2") + resp("EXEC"));
  assert.equal(cache.stats().keys, 0, "evicted when sent");
  const pin = rt.primary!.pinned[0];
  pin.frames("+OK\r\n", "+QUEUED\r\n");
  // Before EXEC ran, a reader's miss refilled k with the old value.
  const r = new FakeClient(rt);
  r.command("GET", "k");
  await node.waitWritten(GET_K, 2);
  node.send("$1\r\nv\r\n:-1\r\n");
  await until(() => cache.stats().keys === 1);
  pin.frames("*1\r\n+OK\r\n"); // EXEC's reply: the SET ran
  assert.equal(cache.stats().keys, 0, "evicted again before the client got EXEC's reply");
  assert.equal(w.take(), "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n");
  assert.equal(w.core.modeKind, "mux");
  cache.close();
});
