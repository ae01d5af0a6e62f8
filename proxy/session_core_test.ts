import assert from "node:assert/strict";
import { FakeClient, FakeRuntime, resp } from "./_test_fake_runtime.ts";
import { encodeCursor } from "./_scan.ts";

Deno.test("SessionCore keeps the client's order when replies come back from two nodes out of order", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt);
  c.command("GET", "a"); // one batch → n1
  c.command("GET", "b"); // next batch → n2
  const [n1, n2] = [rt.nodes[1], rt.nodes[2]];
  assert.equal(n1.main.sent.length, 1);
  assert.equal(n2.main.sent.length, 1);
  n2.main.reply("$1\r\nB\r\n");
  assert.equal(c.take(), "", "b's reply waits for a's");
  n1.main.reply("$1\r\nA\r\n");
  assert.equal(c.take(), "$1\r\nA\r\n$1\r\nB\r\n");
});

Deno.test("SessionCore retries a read on another node when its connection breaks, never a write", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt, "writer");
  rt.readers = [];
  c.command("SET", "k", "v");
  rt.primary!.main.fail();
  assert.match(
    c.take(),
    /^-ERR shardgate: connection lost on n0:6379 before the reply; the command was not retried/,
  );

  const r = new FakeClient(new FakeRuntime());
  const [, n1, n2] = r.rt.nodes;
  r.command("GET", "k");
  n1.main.fail();
  assert.equal(n2.main.sent.length, 1, "re-sent to the other replica");
  assert.equal(r.rt.counters.retries, 1);
  n2.main.reply("$1\r\nv\r\n");
  assert.equal(r.take(), "$1\r\nv\r\n");
});

Deno.test("SessionCore pins for MULTI after earlier replies are out, and goes back after EXEC", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt, "writer");
  const p = rt.primary!;
  c.send(
    resp("GET", "a") + resp("MULTI") + resp("SET", "k", "v") + resp("EXEC") + resp("GET", "b"),
  );
  assert.equal(c.core.modeKind, "waiting", "MULTI waits for GET a's reply");
  assert.equal(p.pinned.length, 0);
  p.main.reply("$1\r\nA\r\n");
  assert.equal(c.core.modeKind, "pinned");
  assert.equal(p.pinned.length, 1);
  const pin = p.pinned[0];
  assert.equal(pin.text, resp("MULTI") + resp("SET", "k", "v") + resp("EXEC") + resp("GET", "b"));
  pin.frames("+OK\r\n", "+QUEUED\r\n", "*1\r\n+OK\r\n");
  assert.equal(c.core.modeKind, "pinned", "GET b's reply is still owed");
  pin.frames("$1\r\nB\r\n");
  assert.equal(c.core.modeKind, "mux");
  assert.equal(pin.closed, true, "the freed connection is closed");
  assert.equal(c.take(), "$1\r\nA\r\n+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n$1\r\nB\r\n");
  c.command("GET", "c");
  assert.equal(p.main.sent.length, 2, "multiplexed again");
});

Deno.test("SessionCore keeps a WATCH pinned until EXEC, and a subscriber until its last UNSUBSCRIBE", () => {
  const rt = new FakeRuntime();
  const w = new FakeClient(rt, "writer");
  w.command("WATCH", "k");
  const pin = rt.primary!.pinned[0];
  pin.frames("+OK\r\n");
  assert.equal(w.core.modeKind, "pinned", "a watch holds the pin");
  w.command("UNWATCH");
  pin.frames("+OK\r\n");
  assert.equal(w.core.modeKind, "mux");

  const s = new FakeClient(rt, "readers");
  s.command("SUBSCRIBE", "a", "b");
  const sp = rt.nodes[1].pinned[0] ?? rt.nodes[2].pinned[0];
  sp.frames(
    "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
    "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
  );
  sp.frames("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n");
  s.command("UNSUBSCRIBE", "a");
  sp.frames("*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n");
  assert.equal(s.core.modeKind, "pinned", "still subscribed to b");
  s.command("UNSUBSCRIBE");
  sp.frames("*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n");
  assert.equal(s.core.modeKind, "mux");
  assert.equal(sp.closed, true);
  assert.match(s.take(), /message\r\n\$1\r\na\r\n\$2\r\nhi/);
});

