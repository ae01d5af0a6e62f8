import assert from "node:assert/strict";
import { PinKind, PinTracker } from "./_pin.ts";

const te = new TextEncoder();

/** Feeds one frame; returns the completed command's kind, or null. */
function frame(t: PinTracker, text: string): number | null {
  const b = te.encode(text);
  return t.onFrame(b, 0, b.length)?.kind ?? null;
}

Deno.test("PinTracker keeps what is owed after a RESET sent in the same write", () => {
  const t = new PinTracker();
  t.sent(PinKind.MULTI, 0);
  t.sent(PinKind.RESET, 0);
  t.sent(PinKind.OTHER, 0); // SET after RESET: not queued
  assert.equal(t.queuing, false);
  assert.equal(frame(t, "+OK\r\n"), PinKind.MULTI);
  assert.equal(frame(t, "+RESET\r\n"), PinKind.RESET);
  assert.equal(t.owed, 1, "the SET's reply is still owed");
  assert.equal(t.idle, false);
  assert.equal(frame(t, "+OK\r\n"), PinKind.OTHER);
  assert.equal(t.idle, true);
});

Deno.test("PinTracker under MONITOR counts again from RESET's reply", () => {
  const t = new PinTracker();
  t.sent(PinKind.MONITOR, 0);
  t.sent(PinKind.OTHER, 0); // PING: its reply comes uncounted
  t.sent(PinKind.RESET, 0);
  t.sent(PinKind.OTHER, 0); // GET after RESET
  assert.equal(frame(t, "+OK\r\n"), PinKind.MONITOR);
  assert.equal(t.uncounted, true);
  assert.equal(frame(t, "+PONG\r\n"), null);
  assert.equal(frame(t, '+1.2 [0 127.0.0.1:1] "PING"\r\n'), null);
  assert.equal(frame(t, "+RESET\r\n"), PinKind.RESET);
  assert.equal(t.uncounted, false);
  assert.equal(t.owed, 1);
  assert.equal(frame(t, "$-1\r\n"), PinKind.OTHER);
  assert.equal(t.idle, true);
});

Deno.test("PinTracker: a RESET after CLIENT REPLY SKIP gets no reply and takes effect in its turn", () => {
  const t = new PinTracker();
  t.sent(PinKind.WATCH, 0);
  t.sent(PinKind.REPLY, 0, { args: ["SKIP"] });
  t.sent(PinKind.RESET, 0);
  t.sent(PinKind.OTHER, 0);
  assert.equal(t.takeQuiet(), null, "WATCH's reply comes first");
  assert.equal(frame(t, "+OK\r\n"), PinKind.WATCH);
  assert.equal(t.takeQuiet()?.kind, PinKind.REPLY);
  assert.equal(t.takeQuiet()?.kind, PinKind.RESET);
  assert.equal(t.unconfirmed, true, "no reply says the RESET ran yet");
  assert.equal(frame(t, "+PONG\r\n"), PinKind.OTHER);
  assert.equal(t.unconfirmed, false);
  assert.equal(t.idle, true, "RESET cleared the WATCH");
});

Deno.test("PinTracker: a silenced HELLO sent after a RESET keeps the session once RESET's reply is in", () => {
  // The differential test's stream (seed 1377467310): RESET, then CLIENT REPLY SKIP and
  // HELLO 3 in the same write. The HELLO gets no reply, so whether the node took it is not
  // known: the session must stay on this connection. RESET's reply, which comes after the
  // HELLO was sent, must not free it.
  const t = new PinTracker();
  t.sent(PinKind.RESET, 0);
  t.sent(PinKind.REPLY, 0, { args: ["SKIP"] });
  t.sent(PinKind.HELLO, 0, { arg: 3 });
  assert.equal(frame(t, "+RESET\r\n"), PinKind.RESET);
  while (t.takeQuiet() !== null);
  assert.equal(t.owed, 0);
  assert.equal(t.idle, false, "the silenced HELLO holds the connection for life");
});

Deno.test("PinTracker owes (un)subscribe confirmations even under CLIENT REPLY OFF", () => {
  const t = new PinTracker();
  t.sent(PinKind.REPLY, 0, { args: ["OFF"] });
  t.sent(PinKind.OTHER, 0); // no reply
  t.sent(PinKind.SUBSCRIBE, 0, { args: ["a", "b"] });
  assert.equal(t.takeQuiet()?.kind, PinKind.REPLY);
  assert.equal(t.takeQuiet()?.kind, PinKind.OTHER);
  assert.equal(t.owed, 1);
  assert.equal(frame(t, "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"), null);
  assert.equal(frame(t, "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nx\r\n"), null, "a push");
  assert.equal(frame(t, "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"), PinKind.SUBSCRIBE);
  assert.equal(t.owed, 0);
});

