import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { UpgradeMachine } from "./state.ts";

function machine(timeout = 1000) {
  const clock = { t: 100 };
  return { m: new UpgradeMachine(timeout, () => clock.t), clock };
}

Deno.test("UpgradeMachine.start() leaves idle once, and refuses while an upgrade runs", () => {
  const { m } = machine();
  assertEquals(m.state, "idle");
  assertEquals(m.start(), null);
  assertEquals(m.state, "starting");
  assertEquals(m.start(), "an upgrade is already starting");
  assertEquals(m.deadline, 1100);
});

Deno.test("UpgradeMachine: ready in time hands over, drained ends it, and no second upgrade", () => {
  const { m, clock } = machine();
  m.start();
  m.spawned(42);
  clock.t = 1100;
  assert(m.ready());
  assertEquals(m.state, "handing_over");
  assertEquals(m.deadline, null);
  assertEquals(m.start(), "an upgrade is already handing over");
  assertEquals(m.fail("late"), null, "a handing-over upgrade does not roll back");
  clock.t = 1500;
  assertEquals(m.drained(), { ok: true, reason: "", pid: 42, startedAt: 100, endedAt: 1500 });
  assertEquals(m.state, "done");
  assertEquals(m.start(), "an upgrade is already done");
});

Deno.test("UpgradeMachine: ready past the deadline is refused, and fail() rolls back to idle", () => {
  const { m, clock } = machine();
  m.start();
  m.spawned(7);
  clock.t = 1101;
  assert(m.expired());
  assert(!m.ready());
  assertEquals(m.state, "starting");
  const out = m.fail("not ready within 1000 ms");
  assertEquals(out, {
    ok: false,
    reason: "not ready within 1000 ms",
    pid: 7,
    startedAt: 100,
    endedAt: 1101,
  });
  assertEquals(m.state, "idle");
  assertEquals(m.last, out);
  // The next attempt starts afresh.
  clock.t = 2000;
  assertEquals(m.start(), null);
  assertEquals(m.deadline, 3000);
  assertEquals(m.drained(), null, "not handing over: nothing to end");
});

Deno.test("UpgradeMachine: a new process that exits before ready rolls back", () => {
  const { m } = machine();
  m.start();
  assertEquals(m.fail("exited with code 3")?.pid, null);
  assertEquals(m.state, "idle");
  assert(!m.ready());
});
