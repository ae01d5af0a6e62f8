import assert from "node:assert/strict";
import type { NodeInfo, ReplicaLine } from "./info.ts";
import { type CheckResult, sameRoutes, ShardState } from "./state.ts";
import {
  captureLogger,
  FakeClock,
  localNode,
  testShard,
  type TestShardOverrides,
} from "./_test_helpers.ts";

const P = localNode(7000); // primary
const A = localNode(7001); // replica
const B = localNode(7002); // replica

function line(port: number, lag = 0, state = "online"): ReplicaLine {
  return { ip: "127.0.0.1", port, state, offset: 100, lagSeconds: lag };
}

function master(replicas: ReplicaLine[] = [line(7001), line(7002)], runId = "m1"): NodeInfo {
  return {
    server: "redis",
    version: "7.0.15",
    mode: "standalone",
    role: "master",
    runId,
    uptimeSeconds: 100,
    tcpPort: null,
    loading: false,
    masterHost: null,
    masterPort: null,
    linkUp: null,
    syncInProgress: false,
    lastIoSeconds: null,
    linkDownSinceSeconds: null,
    connectedReplicas: replicas.length,
    replicas,
  };
}

function replica(o: Partial<NodeInfo> = {}): NodeInfo {
  return {
    server: "redis",
    version: "7.0.15",
    mode: "standalone",
    role: "replica",
    runId: "r1",
    uptimeSeconds: 100,
    tcpPort: null,
    loading: false,
    masterHost: "127.0.0.1",
    masterPort: 7000,
    linkUp: true,
    syncInProgress: false,
    lastIoSeconds: 0,
    linkDownSinceSeconds: null,
    connectedReplicas: 0,
    replicas: [],
    ...o,
  };
}

const pass = (info: NodeInfo): CheckResult => ({
  ok: true,
  info,
  latencyMs: 1,
  remoteIp: "127.0.0.1",
});
const fail = (error = "timeout after 300ms"): CheckResult => ({ ok: false, latencyMs: 300, error });

function setup(o: TestShardOverrides = {}, nodes = [P, A, B]) {
  const clock = new FakeClock();
  const { logger, lines } = captureLogger();
  const state = new ShardState(testShard(nodes, o), { logger, now: clock.now });
  return { clock, lines, state };
}

/** Everyone healthy after the first round. */
function healthy(o: TestShardOverrides = {}) {
  const s = setup(o);
  s.state.applyCheck(P.id, pass(master()));
  s.state.applyCheck(A.id, pass(replica()));
  s.state.applyCheck(B.id, pass(replica({ runId: "r2" })));
  return s;
}

const statusOf = (s: ShardState, id: string) => s.snapshot().find((n) => n.id === id)!;

Deno.test("ShardState routes nothing before any check", () => {
  const { state } = setup();
  assert.deepEqual(state.routes(), {
    readers: [],
    primary: null,
    primaryProblem: "health checks have not finished yet",
  });
  assert.equal(statusOf(state, A.id).status, "down");
});

Deno.test("ShardState: the first check after start decides directly", () => {
  const { state } = setup();
  state.applyCheck(P.id, pass(master()));
  state.applyCheck(A.id, pass(replica()));
  state.applyCheck(B.id, fail("connect: Connection refused"));
  assert.deepEqual(state.routes(), { readers: [A.id], primary: P.id, primaryProblem: null });
  const b = statusOf(state, B.id);
  assert.equal(b.status, "down");
  assert.match(b.reason, /Connection refused/);
  assert.equal(statusOf(state, A.id).status, "up");
  assert.equal(statusOf(state, A.id).servesReads, true);
});

Deno.test("ShardState: fall failing checks take a node down, rise passing checks bring it back", () => {
  const { state, clock } = healthy();
  state.applyCheck(A.id, fail());
  assert.deepEqual(state.routes().readers, [A.id, B.id], "one failure is within fall=2");
  clock.advance(100);
  state.applyCheck(A.id, fail());
  assert.deepEqual(state.routes().readers, [B.id]);
  const a = statusOf(state, A.id);
  assert.equal(a.status, "down");
  assert.equal(a.since, clock.t);
  state.applyCheck(A.id, pass(replica()));
  assert.deepEqual(state.routes().readers, [B.id], "one pass is below rise=2");
  assert.match(statusOf(state, A.id).reason, /passing checks 1\/2/);
  state.applyCheck(A.id, pass(replica()));
  assert.deepEqual(state.routes().readers, [A.id, B.id]);
});

Deno.test("ShardState: a pass between failures resets the fall count", () => {
  const { state } = healthy();
  state.applyCheck(A.id, fail());
  state.applyCheck(A.id, pass(replica()));
  state.applyCheck(A.id, fail());
  assert.equal(statusOf(state, A.id).status, "up");
});