Deno.test("SessionCore un-pins after a blocking command's reply and after CLIENT REPLY ON", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt, "writer");
  c.command("BLPOP", "q", "0");
  const pin = rt.primary!.pinned[0];
  assert.equal(c.core.pendingSince(), -1, "a blocking command has no server timeout");
  pin.frames("*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
  assert.equal(c.core.modeKind, "mux");

  c.command("CLIENT", "REPLY", "OFF");
  const pin2 = rt.primary!.pinned[1];
  c.command("SET", "a", "1");
  assert.equal(c.core.modeKind, "pinned", "replies off: nothing owed, still pinned");
  c.command("CLIENT", "REPLY", "ON");
  pin2.frames("+OK\r\n");
  assert.equal(c.core.modeKind, "mux");
});

Deno.test("SessionCore switches protocol mid-pipeline: HELLO 3 then commands on RESP3 connections", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt);
  c.send(resp("HELLO", "3") + resp("GET", "a") + resp("GET", "b"));
  assert.equal(c.core.proto, 3);
  assert.equal(c.core.pinned, false);
  const out = c.take();
  assert.match(out, /^%7\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n/);
  assert.match(out, /\$5\r\nproto\r\n:3\r\n\$2\r\nid\r\n:\d+\r\n/);
  assert.match(out, /\$4\r\nrole\r\n\$7\r\nreplica\r\n/);
  const sent = rt.nodes.flatMap((n) => [...n.mux.values()]).filter((m) => m.sent.length > 0);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].proto, 3);
  assert.equal(sent[0].sent.length, 2);
  sent[0].reply("$1\r\nA\r\n");
  sent[0].reply("_\r\n");
  assert.equal(c.take(), "$1\r\nA\r\n_\r\n");
  c.command("HELLO", "4");
  assert.equal(c.take(), "-NOPROTO unsupported protocol version\r\n");
  c.command("HELLO", "2", "SETNAME", "app");
  assert.equal(c.core.proto, 2);
  assert.equal(c.core.name, "app");
  assert.match(c.take(), /^\*14\r\n/);
});

Deno.test("SessionCore moves to a database's connections with SELECT, waiting for the node's word", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt, "writer");
  const p = rt.primary!;
  c.send(resp("SELECT", "2") + resp("GET", "k"));
  const db2 = p.connection(2, 2);
  assert.equal(db2.sent.length, 1, "SELECT goes to a database 2 connection");
  assert.equal(c.core.modeKind, "waiting");
  db2.reply("+OK\r\n");
  assert.equal(c.core.db, 2);
  assert.equal(db2.sent.length, 2, "GET follows on database 2");
  assert.equal(p.main.sent.length, 0);
  c.command("SELECT", "99");
  p.connection(2, 99).reply("-ERR DB index is out of range\r\n");
  assert.equal(c.core.db, 2, "a refused SELECT leaves the session where it was");
  c.command("SELECT", "x");
  db2.reply("-ERR value is not an integer or out of range\r\n");
  assert.equal(c.core.db, 2);
});

Deno.test("SessionCore answers connection state itself: names, SETINFO, RESET", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt);
  c.command("CLIENT", "GETNAME");
  c.command("CLIENT", "SETNAME", "worker-1");
  c.command("CLIENT", "GETNAME");
  c.command("CLIENT", "SETNAME", "bad name");
  c.command("CLIENT", "SETINFO", "LIB-NAME", "node-redis");
  c.command("CLIENT", "SETINFO", "color", "x");
  assert.equal(
    c.take(),
    "$-1\r\n+OK\r\n$8\r\nworker-1\r\n" +
      "-ERR Client names cannot contain spaces, newlines or special characters.\r\n" +
      "+OK\r\n-ERR Unrecognized option 'color'\r\n",
  );
  assert.equal(c.core.libName, "node-redis");
  // A node older than 7.2 does not know SETINFO: its own error, as directly.
  rt.version = "7.0.15";
  c.command("CLIENT", "setinfo", "lib-ver", "1.0");
  assert.equal(c.take(), "-ERR unknown subcommand 'setinfo'. Try CLIENT HELP.\r\n");
  assert.equal(c.core.libVer, null);
  c.command("HELLO", "3");
  c.take();
  c.command("RESET");
  assert.equal(c.take(), "+RESET\r\n");
  assert.equal(c.core.proto, 2);
  assert.equal(c.core.name, null);
  assert.equal(rt.nodes.every((n) => n.pinned.length === 0), true, "nothing pinned");
});

