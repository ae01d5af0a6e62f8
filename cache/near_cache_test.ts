import { deepEqual, equal } from "node:assert/strict";
import { encodeCommand, RequestParser } from "../resp/mod.ts";
import type { CacheConfig } from "../config/types.ts";
import {
  CACHE_PROBE_MS,
  CACHE_RECONNECT_MAX_MS,
  CACHE_RECONNECT_MS,
  CACHE_REFUSED_RETRY_MS,
  CACHE_STALL_MS,
} from "../config/defaults.ts";
import { type CacheClient, NearCache, nilReply, reconnectDelay } from "./near_cache.ts";
import type { TrackerTarget } from "./tracker.ts";
import { FakeNodeSocket, fakeTarget } from "./_test_fake_node.ts";

const td = new TextDecoder();
const CFG: CacheConfig = {
  enabled: true,
  maxKeys: 100,
  maxBytes: 1 << 20,
  minReads: 1,
  maxAgeMs: 60_000,
};
const R2: CacheClient = { role: "readers", proto: 2, db: 0, user: null };
const R3: CacheClient = { role: "readers", proto: 3, db: 0, user: null };
const SETUP_REPLIES = "%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n+OK\r\n+OK\r\n";

function lookup(c: NearCache, args: string[], client = R2, now = 0): string | null {
  const frame = encodeCommand(args);
  const p = new RequestParser();
  p.parse(frame, 0, frame.length);
  const r = c.lookup(p, frame, client, now);
  return r === null ? null : td.decode(r.reply ?? nilReply(client.proto));
}

function write(c: NearCache, args: string[], slot: object): void {
  const frame = encodeCommand(args);
  const p = new RequestParser();
  p.parse(frame, 0, frame.length);
  c.written(p, frame, slot);
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  equal(cond(), true);
}

/**
 * Lets the tracking connection's requests be answered (the fake node answers
 * a probe at once): what the event loop does between reads seconds apart,
 * which a test's synchronous `now` jumps skip.
 */
function answered(cache: NearCache): Promise<void> {
  return until(() => cache.stats().inFlight === 0);
}

/** A cache tracking a fake node, set up and ready. */
async function tracked(cfg = CFG): Promise<{ cache: NearCache; node: FakeNodeSocket }> {
  const node = new FakeNodeSocket();
  const cache = new NearCache(cfg);
  cache.serving([fakeTarget("n1:6379", node)]);
  await node.waitWritten("TRACKING");
  node.send(SETUP_REPLIES);
  await until(() => cache.stats().tracking);
  return { cache, node };
}

const GET_K = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";

/**
 * Reads `k` once (a miss), answers its fill — the `nth` `GET k` the node
 * saw — with `replies` (the GET's reply, then the PTTL's), and waits until
 * `k` is cached.
 */
async function fillK(
  cache: NearCache,
  node: FakeNodeSocket,
  replies = "$1\r\n1\r\n:-1\r\n",
  nth = 1,
): Promise<void> {
  lookup(cache, ["GET", "k"]);
  await node.waitWritten(GET_K, nth);
  node.send(replies);
  await until(() => cache.stats().keys === 1);
}
const INVALIDATE_K = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";

Deno.test("NearCache sets the tracking connection up: RESP3 and CLIENT TRACKING on", async () => {
  const { cache, node } = await tracked();
  equal(node.written.includes("HELLO\r\n$1\r\n3"), true);
  equal(node.written.includes("$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non"), true);
  cache.close();
});

Deno.test("NearCache.lookup() fills a hot key over the tracking connection, then answers it", async () => {
  const { cache, node } = await tracked();
  equal(lookup(cache, ["GET", "k"]), null);
  await node.waitWritten(GET_K);
  node.send("$5\r\nhello\r\n:-1\r\n");
  await until(() => cache.stats().keys === 1);
  equal(lookup(cache, ["GET", "k"]), "$5\r\nhello\r\n");
  equal(lookup(cache, ["get", "k"], R3), "$5\r\nhello\r\n");
  const s = cache.stats();
  equal(s.hits, 2);
  equal(s.misses, 1);
  equal(s.admissions, 1);
  cache.close();
});

