import assert from "node:assert/strict";
import { FakeClient, FakeRuntime, resp } from "../_test_fake_runtime.ts";
import { enter } from "./flow.ts";
import { CLOSED, type ModeKind, MUX, TRANSITIONS } from "./mode.ts";

/** Every move the scenarios below made, as `from>to`. */
const seen = new Set<string>();

/** A client whose session's mode changes are recorded (in `moves` and in {@link seen}). */
function watched(role: "readers" | "writer" = "writer") {
  const rt = new FakeRuntime();
  const c = new FakeClient(rt, role);
  const moves: string[] = [];
  c.core.onTransition = (from: ModeKind, to: ModeKind) => {
    moves.push(`${from}>${to}`);
    seen.add(`${from}>${to}`);
  };
  return { rt, c, moves, p: rt.primary! };
}

Deno.test("mode: waiting for the FIFO before HELLO, then back to mux", () => {
  const { c, moves, p } = watched();
  c.send(resp("GET", "a") + resp("HELLO", "3"));
  assert.equal(c.core.modeKind, "waiting");
  p.main.reply("$1\r\nA\r\n");
  assert.deepEqual(moves, ["mux>waiting", "waiting>mux"]);
  assert.match(c.take(), /^\$1\r\nA\r\n%/, "HELLO answered after GET, in RESP3");
});

Deno.test("mode: pinned, waiting inside the pin for a local reply, back to mux", () => {
  const { c, moves, p } = watched();
  c.send(resp("WATCH", "k") + resp("GET", "b"));
  const pin = p.pinned[0];
  c.command("CLIENT", "SETINFO", "lib-name", "x"); // answered here: waits for the owed replies
  assert.equal(c.core.modeKind, "pinned");
  assert.equal(c.paused, true, "not reading while the local reply waits");
  pin.frames("+OK\r\n", "$1\r\nB\r\n"); // nothing owed; the WATCH keeps the pin
  assert.equal(c.paused, false);
  c.command("UNWATCH");
  pin.frames("+OK\r\n");
  assert.deepEqual(moves, ["mux>pinned", "pinned>pinned", "pinned>pinned", "pinned>mux"]);
  assert.equal(c.take(), "+OK\r\n$1\r\nB\r\n+OK\r\n+OK\r\n");
});

Deno.test("mode: raw after PSYNC, closing when the node connection ends, then closed", () => {
  const { c, moves, p } = watched();
  c.command("PSYNC", "?", "-1");
  assert.equal(p.pinned[0].raw, true);
  p.pinned[0].sink.onClosed(null, null);
  assert.deepEqual(moves, ["mux>pinned", "pinned>raw", "raw>closing", "closing>closed"]);
  assert.equal(c.finished, true);
});

Deno.test("mode: QUIT closes after the replies before it", () => {
  const { c, moves, p } = watched();
  c.send(resp("GET", "a") + resp("QUIT"));
  assert.equal(c.core.modeKind, "closing");
  p.main.reply("$1\r\nA\r\n");
  assert.deepEqual(moves, ["mux>closing", "closing>closed"]);
  assert.equal(c.take(), "$1\r\nA\r\n+OK\r\n");
});

Deno.test("mode: a protocol error while pinned closes without waiting for owed replies", () => {
  const { c, moves, p } = watched();
  c.command("BLPOP", "q", "0");
  assert.equal(c.core.modeKind, "pinned");
  c.send("*1\r\n$x\r\n");
  assert.deepEqual(moves, ["mux>pinned", "pinned>closing", "closing>closed"]);
  assert.match(c.take(), /^-ERR Protocol error/);
  assert.equal(p.pinned[0].closed, true, "the pinned connection closes with the session");
});

Deno.test("mode: a node leaving mid-pin closes the session right after the owed reply", () => {
  const { c, moves, p } = watched();
  c.command("BLPOP", "q", "0");
  c.core.leaveNode();
  assert.equal(c.core.modeKind, "pinned", "BLPOP's reply is still owed");
  assert.ok(c.core.leavingSince > 0);
  p.pinned[0].frames("*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
  assert.deepEqual(moves, ["mux>pinned", "pinned>closing", "closing>closed"]);
  assert.equal(c.take(), "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
});

Deno.test("mode: a drain while pinned keeps the owed reply; the connection ending closes it", () => {
  const { c, moves, p } = watched();
  c.command("BLPOP", "q", "0");
  c.core.drain();
  assert.equal(c.core.modeKind, "closing");
  assert.equal(c.core.pinnedNode, p.id, "still on its node while the reply is owed");
  p.pinned[0].sink.onClosed("connection lost", null);
  assert.deepEqual(moves, ["mux>pinned", "pinned>closing", "closing>closing", "closing>closed"]);
});

Deno.test("mode: a drain while waiting for SELECT's reply closes once it is in", () => {
  const { c, moves, p } = watched();
  c.command("SELECT", "1");
  assert.equal(c.core.modeKind, "waiting");
  c.core.drain();
  p.connection(2, 1).reply("+OK\r\n");
  assert.deepEqual(moves, ["mux>waiting", "waiting>closing", "closing>closed"]);
  assert.equal(c.take(), "+OK\r\n");
});

Deno.test("mode: close() from every open mode", () => {
  const m = watched();
  m.c.core.close();
  assert.deepEqual(m.moves, ["mux>closed"]);

  const w = watched();
  w.c.send(resp("GET", "a") + resp("RESET"));
  w.c.core.close();
  assert.deepEqual(w.moves, ["mux>waiting", "waiting>closed"]);

  const p = watched();
  p.c.command("WATCH", "k");
  p.c.core.close();
  assert.deepEqual(p.moves, ["mux>pinned", "pinned>closed"]);
  assert.equal(p.p.pinned[0].closed, true);

  const r = watched();
  r.c.command("SYNC");
  r.c.core.drain(); // a replication stream has no command boundary: closed at once
  assert.deepEqual(r.moves, ["mux>pinned", "pinned>raw", "raw>closed"]);
});

Deno.test("mode: a move the table does not allow throws", () => {
  const { c } = watched();
  c.core.close();
  assert.throws(() => enter(c.core, MUX), /no move from closed to mux/);
  assert.throws(() => enter(c.core, CLOSED), /no move from closed to closed/);
});

Deno.test("mode: the scenarios above walk every transition of the table", () => {
  const table = Object.entries(TRANSITIONS).flatMap(([from, tos]) =>
    tos.map((to) => `${from}>${to}`)
  );
  assert.deepEqual([...seen].sort(), table.sort());
});