Deno.test("ShardState: a negative replication verdict applies at once, a positive one after rise", () => {
  const { state } = healthy();
  state.applyCheck(A.id, pass(replica({ syncInProgress: true, linkUp: false })));
  assert.deepEqual(state.routes().readers, [B.id]);
  assert.equal(statusOf(state, A.id).status, "up", "it answers: up, but not serving");
  assert.match(statusOf(state, A.id).reason, /full sync in progress/);
  state.applyCheck(A.id, pass(replica()));
  assert.deepEqual(state.routes().readers, [B.id]);
  state.applyCheck(A.id, pass(replica()));
  assert.deepEqual(state.routes().readers, [A.id, B.id]);
});

Deno.test("ShardState: a replica restarted empty does not serve before it synced, even with serveWhenLinkDown", () => {
  const { state } = healthy({ check: { serveWhenLinkDown: true } });
  // The gap after the restart: link down, no sync in progress, never synced.
  const waiting = replica({
    runId: "new",
    linkUp: false,
    linkDownSinceSeconds: -1,
    uptimeSeconds: 0,
  });
  for (let i = 0; i < 5; i++) {
    state.applyCheck(A.id, pass(waiting));
    assert.deepEqual(state.routes().readers, [B.id]);
  }
  state.applyCheck(A.id, pass(replica({ runId: "new", syncInProgress: true, linkUp: false })));
  state.applyCheck(A.id, pass(replica({ runId: "new", loading: true, linkUp: false })));
  assert.deepEqual(state.routes().readers, [B.id]);
  state.applyCheck(A.id, pass(replica({ runId: "new" })));
  state.applyCheck(A.id, pass(replica({ runId: "new" })));
  assert.deepEqual(state.routes().readers, [A.id, B.id]);
});

Deno.test("ShardState: a synced replica whose link broke keeps serving only with serveWhenLinkDown", () => {
  const linkDown = replica({ linkUp: false, linkDownSinceSeconds: 5 });
  const on = healthy({ check: { serveWhenLinkDown: true } });
  on.state.applyCheck(A.id, pass(linkDown));
  assert.deepEqual(on.state.routes().readers, [A.id, B.id]);
  const off = healthy({ check: { serveWhenLinkDown: false } });
  off.state.applyCheck(A.id, pass(linkDown));
  assert.deepEqual(off.state.routes().readers, [B.id]);
  assert.equal(statusOf(off.state, A.id).reason, "master link down");
});

Deno.test("ShardState: a new process id re-earns reads over rise checks", () => {
  const { state } = healthy();
  state.applyCheck(A.id, pass(replica({ runId: "restarted" })));
  assert.deepEqual(state.routes().readers, [B.id]);
  state.applyCheck(A.id, pass(replica({ runId: "restarted" })));
  assert.deepEqual(state.routes().readers, [A.id, B.id]);
});

Deno.test("ShardState: a lost check connection stops reads until the next passing check", () => {
  const { state } = healthy();
  state.connectionLost(A.id);
  assert.deepEqual(state.routes().readers, [B.id]);
  assert.equal(statusOf(state, A.id).status, "up");
  assert.match(statusOf(state, A.id).reason, /check connection lost/);
  state.applyCheck(A.id, pass(replica()));
  assert.deepEqual(state.routes().readers, [A.id, B.id]);
});

Deno.test("ShardState uses the primary's lag for its replicas", () => {
  const { state } = setup({ check: { maxLagMs: 2000 } });
  state.applyCheck(P.id, pass(master([line(7001, 5), line(7002, 0)])));
  state.applyCheck(A.id, pass(replica()));
  state.applyCheck(B.id, pass(replica()));
  assert.deepEqual(state.routes().readers, [B.id]);
  const a = statusOf(state, A.id);
  assert.equal(a.lagMs, 5000);
  assert.match(a.reason, /lag 5000ms > max_lag 2000ms/);
});

Deno.test("ShardState: passive errors eject a replica at once; it rejoins after the cooldown and a passing check", () => {
  const { state, clock } = healthy({ passive: { errors: 3, cooldownMs: 1000 } });
  state.reportError(A.id, "timeout");
  state.reportError(A.id, "timeout");
  assert.deepEqual(state.routes().readers, [A.id, B.id]);
  state.reportError(A.id, "timeout");
  assert.deepEqual(state.routes().readers, [B.id]);
  const a = statusOf(state, A.id);
  assert.equal(a.status, "ejected");
  assert.equal(a.ejections, 1);
  assert.match(a.reason, /cooldown 1000ms/);
  clock.advance(999);
  state.applyCheck(A.id, pass(replica()));
  assert.equal(
    statusOf(state, A.id).status,
    "ejected",
    "a pass inside the cooldown does not rejoin",
  );
  clock.advance(1);
  assert.equal(statusOf(state, A.id).status, "ejected", "the cooldown alone does not rejoin");
  state.applyCheck(A.id, fail());
  assert.equal(statusOf(state, A.id).status, "ejected", "a failing check does not rejoin");
  state.applyCheck(A.id, pass(replica()));
  assert.equal(statusOf(state, A.id).status, "up");
  assert.deepEqual(state.routes().readers, [A.id, B.id]);
});