Deno.test("NearCache answers a cached nil in the client's protocol", async () => {
  const { cache, node } = await tracked();
  await fillK(cache, node, "_\r\n:-2\r\n");
  equal(lookup(cache, ["GET", "k"], R2), "$-1\r\n");
  equal(lookup(cache, ["GET", "k"], R3), "_\r\n");
  cache.close();
});

Deno.test("NearCache drops a fill when the invalidation arrives before its reply is complete", async () => {
  const { cache, node } = await tracked();
  lookup(cache, ["GET", "k"]);
  await node.waitWritten(GET_K);
  // The key changed between the GET and the PTTL: the push comes in between.
  node.send("$3\r\nold\r\n" + INVALIDATE_K + ":-1\r\n");
  await until(() => cache.stats().racedFills === 1);
  equal(cache.stats().keys, 0);
  equal(lookup(cache, ["GET", "k"]), null);
  cache.close();
});

Deno.test("NearCache: an invalidation evicts, and the next read refills", async () => {
  const { cache, node } = await tracked();
  await fillK(cache, node);
  node.send(INVALIDATE_K);
  await until(() => cache.stats().keys === 0);
  equal(cache.stats().invalidations, 1);
  equal(lookup(cache, ["GET", "k"]), null);
  await node.waitWritten(GET_K, 2);
  node.send("$1\r\n2\r\n:-1\r\n");
  await until(() => cache.stats().keys === 1);
  equal(lookup(cache, ["GET", "k"]), "$1\r\n2\r\n");
  cache.close();
});

Deno.test("NearCache: a null invalidation (FLUSHALL) evicts everything and voids fills in flight", async () => {
  const { cache, node } = await tracked();
  await fillK(cache, node);
  lookup(cache, ["GET", "j"]);
  await node.waitWritten("$1\r\nj\r\n", 2);
  node.send(">2\r\n$10\r\ninvalidate\r\n_\r\n$1\r\nx\r\n:-1\r\n");
  await until(() => cache.stats().flushes === 1);
  await until(() => cache.stats().racedFills === 1);
  equal(cache.stats().keys, 0);
  equal(cache.stats().evictions.flush, 1);
  cache.close();
});

Deno.test("NearCache: the tracking connection breaking drops everything it fed", async () => {
  const { cache, node } = await tracked();
  await fillK(cache, node);
  node.close();
  await until(() => cache.stats().keys === 0);
  equal(cache.stats().evictions.connection, 1);
  cache.close();
});

Deno.test("NearCache: its node no longer serving drops everything; it moves to another", async () => {
  const { cache, node } = await tracked();
  await fillK(cache, node);
  const other = new FakeNodeSocket();
  cache.serving([fakeTarget("n2:6379", other)]);
  equal(cache.stats().keys, 0);
  equal(cache.stats().evictions.node, 1);
  equal(cache.stats().node, "n2:6379");
  await other.waitWritten("TRACKING");
  cache.close();
});

Deno.test("NearCache tells its events when tracking starts, and what each end took", async () => {
  const events: string[] = [];
  const node = new FakeNodeSocket();
  const cache = new NearCache(CFG, {
    tracking: (n) => events.push(`tracking ${n}`),
    trackingEnded: (n, why, dropped) => events.push(`ended ${n}: ${why}, ${dropped}`),
  });
  cache.serving([fakeTarget("n1:6379", node)]);
  await node.waitWritten("TRACKING");
  equal(events.length, 0, "not before the setup is answered");
  node.send(SETUP_REPLIES);
  await until(() => cache.stats().tracking);
  await fillK(cache, node);
  const other = new FakeNodeSocket();
  cache.serving([fakeTarget("n2:6379", other)]);
  await other.waitWritten("TRACKING");
  other.send(SETUP_REPLIES);
  await until(() => cache.stats().tracking);
  other.close();
  await until(() => events.length === 4);
  cache.close();
  deepEqual(events, [
    "tracking n1:6379",
    "ended n1:6379: node stopped serving, 1",
    "tracking n2:6379",
    "ended n2:6379: connection lost, 0",
  ]);
});