Deno.test("SessionCore binds a SCAN cursor to the node that made it", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt);
  c.command("SCAN", "0", "COUNT", "10");
  const first = rt.nodes.find((n) => n.main.sent.length === 1)!;
  first.main.reply("*2\r\n$2\r\n17\r\n*1\r\n$1\r\nk\r\n");
  const tag = rt.scanTag(first.id);
  const cursor = String(17 * 1024 + tag);
  assert.equal(c.take(), `*2\r\n$${cursor.length}\r\n${cursor}\r\n*1\r\n$1\r\nk\r\n`);
  for (let i = 0; i < 3; i++) {
    c.command("SCAN", cursor, "COUNT", "10");
    const last = first.main.sent.at(-1)!;
    assert.equal(last.text, resp("SCAN", "17", "COUNT", "10"), "back to the same node");
    first.main.reply("*2\r\n$1\r\n0\r\n*0\r\n");
  }
  assert.equal(c.take(), "*2\r\n$1\r\n0\r\n*0\r\n".repeat(3));
  rt.readers = rt.readers.filter((n) => n !== first);
  c.command("SCAN", cursor);
  assert.match(c.take(), /restart the scan from cursor 0/);
  c.command("SCAN", "999999");
  assert.equal(c.take(), "-ERR invalid cursor\r\n");
});

Deno.test("SessionCore loads scripts on every node and retries NOSCRIPT on the primary", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt);
  c.command("SCRIPT", "LOAD", "return 1");
  for (const n of rt.nodes) assert.equal(n.main.sent.length, 1, n.id);
  rt.nodes[1].main.reply("$3\r\nsha\r\n");
  rt.nodes[2].main.fail();
  assert.equal(c.take(), "");
  rt.nodes[0].main.reply("$3\r\nSHA\r\n");
  assert.equal(c.take(), "$3\r\nSHA\r\n", "the primary's reply");

  c.command("EVALSHA_RO", "sha", "0");
  const replica = rt.nodes.find((n) =>
    n !== rt.primary && n.main.sent.at(-1)?.text.includes("EVALSHA_RO")
  )!;
  replica.main.reply("-NOSCRIPT No matching script.\r\n");
  assert.equal(rt.primary!.main.sent.at(-1)!.text, resp("EVALSHA_RO", "sha", "0"));
  rt.primary!.main.reply(":1\r\n");
  assert.equal(c.take(), ":1\r\n");
});

Deno.test("SessionCore closes a pinned session whose node leaves: at once when idle, else after its reply", () => {
  const rt = new FakeRuntime();
  const idle = new FakeClient(rt);
  idle.command("SUBSCRIBE", "ch");
  const pin = rt.nodes.flatMap((n) => n.pinned)[0];
  pin.frames("*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
  idle.core.leaveNode();
  assert.equal(idle.finished, true);
  assert.equal(pin.closed, true);

  const busy = new FakeClient(rt, "writer");
  busy.command("WAIT", "1", "100");
  busy.core.leaveNode();
  assert.equal(busy.finished, false, "the WAIT reply is owed");
  const waiting = rt.primary!.pinned.at(-1)!;
  assert.ok(
    waiting.text.startsWith(resp("PUBLISH", "__shardgate__:wait", "")),
    "WAIT's mark first",
  );
  waiting.frames(":0\r\n", ":1\r\n");
  assert.equal(busy.finished, true);
  assert.equal(busy.take(), ":1\r\n");
});

Deno.test("SessionCore answers a protocol error, then finishes (flush and half-close)", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt);
  c.command("GET", "a");
  c.send("*1\r\n$x\r\n");
  assert.equal(c.finished, false, "GET a's reply first");
  rt.nodes[1].main.reply("$1\r\nA\r\n");
  assert.equal(c.take(), "$1\r\nA\r\n-ERR Protocol error: invalid bulk length\r\n");
  assert.equal(c.finished, true);
});

