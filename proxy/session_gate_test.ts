import assert from "node:assert/strict";
import { RecordingLink as Link } from "./_test_recording_link.ts";
import type { ShardSettings } from "../config/types.ts";
import { type GateShard, ReadGate, UNKNOWN } from "./consistency.ts";
import type { LinkUse, ListenerRole, NodeHandle } from "./_runtime.ts";
import { Slot, SLOT_OFFSET, SLOT_PROBED, SLOT_WRITER, type SlotOwner } from "./_runtime.ts";
import { type GateSession, SessionGate } from "./session_gate.ts";

function use(id: string): LinkUse & { link: Link } {
  const link = new Link();
  const node: NodeHandle = {
    id,
    connection: () => link,
    openPinned: () => {
      throw new Error("not here");
    },
  };
  return { node, proto: 2, db: 0, user: null, link, owed: 0 };
}

function setup(role: ListenerRole) {
  const p = use("p:1");
  const r = use("r:1");
  const shard: GateShard = {
    settings: { consistency: "session", consistencyWaitMs: 20 } as ShardSettings,
    now: () => 0,
    writer: () => p.node,
    servingReplicas: () => [r.node],
  };
  const gate = new ReadGate(shard);
  let held = 0;
  const session: GateSession = { role, holdInput: () => held++, gateRelease: () => {} };
  return { gate, p, r, sg: new SessionGate(session, false), held: () => held };
}

Deno.test("SessionGate sends one ROLE after a batch of writes, on their connection", () => {
  const t = setup("split");
  t.sg.begin();
  for (let i = 0; i < 3; i++) {
    const w = new Slot({} as SlotOwner, 2);
    w.flags = SLOT_WRITER;
    assert.equal(t.sg.send(t.gate, w, t.p, true, 0), true);
    assert.notEqual(w.flags & SLOT_OFFSET, 0, "tracked");
    t.p.link.send(w); // the write itself, as the session sends it
    t.sg.reply(t.gate, w, false); // answered
  }
  assert.equal(t.p.link.sent.length, 3, "no ROLE before the batch ends");
  t.sg.flush(0);
  assert.equal(t.p.link.sent.length, 4, "one ROLE after the three writes");
});

Deno.test("SessionGate holds input for a probed read; a writer-port session tracks nothing in session mode", async () => {
  const t = setup("split");
  const w = new Slot({} as SlotOwner, 2);
  w.flags = SLOT_WRITER;
  t.sg.send(t.gate, w, t.p, true, 0); // outside a batch (a retry)
  t.p.link.send(w); // the write itself, sent by the session after send() returns
  await Promise.resolve();
  assert.equal(t.p.link.sent.length, 2);
  assert.equal(t.p.link.sent[0], w, "the ROLE follows the write, never precedes it");
  t.p.link.sent.shift();
  t.sg.reply(t.gate, w, false);
  t.p.link.answer("*3\r\n$6\r\nmaster\r\n:100\r\n*0\r\n");
  const read = new Slot({} as SlotOwner, 1);
  assert.equal(t.sg.send(t.gate, read, t.r, false, 0), true, "sent, behind a probe");
  assert.notEqual(read.flags & SLOT_PROBED, 0);
  assert.equal(t.r.link.sent.length, 1, "the probe");
  assert.equal(t.held(), 1, "input held until the read is answered");

  const other = setup("writer");
  const w2 = new Slot({} as SlotOwner, 2);
  w2.flags = SLOT_WRITER;
  other.sg.send(other.gate, w2, other.p, true, 0);
  assert.equal(w2.flags & SLOT_OFFSET, 0, "session mode: only split sessions track writes");
  assert.notEqual(other.gate.need(null), UNKNOWN);
});