Deno.test("NearCache never serves an entry past the key's TTL", async () => {
  const { cache, node } = await tracked();
  lookup(cache, ["GET", "k"], R2, 1000);
  await node.waitWritten(GET_K);
  node.send("$1\r\n1\r\n:50\r\n");
  await until(() => cache.stats().keys === 1);
  equal(lookup(cache, ["GET", "k"], R2, 1049), "$1\r\n1\r\n");
  equal(lookup(cache, ["GET", "k"], R2, 1050), null);
  equal(cache.stats().evictions.expired, 1);
  cache.close();
});

Deno.test("NearCache: a write through the sidecar evicts its keys at send and at its reply", async () => {
  const { cache, node } = await tracked();
  await fillK(cache, node);
  const slot = {};
  write(cache, ["SET", "k", "2"], slot);
  equal(cache.stats().keys, 0);
  // A fill that read the old value before the write reached the node…
  await fillK(cache, node, "$1\r\n1\r\n:-1\r\n", 2);
  // …is evicted when the write is acknowledged, before the client sees it.
  cache.acked(slot);
  equal(cache.stats().keys, 0);
  equal(cache.stats().evictions.write, 2);
  cache.close();
});

Deno.test("NearCache: a FLUSHALL through the sidecar evicts everything", async () => {
  const { cache, node } = await tracked();
  await fillK(cache, node);
  const slot = {};
  write(cache, ["FLUSHALL"], slot);
  equal(cache.stats().keys, 0);
  cache.acked(slot);
  cache.close();
});

Deno.test("NearCache.lookup() answers MGET only when every key is cached", async () => {
  const { cache, node } = await tracked();
  equal(lookup(cache, ["MGET", "a", "b"]), null);
  await node.waitWritten("$1\r\nb\r\n", 2);
  node.send("$1\r\n1\r\n:-1\r\n_\r\n:-2\r\n");
  await until(() => cache.stats().keys === 2);
  equal(lookup(cache, ["MGET", "a", "b"], R2), "*2\r\n$1\r\n1\r\n$-1\r\n");
  equal(lookup(cache, ["MGET", "a", "b"], R3), "*2\r\n$1\r\n1\r\n_\r\n");
  equal(lookup(cache, ["MGET", "a", "c"]), null);
  cache.close();
});

Deno.test("NearCache.lookup() leaves other databases, own users and the writer port to the node", async () => {
  const { cache, node } = await tracked();
  await fillK(cache, node);
  equal(lookup(cache, ["GET", "k"], { ...R2, db: 1 }), null);
  equal(lookup(cache, ["GET", "k"], { ...R2, user: {} }), null);
  equal(lookup(cache, ["GET", "k"], { ...R2, role: "writer" }), null);
  deepEqual(lookup(cache, ["GET", "k"]), "$1\r\n1\r\n");
  cache.close();
});

Deno.test("NearCache fetches an MGET's missing keys only when every one of them is hot", async () => {
  const { cache, node } = await tracked({ ...CFG, minReads: 2 }); // hot: 7 reads within 2 s
  const getOf = (k: string) => `*2\r\n$3\r\nGET\r\n$${k.length}\r\n${k}\r\n`;
  // "a" is read often, each time beside a key read once: the MGET could never be answered.
  for (let i = 0; i < 8; i++) equal(lookup(cache, ["MGET", "a", `cold${i}`]), null);
  await new Promise((r) => setTimeout(r, 0)); // the tracker writes in a microtask
  equal(node.written.includes(getOf("a")), false, "a was not fetched");
  // "a" and "b" read together often: both fetched, then the MGET is answered.
  for (let i = 0; i < 7; i++) lookup(cache, ["MGET", "a", "b"]);
  await node.waitWritten(getOf("a") + "*2\r\n$4\r\nPTTL\r\n$1\r\na\r\n" + getOf("b"));
  node.send("$1\r\nA\r\n:-1\r\n$1\r\nB\r\n:-1\r\n");
  await until(() => cache.stats().keys === 2);
  equal(lookup(cache, ["MGET", "a", "b"]), "*2\r\n$1\r\nA\r\n$1\r\nB\r\n");
  cache.close();
});