Deno.test("SessionCore relays SYNC on the writer port raw and refuses it on the readers port", () => {
  const rt = new FakeRuntime();
  const r = new FakeClient(rt);
  r.send("SYNC\r\n");
  assert.equal(r.take(), "-ERR shardgate: 'SYNC' is only supported on the writer port\r\n");
  const w = new FakeClient(rt, "writer");
  w.send("SYNC\r\n");
  const pin = rt.primary!.pinned[0];
  assert.equal(pin.raw, true);
  assert.equal(pin.text, resp("SYNC"));
  assert.equal(w.core.modeKind, "raw");
  w.send("REPLCONF ACK 0\r\n");
  assert.equal(pin.text, resp("SYNC") + "REPLCONF ACK 0\r\n", "bytes as they are");
});

Deno.test("SessionCore hedges a slow read: the first reply wins, the late one is dropped", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt);
  c.command("GET", "a");
  c.command("GET", "b");
  const [, n1, n2] = rt.nodes;
  const slotA = n1.main.sent[0].slot;
  c.core.hedge(slotA, rt.clock);
  assert.equal(rt.commandStats.hedges, 1);
  assert.equal(n2.main.sent.length, 2, "GET a's copy went to the other replica");
  assert.equal(n2.main.sent[1].text, resp("GET", "a"));
  n2.main.reply("$1\r\nB\r\n"); // GET b
  n2.main.reply("$1\r\nA\r\n"); // the copy of GET a wins
  assert.equal(c.take(), "$1\r\nA\r\n$1\r\nB\r\n");
  assert.equal(rt.commandStats.hedgeWins, 1);
  n1.main.reply("$4\r\nlate\r\n"); // the original, late: dropped
  c.command("GET", "c");
  const next = rt.nodes.find((n) => n.main.sent.some((s) => s.text === resp("GET", "c")))!;
  next.main.reply("$1\r\nC\r\n");
  assert.equal(c.take(), "$1\r\nC\r\n");
});

Deno.test("SessionCore hedges a read once: neither the read nor its copy is hedged again", () => {
  const rt = new FakeRuntime(4);
  const c = new FakeClient(rt);
  c.command("GET", "a");
  const first = rt.nodes.find((n) => n.main.sent.length === 1)!;
  const slot = first.main.sent[0].slot;
  assert.equal(c.core.hedge(slot, rt.clock), true);
  const second = rt.nodes.find((n) => n !== first && n.main.sent.length === 1)!;
  const copy = second.main.sent[0].slot;
  assert.equal(c.core.hedge(slot, rt.clock), false, "the read is still unanswered");
  assert.equal(c.core.hedge(copy, rt.clock), false, "nor is its copy hedged");
  assert.equal(rt.nodes.reduce((n, x) => n + x.main.sent.length, 0), 2, "no third copy");
  first.main.fail(); // one copy failed: the pair is still waiting for the other
  assert.equal(c.core.hedge(slot, rt.clock), false);
  assert.equal(rt.commandStats.hedges, 1);
  second.main.reply("$1\r\nA\r\n");
  assert.equal(c.take(), "$1\r\nA\r\n");
});

Deno.test("SessionCore waits for both copies of a hedged read before retrying or failing", () => {
  const rt = new FakeRuntime(4);
  const c = new FakeClient(rt);
  c.command("GET", "a");
  const first = rt.nodes.find((n) => n.main.sent.length === 1)!;
  c.core.hedge(first.main.sent[0].slot, rt.clock);
  const second = rt.nodes.find((n) => n !== first && n.main.sent.length === 1)!;
  first.main.fail();
  assert.equal(c.take(), "", "the copy may still answer");
  assert.equal(rt.counters.retries, 0);
  second.main.fail();
  assert.equal(rt.counters.retries, 1, "both failed: retried on a third node");
  const third = rt.nodes.find((n) => n !== first && n !== second && n.main.sent.length === 1)!;
  third.main.reply("$1\r\nA\r\n");
  assert.equal(c.take(), "$1\r\nA\r\n");
});

Deno.test("SessionCore does not hedge writes, reads on the writer port, SCAN continuations, or past the budget", () => {
  const rt = new FakeRuntime();
  const w = new FakeClient(rt, "writer");
  w.command("GET", "k");
  w.core.hedge(rt.primary!.main.sent[0].slot, rt.clock);
  const c = new FakeClient(rt);
  c.command("SET", "k", "v");
  const set = rt.nodes.flatMap((n) => n.main.sent).find((s) => s.text.includes("SET"))!;
  c.core.hedge(set.slot, rt.clock);
  assert.equal(rt.commandStats.hedges, 0);
  // A SCAN continuation must stay on the node whose cursor it carries.
  const node = rt.nodes[1];
  c.command("SCAN", encodeCursor("17", rt.scanTag(node.id)));
  const cont = node.main.sent.find((s) => s.text === resp("SCAN", "17"))!;
  assert.equal(c.core.hedge(cont.slot, rt.clock), false);
  assert.equal(rt.commandStats.hedges, 0);
  rt.hedgeBudget = 0;
  c.command("GET", "k");
  const get = rt.nodes.flatMap((n) => n.main.sent).find((s) => s.text.includes("GET"))!;
  c.core.hedge(get.slot, rt.clock);
  assert.equal(rt.commandStats.hedges, 0);
});