Deno.test("ShardState: errors outside the window do not eject", () => {
  const { state, clock } = healthy({ passive: { errors: 3, windowMs: 1000 } });
  for (let i = 0; i < 10; i++) {
    state.reportError(A.id, "closed");
    clock.advance(600);
  }
  assert.equal(statusOf(state, A.id).status, "up");
});

Deno.test("ShardState: repeated ejections double the cooldown up to the cap, and the streak resets", () => {
  const { state, clock } = healthy({
    passive: { errors: 1, cooldownMs: 1000, maxCooldownMs: 5000 },
  });
  const ejectAndRejoin = () => {
    state.reportError(A.id, "timeout");
    const until = /cooldown (\d+)ms/.exec(statusOf(state, A.id).reason)?.[1];
    clock.advance(Number(until));
    state.applyCheck(A.id, pass(replica()));
    assert.equal(statusOf(state, A.id).status, "up");
    return Number(until);
  };
  assert.deepEqual([1, 2, 3, 4, 5].map(ejectAndRejoin), [1000, 2000, 4000, 5000, 5000]);
  // Healthy for as long as the next cooldown (5000ms) would last: back to the base.
  clock.advance(5000);
  assert.equal(ejectAndRejoin(), 1000);
  // Healthy for less: the streak goes on.
  clock.advance(1999);
  assert.equal(ejectAndRejoin(), 2000);
  assert.equal(statusOf(state, A.id).ejections, 7);
});

Deno.test("ShardState never ejects more than max_ejected_percent of the replicas, and logs it once", () => {
  const { state, lines } = healthy({ passive: { errors: 1, maxEjectedPercent: 50 } });
  state.reportError(A.id, "timeout");
  assert.equal(statusOf(state, A.id).status, "ejected");
  for (let i = 0; i < 5; i++) state.reportError(B.id, "timeout");
  assert.equal(statusOf(state, B.id).status, "up");
  assert.deepEqual(state.routes().readers, [B.id]);
  const capped = lines.filter((l) => l.msg === "node not ejected: max_ejected_percent reached");
  assert.equal(capped.length, 1);
  assert.equal(capped[0].node, B.id);
});

Deno.test("ShardState with max_ejected_percent 0 never ejects", () => {
  const { state } = healthy({ passive: { errors: 1, maxEjectedPercent: 0 } });
  state.reportError(A.id, "timeout");
  assert.equal(statusOf(state, A.id).status, "up");
});

Deno.test("ShardState never ejects the primary", () => {
  const { state } = healthy({ passive: { errors: 1, maxEjectedPercent: 100 } });
  for (let i = 0; i < 10; i++) state.reportError(P.id, "closed");
  assert.equal(state.routes().primary, P.id);
  assert.equal(statusOf(state, P.id).status, "up");
});

Deno.test("ShardState ignores errors of unknown nodes and does not eject down nodes", () => {
  const { state } = healthy({ passive: { errors: 1, maxEjectedPercent: 100 } });
  state.reportError("nope:1", "closed");
  state.applyCheck(A.id, fail());
  state.applyCheck(A.id, fail());
  state.reportError(A.id, "connect");
  assert.equal(statusOf(state, A.id).status, "down");
  assert.equal(statusOf(state, A.id).ejections, 0);
});

Deno.test("ShardState: split brain prefers the only master with connected replicas", () => {
  const { state } = healthy();
  // A promoted itself but has no replicas; P still has B.
  state.applyCheck(A.id, pass(master([], "r1")));
  assert.equal(state.routes().primary, P.id);
  assert.equal(state.routes().primaryProblem, null);
});

Deno.test("ShardState: split brain with no way to tell gives no primary and says why", () => {
  const { state } = healthy();
  state.applyCheck(P.id, pass(master([])));
  state.applyCheck(A.id, pass(master([], "r1")));
  assert.deepEqual(state.routes(), {
    readers: [B.id],
    primary: null,
    primaryProblem: `2 nodes claim role:master (${P.id}, ${A.id})`,
    claimants: [P.id, A.id],
  });
  state.applyCheck(P.id, pass(master([line(7002)])));
  state.applyCheck(A.id, pass(master([line(7002)], "r1")));
  assert.equal(state.routes().primary, null, "both have replicas");
});

Deno.test("ShardState: two entries of one server (same run_id) are one primary, not split brain", () => {
  const { state } = healthy();
  // A is another name for P's server (e.g. a cloud primary endpoint): same run_id.
  state.applyCheck(P.id, pass(master([], "same")));
  state.applyCheck(A.id, pass(master([], "same")));
  assert.equal(state.routes().primary, P.id);
  assert.equal(state.routes().primaryProblem, null);
});