Deno.test("NearCache: an MGET stops at its first key that is missing and not wanted", async () => {
  const { cache, node } = await tracked({ ...CFG, minReads: 2 }); // room: 2 reads let a key in
  const getOf = (k: string) => `*2\r\n$3\r\nGET\r\n$${k.length}\r\n${k}\r\n`;
  // "b" read 8 times, each behind a key read once: never looked up nor counted there.
  for (let i = 0; i < 8; i++) equal(lookup(cache, ["MGET", `cold${i}`, "b"]), null);
  equal(lookup(cache, ["GET", "b"]), null); // its first counted read: not yet 2
  await new Promise((r) => setTimeout(r, 0)); // the tracker writes in a microtask
  equal(node.written.includes(getOf("b")), false, "b was not fetched");
  // Its second counted read lets it in.
  equal(lookup(cache, ["GET", "b"]), null);
  await node.waitWritten(getOf("b"));
  cache.close();
});

Deno.test("NearCache fetches at once a key whose entry expired after answering reads", async () => {
  const { cache, node } = await tracked({ ...CFG, minReads: 3 });
  const GET_J = "*2\r\n$3\r\nGET\r\n$1\r\nj\r\n";
  // Three reads each within a moment: both keys are hot enough, each is fetched (TTL 1 s).
  for (let t = 0; t < 3; t++) equal(lookup(cache, ["GET", "k"], R2, t), null);
  await node.waitWritten(GET_K);
  node.send("$1\r\n1\r\n:1000\r\n");
  for (let t = 0; t < 3; t++) equal(lookup(cache, ["GET", "j"], R2, t), null);
  await node.waitWritten(GET_J);
  node.send("$1\r\n2\r\n:1000\r\n");
  await until(() => cache.stats().keys === 2);
  equal(lookup(cache, ["GET", "k"], R2, 500), "$1\r\n1\r\n");
  await answered(cache);
  // Long after both expired (the admission counts have long decayed): one read each. `j` was
  // never read from the cache, so it must earn its place again; `k` is fetched at once.
  equal(lookup(cache, ["GET", "j"], R2, 100_000), null);
  equal(lookup(cache, ["GET", "k"], R2, 100_000), null);
  await node.waitWritten(GET_K, 2);
  equal(node.written.split(GET_J).length - 1, 1, "j is not fetched again");
  node.send("$1\r\n3\r\n:-1\r\n");
  await until(() => cache.stats().keys === 1);
  equal(lookup(cache, ["GET", "k"], R2, 100_001), "$1\r\n3\r\n");
  equal(cache.stats().evictions.expired, 2);
  cache.close();
});

Deno.test("NearCache fetches a key read in its max age's last quarter again, so it never expires into a miss", async () => {
  const { cache, node } = await tracked(); // max age 60 s: refreshed from 45 s on
  await fillK(cache, node); // filled at 0
  equal(lookup(cache, ["GET", "k"], R2, 44_000), "$1\r\n1\r\n");
  await answered(cache);
  equal(lookup(cache, ["GET", "k"], R2, 50_000), "$1\r\n1\r\n", "still answered meanwhile");
  await node.waitWritten(GET_K, 2);
  equal(node.written.split(GET_K).length - 1, 2, "one refresh, sent at 50 s (not at 44 s)");
  equal(lookup(cache, ["GET", "k"], R2, 50_001), "$1\r\n1\r\n");
  node.send("$1\r\n1\r\n:-1\r\n");
  await until(() => cache.stats().refreshes === 1);
  // Past the first deadline: answered until 50 s + 60 s.
  equal(lookup(cache, ["GET", "k"], R2, 70_000), "$1\r\n1\r\n");
  await answered(cache);
  equal(lookup(cache, ["GET", "k"], R2, 110_000), null);
  const s = cache.stats();
  equal(s.admissions, 1);
  equal(s.misses, 2, "the first read and the one past the refreshed deadline");
  equal(s.evictions.expired, 1);
  cache.close();
});

Deno.test("NearCache: a refresh whose key is invalidated on the way is dropped with the entry", async () => {
  const { cache, node } = await tracked();
  await fillK(cache, node);
  equal(lookup(cache, ["GET", "k"], R2, 50_000), "$1\r\n1\r\n");
  await node.waitWritten(GET_K, 2);
  node.send(INVALIDATE_K + "$1\r\n2\r\n:-1\r\n");
  await until(() => cache.stats().racedFills === 1);
  equal(cache.stats().keys, 0);
  equal(cache.stats().refreshes, 0);
  equal(lookup(cache, ["GET", "k"], R2, 50_001), null);
  cache.close();
});