Deno.test("SessionCore sends a session's commands to one node down the connection that has its unanswered ones", () => {
  const rt = new FakeRuntime();
  const p = rt.primary!;
  p.poolSize = 3; // each connection() call offers the next connection
  const c = new FakeClient(rt, "writer");
  c.command("RPUSH", "l", "1"); // separate reads: separate batches
  c.command("RPUSH", "l", "2");
  c.command("RPUSH", "l", "3");
  const pool = p.pools.get("2/0")!;
  assert.deepEqual(pool.map((m) => m.sent.length), [3, 0, 0], "all on the first connection");
  pool[0].reply(":1\r\n");
  pool[0].reply(":2\r\n");
  c.command("RPUSH", "l", "4");
  assert.deepEqual(pool.map((m) => m.sent.length), [4, 0, 0], "one still unanswered there");
  pool[0].reply(":3\r\n");
  pool[0].reply(":4\r\n");
  c.command("GET", "x"); // nothing in flight on the node: free to pick afresh
  assert.equal(pool.reduce((n, m) => n + m.sent.length, 0), 5);
  assert.equal(pool[0].sent.length, 4, "moved to another connection");
  assert.equal(c.take(), ":1\r\n:2\r\n:3\r\n:4\r\n");
});

Deno.test("SessionCore runs HELLO and RESET after the replies before them, whatever pool follows", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt, "writer");
  const p = rt.primary!;
  c.send(resp("SET", "k", "v") + resp("HELLO", "3") + resp("GET", "k"));
  assert.equal(c.core.modeKind, "waiting", "HELLO waits for SET's reply");
  assert.equal(p.connection(3, 0).sent.length, 0, "GET k not sent on RESP3 before SET ran");
  p.main.reply("+OK\r\n");
  assert.equal(c.core.proto, 3);
  assert.equal(p.connection(3, 0).sent.length, 1);
  p.connection(3, 0).reply("$1\r\nv\r\n");
  c.send(resp("SET", "k", "w") + resp("RESET") + resp("GET", "k"));
  assert.equal(c.core.modeKind, "waiting", "RESET waits for SET's reply");
  p.connection(3, 0).reply("+OK\r\n");
  assert.equal(c.core.proto, 2);
  p.main.reply("$1\r\nw\r\n");
  const out = c.take();
  assert.match(out, /^\+OK\r\n%7\r\n/);
  assert.ok(out.endsWith("$1\r\nv\r\n+OK\r\n+RESET\r\n$1\r\nw\r\n"), out);
});

Deno.test("SessionCore answers every command after a pinned RESET in the same write", () => {
  for (const opener of [["MULTI"], ["SUBSCRIBE", "ch"], ["CLIENT", "TRACKING", "ON"]]) {
    const rt = new FakeRuntime();
    const c = new FakeClient(rt, "writer");
    const p = rt.primary!;
    c.send(resp(...opener) + resp("RESET") + resp("SET", "k", "v") + resp("PING"));
    const pin = p.pinned[0];
    const first = opener[0] === "SUBSCRIBE"
      ? "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
      : "+OK\r\n";
    pin.frames(first, "+RESET\r\n", "+OK\r\n");
    assert.equal(c.core.modeKind, "pinned", `${opener}: PING's reply still owed`);
    pin.frames("+PONG\r\n");
    assert.equal(c.core.modeKind, "mux", `${opener}: back to shared connections`);
    assert.equal(c.take(), `${first}+RESET\r\n+OK\r\n+PONG\r\n`);
  }
});