Deno.test("PinTracker: a RESP2 subscriber's refused commands change nothing", () => {
  const t = new PinTracker(2);
  t.sent(PinKind.SUBSCRIBE, 0, { args: ["a"] });
  assert.equal(t.restricted, true);
  t.sent(PinKind.REPLY, 0, { args: ["SKIP"] }); // refused by the node: an error reply
  t.sent(PinKind.MULTI, 0); // refused too
  assert.equal(t.silencing, false);
  assert.equal(t.queuing, false);
  assert.equal(t.owed, 3);
  const r3 = new PinTracker(3);
  r3.sent(PinKind.SUBSCRIBE, 0, { args: ["a"] });
  assert.equal(r3.restricted, false, "RESP3 subscribers may send anything");
});

Deno.test("PinTracker stops counting after an EXEC that ran a state change, until RESET", () => {
  const t = new PinTracker();
  t.sent(PinKind.MULTI, 0);
  t.sent(PinKind.SUBSCRIBE, 0, { args: ["a", "b"] }); // queued
  t.sent(PinKind.EXEC, 0);
  t.sent(PinKind.RESET, 0);
  t.sent(PinKind.OTHER, 0);
  frame(t, "+OK\r\n");
  frame(t, "+QUEUED\r\n");
  assert.equal(frame(t, "*1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"), PinKind.EXEC);
  assert.equal(t.uncounted, true);
  assert.equal(
    frame(t, "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"),
    null,
    "outside EXEC's reply",
  );
  assert.equal(frame(t, "+RESET\r\n"), PinKind.RESET);
  assert.equal(frame(t, "+OK\r\n"), PinKind.OTHER);
  assert.equal(t.idle, true);
});

Deno.test("PinTracker: a SKIP used up while replies are not counted does not silence the RESET after it", () => {
  // The differential test's stream: the EXEC that ran SELECT stops counting while the SKIP is
  // already sent; the command after the SKIP (sent once EXEC's reply is in) gets no reply, the
  // RESETs after it each get theirs, and ECHO's reply is the session's, not a released link's.
  const t = new PinTracker();
  t.sent(PinKind.MULTI, 0);
  t.sent(PinKind.SELECT, 0, { arg: 0 }); // queued: a state change
  t.sent(PinKind.EXEC, 0);
  t.sent(PinKind.REPLY, 0, { args: ["SKIP"] });
  frame(t, "+OK\r\n");
  frame(t, "+QUEUED\r\n");
  assert.equal(frame(t, "*1\r\n+OK\r\n"), PinKind.EXEC);
  assert.equal(t.uncounted, true);
  t.sent(PinKind.OTHER, 0); // ZRANGE: no reply (SKIP)
  t.sent(PinKind.RESET, 0);
  t.sent(PinKind.RESET, 0);
  t.sent(PinKind.OTHER, 0); // ECHO
  assert.equal(frame(t, "+RESET\r\n"), PinKind.RESET);
  assert.equal(t.uncounted, false);
  assert.equal(t.owed, 2, "the second RESET and ECHO");
  assert.equal(frame(t, "+RESET\r\n"), PinKind.RESET);
  assert.equal(t.idle, false, "ECHO's reply is still owed");
  assert.equal(frame(t, "$3\r\nend\r\n"), PinKind.OTHER);
  assert.equal(t.idle, true);
});

Deno.test("PinTracker under MONITOR: a RESET without a reply (after SKIP) is passed over for the one answered", () => {
  const t = new PinTracker();
  t.sent(PinKind.MONITOR, 0);
  t.sent(PinKind.REPLY, 0, { args: ["SKIP"] });
  t.sent(PinKind.RESET, 0); // skipped: no reply
  t.sent(PinKind.RESET, 0);
  t.sent(PinKind.OTHER, 0);
  assert.equal(frame(t, "+OK\r\n"), PinKind.MONITOR);
  assert.equal(frame(t, "+RESET\r\n"), PinKind.RESET);
  assert.equal(t.uncounted, false);
  assert.equal(t.owed, 1, "only the command after the answered RESET");
  assert.equal(frame(t, "+PONG\r\n"), PinKind.OTHER);
  assert.equal(t.idle, true);
});

Deno.test("PinTracker: EXEC without MULTI leaves a WATCH in place (the connection stays the session's)", () => {
  const t = new PinTracker();
  t.sent(PinKind.WATCH, 0, { args: ["k"] });
  t.sent(PinKind.EXEC, 0);
  assert.equal(frame(t, "+OK\r\n"), PinKind.WATCH);
  assert.equal(frame(t, "-ERR EXEC without MULTI\r\n"), PinKind.EXEC);
  assert.equal(t.idle, false, "k is still watched on the node");
  t.sent(PinKind.UNWATCH, 0);
  assert.equal(frame(t, "+OK\r\n"), PinKind.UNWATCH);
  assert.equal(t.idle, true);
});