Deno.test("NearCache does not refresh an entry whose key's own TTL ends first", async () => {
  const { cache, node } = await tracked();
  await fillK(cache, node, "$1\r\n1\r\n:30000\r\n"); // TTL 30 s: deadline 30 s, not 60 s
  equal(lookup(cache, ["GET", "k"], R2, 29_000), "$1\r\n1\r\n");
  // A miss of another key is written after any refresh of k would have been.
  equal(lookup(cache, ["GET", "j"], R2, 29_000), null);
  await node.waitWritten("*2\r\n$3\r\nGET\r\n$1\r\nj\r\n");
  equal(node.written.split(GET_K).length - 1, 1, "k was not fetched again");
  equal(lookup(cache, ["GET", "k"], R2, 30_000), null);
  cache.close();
});

Deno.test("NearCache: an MGET answered in its keys' max age's last quarter fetches them again", async () => {
  const { cache, node } = await tracked();
  equal(lookup(cache, ["MGET", "a", "b"]), null);
  await node.waitWritten("$1\r\nb\r\n", 2);
  node.send("$1\r\n1\r\n:-1\r\n$1\r\n2\r\n:-1\r\n");
  await until(() => cache.stats().keys === 2);
  equal(lookup(cache, ["MGET", "a", "b"], R2, 50_000), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
  await node.waitWritten("$1\r\nb\r\n", 4);
  node.send("$1\r\n1\r\n:-1\r\n$1\r\n2\r\n:-1\r\n");
  await until(() => cache.stats().refreshes === 2);
  equal(lookup(cache, ["MGET", "a", "b"], R2, 70_000), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
  cache.close();
});

Deno.test("NearCache goes lean when it answers too few reads, holds only hot keys then, and comes back", async () => {
  // Admission: 2 reads while there is room, 7 (hot) otherwise; windows of 10 s, 2,000 reads.
  const { cache, node } = await tracked({ ...CFG, minReads: 2 });
  const getOf = (k: string) => `*2\r\n$3\r\nGET\r\n$${k.length}\r\n${k}\r\n`;
  const fetched = (k: string) => node.written.includes(getOf(k));
  // Window 1 (0–10 s): 20 warm keys get in by the lower bar (two reads each)...
  for (let i = 0; i < 20; i++) for (let r = 0; r < 2; r++) lookup(cache, ["GET", `w${i}`], R2, 1);
  await node.waitWritten(getOf("w19"));
  node.send("$1\r\nv\r\n:-1\r\n".repeat(20));
  await until(() => cache.stats().keys === 20);
  // ...but the window's reads are mostly of keys read once: 20 hits in 2,020 reads.
  for (let i = 0; i < 20; i++) equal(lookup(cache, ["GET", `w${i}`], R2, 2), "$1\r\nv\r\n");
  for (let i = 0; i < 1_960; i++) lookup(cache, ["GET", `cold${i}`], R2, 3);
  equal(cache.stats().lean, false);
  // The first read of the next window judges it: lean, and the entries go.
  equal(lookup(cache, ["GET", "w0"], R2, 10_001), null);
  equal(cache.stats().lean, true);
  equal(cache.stats().keys, 0);
  equal(cache.stats().evictions.lean, 20);
  // Lean: two reads no longer let a key in; seven (hot) do.
  lookup(cache, ["GET", "x"], R2, 10_002);
  lookup(cache, ["GET", "x"], R2, 10_002);
  for (let r = 0; r < 7; r++) lookup(cache, ["GET", "h"], R2, 10_003);
  await node.waitWritten(getOf("h"));
  equal(
    fetched("x"),
    false,
    "x, read twice before h, was not fetched while lean (fills go in order)",
  );
  node.send("$1\r\nH\r\n:-1\r\n");
  await until(() => cache.stats().keys === 1);
  // Lean, windows are 1 s: the hot key answers most reads of this one, and the first read of
  // the next finds the cache filling free space again.
  for (let i = 0; i < 300; i++) equal(lookup(cache, ["GET", "h"], R2, 10_500), "$1\r\nH\r\n");
  await answered(cache);
  lookup(cache, ["GET", "y"], R2, 11_002);
  equal(cache.stats().lean, false);
  lookup(cache, ["GET", "y"], R2, 11_002);
  await node.waitWritten(getOf("y"));
  cache.close();
});

Deno.test("NearCache does not judge a window of too few reads, nor one with min_reads 1", async () => {
  for (const [minReads, reads] of [[2, 1_000], [1, 3_000]]) {
    const { cache } = await tracked({ ...CFG, minReads, maxKeys: 10 });
    for (let i = 0; i < reads; i++) lookup(cache, ["GET", `cold${i}`], R2, i);
    equal(lookup(cache, ["GET", "a"], R2, 10_001), null);
    equal(cache.stats().lean, false, `min_reads ${minReads}, ${reads} reads, none answered`);
    cache.close();
  }
});

Deno.test("NearCache probes its node while it answers, and forwards reads while the node leaves a probe unanswered", async () => {
  const { cache, node } = await tracked();
  await fillK(cache, node); // filled at 0
  equal(node.pings, 0, "the fill itself was the last request");
  node.stalled = true; // from now on the node answers nothing
  equal(lookup(cache, ["GET", "k"], R2, CACHE_PROBE_MS), "$1\r\n1\r\n");
  await until(() => node.pings === 1); // nothing in flight for CACHE_PROBE_MS: a probe
  const stallAt = CACHE_PROBE_MS + CACHE_STALL_MS;
  equal(
    lookup(cache, ["GET", "k"], R2, stallAt),
    "$1\r\n1\r\n",
    "unanswered for CACHE_STALL_MS: not yet",
  );
  equal(lookup(cache, ["GET", "k"], R2, stallAt + 1), null, "past it: the node is stalled");
  equal(lookup(cache, ["GET", "k"], R2, stallAt + 50), null);
  let s = cache.stats();
  equal(s.stalledReads, 2);
  equal(s.misses, 3, "the first read and the two forwarded");
  equal(s.keys, 1, "a stall drops nothing: the node has not said anything changed");
  equal(node.pings, 1, "one probe in flight at a time");
  // A read the cache never answers is no forwarded read of its own, stall or not.
  equal(lookup(cache, ["LRANGE", "l", "0", "-1"], R2, stallAt + 51), null);
  equal(cache.stats().stalledReads, 2);
  equal(cache.stats().misses, 3);
  node.stalled = false; // it answers the probe
  await answered(cache);
  equal(lookup(cache, ["GET", "k"], R2, stallAt + 60), "$1\r\n1\r\n");
  s = cache.stats();
  equal(s.stalledReads, 2);
  equal(s.hits, 3);
  cache.close();
});

Deno.test("NearCache sends no probes while it holds nothing, nor while a fill is in flight", async () => {
  const { cache, node } = await tracked({ ...CFG, minReads: 1_000 });
  for (let t = 0; t < 1_000; t += 5) lookup(cache, ["GET", `cold${t}`], R2, t);
  equal(node.pings, 0, "an empty cache has nothing to be stale about");
  cache.close();
  const two = await tracked();
  await fillK(two.cache, two.node); // k held
  lookup(two.cache, ["GET", "j"], R2, 0); // j's fill goes out, and stays unanswered
  await two.node.waitWritten("$1\r\nj\r\n");
  for (let t = 2; t <= CACHE_STALL_MS; t += 2) {
    equal(lookup(two.cache, ["GET", "k"], R2, t), "$1\r\n1\r\n");
  }
  equal(two.node.pings, 0, "the fill in flight asks what a probe would");
  equal(lookup(two.cache, ["GET", "k"], R2, CACHE_STALL_MS + 1), null, "and it can stall too");
  equal(two.cache.stats().stalledReads, 1);
  two.cache.close();
});

Deno.test("NearCache answers HGET, HGETALL and EXISTS from their own entries, in the client's protocol", async () => {
  const { cache, node } = await tracked();
  equal(lookup(cache, ["HGETALL", "h"]), null);
  await node.waitWritten("*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n*2\r\n$4\r\nPTTL\r\n$1\r\nh\r\n");
  node.send("%1\r\n$1\r\nf\r\n$1\r\nv\r\n:-1\r\n");
  await until(() => cache.stats().keys === 1);
  equal(lookup(cache, ["HGETALL", "h"], R3), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
  equal(lookup(cache, ["hgetall", "h"], R2), "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
  equal(lookup(cache, ["HGET", "h", "f"]), null);
  await node.waitWritten("*3\r\n$4\r\nHGET\r\n$1\r\nh\r\n$1\r\nf\r\n*2\r\n$4\r\nPTTL");
  node.send("$1\r\nv\r\n:-1\r\n");
  equal(lookup(cache, ["HGET", "h", "nope"]), null);
  await node.waitWritten("$4\r\nnope\r\n");
  node.send("_\r\n:-1\r\n");
  equal(lookup(cache, ["EXISTS", "h"]), null);
  await node.waitWritten("*2\r\n$6\r\nEXISTS\r\n$1\r\nh\r\n");
  node.send(":1\r\n:-1\r\n");
  await until(() => cache.stats().keys === 4);
  equal(lookup(cache, ["HGET", "h", "f"], R2), "$1\r\nv\r\n");
  equal(lookup(cache, ["HGET", "h", "nope"], R2), "$-1\r\n");
  equal(lookup(cache, ["HGET", "h", "nope"], R3), "_\r\n");
  equal(lookup(cache, ["EXISTS", "h"], R2), ":1\r\n");
  equal(lookup(cache, ["EXISTS", "h"], R3), ":1\r\n");
  // GET of the same key is another entry (none yet).
  equal(lookup(cache, ["GET", "h"]), null);
  cache.close();
});

Deno.test("NearCache: a missing key's HGETALL and EXISTS are kept as the node said them", async () => {
  const { cache, node } = await tracked();
  lookup(cache, ["HGETALL", "gone"]);
  lookup(cache, ["EXISTS", "gone"]);
  await node.waitWritten("$6\r\nEXISTS\r\n");
  node.send("%0\r\n:-2\r\n:0\r\n:-2\r\n");
  await until(() => cache.stats().keys === 2);
  equal(lookup(cache, ["HGETALL", "gone"], R2), "*0\r\n");
  equal(lookup(cache, ["HGETALL", "gone"], R3), "%0\r\n");
  equal(lookup(cache, ["EXISTS", "gone"]), ":0\r\n");
  cache.close();
});

Deno.test("NearCache: a change to a key evicts every read's entry of it and voids their fills", async () => {
  const { cache, node } = await tracked();
  lookup(cache, ["HGETALL", "h"]);
  lookup(cache, ["HGET", "h", "f"]);
  await node.waitWritten("$4\r\nHGET\r\n");
  node.send("%1\r\n$1\r\nf\r\n$1\r\nv\r\n:-1\r\n$1\r\nv\r\n:-1\r\n");
  await until(() => cache.stats().keys === 2);
  // The node's invalidation of h: both go.
  node.send(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nh\r\n");
  await until(() => cache.stats().keys === 0);
  equal(cache.stats().evictions.invalidated, 2);
  // A fill in flight when h changes is dropped, whatever read it was for.
  lookup(cache, ["EXISTS", "h"]);
  await node.waitWritten("$6\r\nEXISTS\r\n");
  node.send(":1\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nh\r\n:-1\r\n");
  await until(() => cache.stats().racedFills === 1);
  equal(cache.stats().keys, 0);
  // A write through this sidecar evicts them too.
  lookup(cache, ["HGET", "h", "f"]);
  await node.waitWritten("$4\r\nHGET\r\n", 2);
  node.send("$1\r\nv\r\n:-1\r\n");
  await until(() => cache.stats().keys === 1);
  write(cache, ["HSET", "h", "f", "w"], {});
  equal(cache.stats().keys, 0);
  equal(cache.stats().evictions.write, 1);
  cache.close();
});

Deno.test("NearCache: an error reply to another read's fill keeps nothing", async () => {
  const { cache, node } = await tracked();
  lookup(cache, ["HGETALL", "s"]);
  await node.waitWritten("$7\r\nHGETALL\r\n");
  node.send("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:-1\r\n");
  await answered(cache);
  equal(cache.stats().keys, 0);
  equal(lookup(cache, ["HGETALL", "s"]), null);
  cache.close();
});

Deno.test("NearCache: a key whose fill the node refused is not asked for again for a while", async () => {
  const { cache, node } = await tracked(); // min_reads 1: every miss asks
  const count = (text: string) => node.written.split(text).length - 1;
  const WRONGTYPE = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:-1\r\n";
  // A hash read with GET: the fill is refused.
  equal(lookup(cache, ["GET", "k"], R2, 0), null);
  await node.waitWritten(GET_K);
  node.send(WRONGTYPE);
  await answered(cache);
  equal(cache.stats().refusedFills, 1);
  // Its reads go on being forwarded, without a fill each.
  for (let now = 1; now < CACHE_REFUSED_RETRY_MS; now += 100) {
    equal(lookup(cache, ["GET", "k"], R2, now), null);
  }
  await new Promise((r) => setTimeout(r, 0)); // the tracker writes in a microtask
  equal(count(GET_K), 1, "no fill while refused");
  // Past the wait it is asked again (the key may have changed type).
  lookup(cache, ["GET", "k"], R2, CACHE_REFUSED_RETRY_MS + 1);
  await node.waitWritten(GET_K, 2);
  node.send("$1\r\nv\r\n:-1\r\n");
  await until(() => cache.stats().keys === 1);
  // The same for another read's entry.
  const HGET_S = "*3\r\n$4\r\nHGET\r\n$1\r\ns\r\n$1\r\nf\r\n";
  equal(lookup(cache, ["HGET", "s", "f"], R2, 2_000), null);
  await node.waitWritten(HGET_S);
  node.send(WRONGTYPE);
  await answered(cache);
  equal(lookup(cache, ["HGET", "s", "f"], R2, 2_500), null);
  await new Promise((r) => setTimeout(r, 0));
  equal(count(HGET_S), 1, "no fill of the HGET while refused");
  equal(cache.stats().refusedFills, 2);
  cache.close();
});

Deno.test("reconnectDelay(): doubles from CACHE_RECONNECT_MS per end in a row, up to CACHE_RECONNECT_MAX_MS", () => {
  deepEqual([1, 2, 3, 4].map(reconnectDelay), [100, 200, 400, 800]);
  equal(reconnectDelay(8), CACHE_RECONNECT_MAX_MS);
  equal(reconnectDelay(50), CACHE_RECONNECT_MAX_MS);
  equal(reconnectDelay(0), CACHE_RECONNECT_MS);
});

Deno.test("NearCache backs off from a node that refuses tracking, and moves at once when the nodes change", async () => {
  const events: string[] = [];
  const cache = new NearCache(CFG, {
    tracking: (n) => events.push(`tracking ${n}`),
    trackingEnded: (n, why, _dropped, streak) => events.push(`ended ${n}: ${why} #${streak}`),
  });
  // Redis 5, or a user without CLIENT: the setup is refused on every connection.
  let dials = 0;
  const refusing: TrackerTarget = {
    id: "old:6379",
    auth: null,
    dial: () => {
      dials++;
      const s = new FakeNodeSocket();
      void s.waitWritten("TRACKING").then(() => s.send("-ERR unknown command 'HELLO'\r\n"));
      return Promise.resolve(s);
    },
  };
  cache.serving([refusing]);
  await until(() => events.length === 3); // after 100 ms, then 200 ms more
  deepEqual(events, [
    "ended old:6379: setup refused #1",
    "ended old:6379: setup refused #2",
    "ended old:6379: setup refused #3",
  ]);
  equal(dials, 3, "the fourth waits 400 ms");
  // Another node serves: no waiting out the backoff; once set up, a later end is the first again.
  const node = new FakeNodeSocket();
  cache.serving([fakeTarget("n2:6379", node)]);
  equal(cache.stats().node, "n2:6379", "opened at once, not after the 400 ms");
  await node.waitWritten("TRACKING");
  node.send(SETUP_REPLIES);
  await until(() => cache.stats().tracking);
  node.close();
  await until(() => events.length === 5);
  cache.close();
  deepEqual(events.slice(3), ["tracking n2:6379", "ended n2:6379: connection lost #1"]);
  equal(dials, 3);
});