Deno.test("SessionCore leaves the node's replies to the node inside MULTI, under MONITOR and CLIENT REPLY", () => {
  const rt = new FakeRuntime();
  rt.version = "7.0.15";
  const c = new FakeClient(rt, "writer");
  const p = rt.primary!;
  c.send(resp("MULTI") + resp("CLIENT", "GETNAME") + resp("CLIENT", "SETINFO", "lib-name", "x"));
  const pin = p.pinned[0];
  assert.equal(
    pin.text,
    resp("MULTI") + resp("CLIENT", "GETNAME") + resp("CLIENT", "SETINFO", "lib-name", "x"),
    "queued by the node, not answered here",
  );
  pin.frames("+OK\r\n", "+QUEUED\r\n", "-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n");
  c.send(resp("DISCARD") + resp("CLIENT", "REPLY", "SKIP") + resp("CLIENT", "GETNAME"));
  assert.ok(pin.text.endsWith(resp("CLIENT", "GETNAME")), "skipped by the node, in its turn");
  pin.frames("+OK\r\n");
  assert.equal(c.core.modeKind, "pinned", "GETNAME may not have run: a PING says when");
  assert.ok(pin.text.endsWith(resp("PING")));
  pin.frames("+PONG\r\n");
  assert.equal(c.core.modeKind, "mux");
  assert.equal(
    c.take(),
    "+OK\r\n+QUEUED\r\n-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n+OK\r\n",
  );
});

Deno.test("SessionCore holds writes a demoted primary refused, and sends them in order to the new one", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt, "writer");
  const [old, next] = [rt.nodes[0], rt.nodes[1]];
  c.command("INCR", "a");
  c.command("INCR", "b");
  old.main.reply("-READONLY You can't write against a read only replica.\r\n");
  old.main.reply("-READONLY You can't write against a read only replica.\r\n");
  c.command("INCR", "c"); // behind the held ones: held too, not sent to the old primary
  assert.equal(old.main.sent.length, 2);
  assert.equal(c.take(), "", "nothing answered yet");
  assert.equal(rt.counters.heldWrites, 1);
  rt.wakeWriters(); // routes changed, but the same primary: they wait on
  assert.equal(old.main.sent.length, 2);
  rt.primary = next;
  rt.wakeWriters();
  assert.deepEqual(next.main.sent.map((s) => s.text), [
    resp("INCR", "a"),
    resp("INCR", "b"),
    resp("INCR", "c"),
  ]);
  next.main.reply(":1\r\n");
  next.main.reply(":1\r\n");
  next.main.reply(":1\r\n");
  assert.equal(c.take(), ":1\r\n:1\r\n:1\r\n");
});

Deno.test("SessionCore holds writes while no primary is known, and fails them clearly past the bound", () => {
  const rt = new FakeRuntime();
  rt.primary = null;
  const c = new FakeClient(rt, "writer");
  c.command("SET", "k", "v");
  c.command("GET", "k"); // reads to the primary on the writer port wait in order too
  assert.equal(c.take(), "");
  assert.equal(rt.writerWaiters.length, 1);
  rt.writerWaiters[0].holdExpired();
  const out = c.take();
  assert.match(out, /^-ERR shardgate: no primary for shard 'fake' took the write within \d+ ms/);
  assert.equal(out.split("\r\n").length - 1, 2, "both answered");
});

Deno.test("SessionCore asks the pinned node for the name after a SETNAME whose reply was skipped", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt, "writer");
  c.send(
    resp("CLIENT", "REPLY", "SKIP") + resp("CLIENT", "SETNAME", "n1") + resp("CLIENT", "GETNAME"),
  );
  const pin = rt.primary!.pinned[0];
  assert.ok(pin.text.endsWith(resp("CLIENT", "GETNAME")), "the node knows whether SETNAME took");
  pin.frames("$2\r\nn1\r\n");
  assert.equal(c.take(), "$2\r\nn1\r\n");
});

Deno.test("SessionCore sends a write refused READONLY at once when the shard already routes to a new primary", () => {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt, "writer");
  const [old, next] = rt.nodes;
  c.command("SET", "k", "v");
  rt.primary = next; // the routes switched while the SET was in flight; no update follows
  old.main.reply("-READONLY You can't write against a read only replica.\r\n");
  assert.equal(next.main.sent.length, 1, "re-sent to the new primary without waiting");
  assert.equal(rt.writerWaiters.length, 0, "nothing waits for a routes update");
  next.main.reply("+OK\r\n");
  assert.equal(c.take(), "+OK\r\n");
});
