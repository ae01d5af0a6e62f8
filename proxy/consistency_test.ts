import assert from "node:assert/strict";
import { RecordingLink as Link } from "./_test_recording_link.ts";
import type { ConsistencyMode, ShardSettings } from "../config/types.ts";
import { Admit, type GateShard, ReadGate, UNKNOWN } from "./consistency.ts";
import type { NodeHandle } from "./_runtime.ts";
import { Slot, SLOT_GATED, SLOT_STALE, type SlotOwner } from "./_runtime.ts";

function node(id: string): NodeHandle & { link: Link } {
  const link = new Link();
  return {
    id,
    link,
    connection: () => link,
    openPinned: () => {
      throw new Error("not here");
    },
  };
}

const primaryRole = (o: number) => `*3\r\n$6\r\nmaster\r\n:${o}\r\n*0\r\n`;
const replicaRole = (o: number) =>
  `*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:${o}\r\n`;

/** A shard of one primary and one replica, a settable clock and mode. */
function setup(mode: ConsistencyMode = "host") {
  const primary = node("p:1");
  const replica = node("r:1");
  let now = 0;
  const settings = { consistency: mode, consistencyWaitMs: 20 } as ShardSettings;
  const shard: GateShard = {
    settings,
    now: () => now,
    writer: () => primary,
    servingReplicas: () => [replica],
  };
  const released: [Slot, string | null][] = [];
  const client = {
    gateRelease: (s: Slot, n: NodeHandle | null) => released.push([s, n?.id ?? null]),
  };
  const gate = new ReadGate(shard);
  return {
    gate,
    settings: settings as { consistency: ConsistencyMode },
    primary,
    replica,
    client,
    released,
    tick: (ms: number) => now += ms,
    read: () => new Slot({} as SlotOwner, 1),
  };
}

Deno.test("ReadGate: eventual gates nothing; host with no writes sends reads as they are", () => {
  const e = setup("eventual");
  assert.equal(e.gate.on, false);
  const h = setup("host");
  const slot = h.read();
  assert.equal(h.gate.admit(slot, h.replica, false, null), Admit.SEND);
  assert.equal(slot.flags & SLOT_GATED, 0, "not gated: nothing to see yet");
  assert.equal(h.gate.counters.gated, 0);
});

Deno.test("ReadGate: an answered write makes the offset unknown until the ROLE after it is back", () => {
  const t = setup();
  t.gate.probeWrites(t.primary.link, 1, null, 0);
  assert.equal(t.primary.link.sent.length, 1, "a ROLE after the write");
  t.gate.answered(null);
  assert.equal(t.gate.need(null), UNKNOWN);
  assert.equal(t.gate.admit(t.read(), t.replica, false, null), Admit.WAIT);
  t.primary.link.answer(primaryRole(100));
  assert.equal(t.gate.need(null), 100);
});

Deno.test("ReadGate: a replica not known caught up is probed; behind, the read waits, then goes there", () => {
  const t = setup();
  t.gate.probeWrites(t.primary.link, 1, null, 0);
  t.gate.answered(null);
  t.primary.link.answer(primaryRole(100));
  const slot = t.read();
  assert.equal(t.gate.admit(slot, t.replica, false, null), Admit.PROBE);
  t.gate.probeRead(t.replica.link, slot, t.replica.id, null, 0);
  t.replica.link.answer(replicaRole(90));
  assert.notEqual(slot.flags & SLOT_STALE, 0, "the read's reply is void");
  t.gate.wait(t.client, slot, null);
  t.tick(5);
  t.gate.polled(t.replica.id, 99);
  assert.equal(t.released.length, 0, "still behind");
  t.gate.polled(t.replica.id, 100);
  assert.deepEqual(t.released, [[slot, "r:1"]]);
  // Known caught up now: the next read goes as it is, to the replica.
  assert.equal(t.gate.admit(t.read(), t.replica, false, null), Admit.SEND);
  assert.deepEqual(t.gate.counters, { gated: 2, replica: 2, probes: 1, waits: 1, fallbacks: 0 });
  t.gate.close();
});

Deno.test("ReadGate: a read held past consistency_wait goes to the primary", () => {
  const t = setup();
  t.gate.probeWrites(t.primary.link, 1, null, 0);
  t.gate.answered(null);
  t.primary.link.answer(primaryRole(100));
  const slot = t.read();
  t.gate.admit(slot, t.replica, false, null);
  t.gate.wait(t.client, slot, null);
  t.tick(25);
  t.gate.polled(t.replica.id, 50);
  assert.deepEqual(t.released, [[slot, "p:1"]]);
  assert.equal(t.gate.counters.fallbacks, 1);
  t.gate.close();
});

Deno.test("ReadGate: a held read keeps the need it arrived with, not later writes'", () => {
  const t = setup();
  t.gate.probeWrites(t.primary.link, 1, null, 0);
  t.gate.answered(null);
  t.primary.link.answer(primaryRole(100));
  const slot = t.read();
  t.gate.admit(slot, t.replica, false, null);
  t.gate.wait(t.client, slot, null);
  t.gate.probeWrites(t.primary.link, 1, null, 0);
  t.gate.answered(null);
  t.primary.link.answer(primaryRole(200));
  t.gate.polled(t.replica.id, 150);
  assert.deepEqual(t.released, [[slot, "r:1"]]);
  t.gate.close();
});

Deno.test("ReadGate: a lost write probe, or a pinned reply, makes reads wait for the primary's own offset", () => {
  const t = setup();
  t.gate.probeWrites(t.primary.link, 2, null, 0);
  t.gate.answered(null);
  t.gate.answered(null);
  const lost = t.primary.link.sent.shift()!;
  lost.owner.onFail(lost, "connection lost", "p:1", true, null);
  assert.equal(t.gate.need(null), UNKNOWN);
  assert.equal(t.primary.link.sent.length, 1, "the primary is asked");
  // A transaction answered meanwhile: asked again once this ask is back.
  t.gate.pinnedAnswered(null);
  t.primary.link.answer(primaryRole(300));
  assert.equal(t.gate.need(null), UNKNOWN, "the first answer predates the transaction");
  t.primary.link.answer(primaryRole(310));
  assert.equal(t.gate.need(null), 310);
  t.gate.close();
});

Deno.test("ReadGate: session mode tracks a split session's writes; reads never go back in time", () => {
  const t = setup("session");
  assert.equal(t.gate.tracksWrites("split"), true);
  assert.equal(t.gate.tracksWrites("writer"), false);
  const floor = t.gate.newFloor();
  assert.equal(t.gate.need(floor), 0, "nothing written or read yet");
  t.gate.probeWrites(t.primary.link, 1, floor, 0);
  t.gate.answered(floor);
  t.primary.link.answer(primaryRole(100));
  assert.equal(t.gate.need(floor), 100);
  assert.equal(t.gate.need(null), 0, "other sessions need nothing");
  t.gate.polled(t.replica.id, 120);
  assert.equal(t.gate.admit(t.read(), t.replica, false, floor), Admit.SEND);
  assert.equal(floor.offset, 120, "what it read at: later reads need as much");
  t.gate.close();
});

Deno.test("ReadGate: a reload that turns host on asks the primary before reads trust the offset", () => {
  const t = setup("eventual");
  assert.equal(t.gate.on, false);
  t.settings.consistency = "host";
  t.gate.reconfigured();
  assert.equal(t.gate.on, true);
  assert.equal(t.gate.need(null), UNKNOWN, "writes made before may not have been tracked");
  t.primary.link.answer(primaryRole(500));
  assert.equal(t.gate.need(null), 500);
  t.gate.close();
});