Deno.test("ShardState: a master that does not answer is never the primary", () => {
  const { state } = healthy();
  state.applyCheck(P.id, fail());
  assert.equal(state.routes().primary, P.id, "still within fall");
  state.applyCheck(P.id, fail());
  const r = state.routes();
  assert.equal(r.primary, null);
  assert.match(r.primaryProblem ?? "", /no answering node reports role:master/);
});

Deno.test("ShardState follows a failover: the promoted replica becomes primary", () => {
  const { state, lines } = healthy();
  state.applyCheck(A.id, pass(master([], "r1")));
  state.applyCheck(P.id, pass(replica({ runId: "m1", linkUp: false, linkDownSinceSeconds: -1 })));
  state.applyCheck(A.id, pass(master([line(7000), line(7002)], "r1")));
  const r = state.routes();
  assert.equal(r.primary, A.id);
  assert.deepEqual(r.readers, [B.id], "the old primary has not synced with the new one yet");
  const roles = lines.filter((l) => l.msg === "node role changed" && l.from !== "unknown");
  assert.deepEqual(roles.map((l) => [l.node, l.to]), [[A.id, "master"], [P.id, "replica"]]);
});

Deno.test("ShardState: weight 0 drains a replica; the primary stays the writer", () => {
  const { state } = healthy();
  state.update(testShard([localNode(7000, 0), localNode(7001, 0), B]));
  assert.equal(statusOf(state, A.id).status, "draining");
  assert.deepEqual(state.routes(), { readers: [B.id], primary: P.id, primaryProblem: null });
});

Deno.test("ShardState.update(): removed nodes leave at once, added nodes need rise passes", () => {
  const { state } = healthy();
  const C = localNode(7003);
  const { added, removed } = state.update(testShard([P, B, C]));
  assert.deepEqual(removed, [A.id]);
  assert.deepEqual(added.map((n) => n.id), [C.id]);
  assert.deepEqual(state.routes().readers, [B.id]);
  assert.equal(state.has(A.id), false);
  state.applyCheck(C.id, pass(replica({ runId: "c" })));
  assert.deepEqual(state.routes().readers, [B.id], "not after one pass");
  assert.match(statusOf(state, C.id).reason, /passing checks 1\/2/);
  state.applyCheck(C.id, pass(replica({ runId: "c" })));
  assert.deepEqual(state.routes().readers, [B.id, C.id]);
  // A result for a removed node is ignored.
  state.applyCheck(A.id, pass(replica()));
  assert.deepEqual(state.snapshot().map((n) => n.id), [P.id, B.id, C.id]);
});

Deno.test("ShardState.update() applies new rise/fall in place", () => {
  const { state } = healthy();
  state.update(testShard([P, A, B], { check: { fall: 1 } }));
  state.applyCheck(A.id, fail());
  assert.equal(statusOf(state, A.id).status, "down");
});

Deno.test("ShardState logs every status transition once", () => {
  const { state, lines } = healthy();
  const before = lines.length;
  state.applyCheck(A.id, fail());
  state.applyCheck(A.id, fail());
  state.applyCheck(A.id, fail());
  state.applyCheck(A.id, fail());
  const changes = lines.slice(before).filter((l) => l.msg === "node status changed");
  assert.equal(changes.length, 1);
  assert.equal(changes[0].node, A.id);
  assert.equal(changes[0].to, "down");
  assert.equal(changes[0].level, "warn");
  assert.match(String(changes[0].reason), /timeout after 300ms/);
});

Deno.test("ShardState.snapshot() reports replication facts", () => {
  const { state } = healthy();
  const p = statusOf(state, P.id);
  assert.equal(p.role, "master");
  assert.equal(p.connectedReplicas, 2);
  assert.equal(p.servesReads, false);
  const a = statusOf(state, A.id);
  assert.deepEqual(
    {
      role: a.role,
      linkUp: a.linkUp,
      lagMs: a.lagMs,
      loading: a.loading,
      lastCheckMs: a.lastCheckMs,
    },
    { role: "replica", linkUp: true, lagMs: 0, loading: false, lastCheckMs: 1 },
  );
});

Deno.test("sameRoutes() compares readers, primary and problem", () => {
  const a = { readers: ["x", "y"], primary: "p", primaryProblem: null };
  assert.equal(sameRoutes(a, { ...a, readers: ["x", "y"] }), true);
  assert.equal(sameRoutes(a, { ...a, readers: ["y", "x"] }), false);
  assert.equal(sameRoutes(a, { ...a, primary: null }), false);
  assert.equal(sameRoutes(a, { ...a, primaryProblem: "z" }), false);
});
