import assert from "node:assert/strict";
import {
  assessReplica,
  findReplicaLine,
  type NodeInfo,
  parseInfoFields,
  parseNodeInfo,
  parseReplicaLine,
  syncedSinceStart,
} from "./info.ts";
import { testShard } from "./_test_helpers.ts";

// Real INFO server + replication + persistence output of redis-server 7.0.15,
// captured from a primary with two replicas and a replica restarted empty.
const sample = (name: string): NodeInfo =>
  parseNodeInfo(Deno.readTextFileSync(new URL(`./testdata/${name}.txt`, import.meta.url)));

const check = testShard([]).check;

Deno.test("parseNodeInfo() reads a primary with two replicas", () => {
  const info = sample("primary_two_replicas");
  assert.equal(info.role, "master");
  assert.equal(info.connectedReplicas, 2);
  assert.equal(info.tcpPort, 17101);
  assert.equal(info.runId, "184e2449100665879ff080255dd4920af88e5f90");
  assert.equal(info.loading, false);
  assert.equal(info.linkUp, null);
  assert.deepEqual(info.replicas, [
    { ip: "127.0.0.1", port: 17102, state: "online", offset: 50, lagSeconds: 0 },
    { ip: "127.0.0.1", port: 17103, state: "online", offset: 50, lagSeconds: 0 },
  ]);
});

Deno.test("parseNodeInfo() reads an in-sync replica", () => {
  const info = sample("replica_online");
  assert.equal(info.role, "replica");
  assert.equal(info.linkUp, true);
  assert.equal(info.syncInProgress, false);
  assert.equal(info.masterHost, "127.0.0.1");
  assert.equal(info.masterPort, 17101);
  assert.equal(info.linkDownSinceSeconds, null);
  assert.equal(syncedSinceStart(info), true);
  assert.deepEqual(assessReplica(info, null, check).serves, true);
});

Deno.test("parseNodeInfo() reads a replica restarted empty, waiting for its full sync", () => {
  const info = sample("replica_waiting_for_sync");
  assert.equal(info.linkUp, false);
  assert.equal(info.syncInProgress, false);
  assert.equal(info.linkDownSinceSeconds, -1);
  assert.equal(syncedSinceStart(info), false);
  // serveWhenLinkDown does not apply: it never synced since it started.
  const v = assessReplica(info, null, { ...check, serveWhenLinkDown: true });
  assert.equal(v.serves, false);
  assert.match(v.reason, /no sync completed since the process started/);
});

Deno.test("parseNodeInfo() reads the primary's view of a replica waiting for its sync", () => {
  const info = sample("primary_replica_waiting");
  const line = info.replicas.find((r) => r.port === 17103);
  assert.equal(line?.state, "wait_bgsave");
});

Deno.test("parseNodeInfo() reads a replica in a full sync", () => {
  const info = sample("replica_sync_in_progress");
  assert.equal(info.syncInProgress, true);
  assert.equal(info.loading, false);
  const v = assessReplica(info, null, check);
  assert.equal(v.serves, false);
  assert.match(v.reason, /full sync in progress/);
});

Deno.test("parseNodeInfo() reads a loading replica", () => {
  const info = sample("replica_loading");
  assert.equal(info.loading, true);
  const v = assessReplica(info, null, check);
  assert.equal(v.serves, false);
  assert.match(v.reason, /loading/);
});

Deno.test("parseNodeInfo() reads a synced replica whose link went down", () => {
  const info = sample("replica_link_down_after_sync");
  assert.equal(info.linkUp, false);
  assert.equal(info.syncInProgress, false);
  assert.equal(info.linkDownSinceSeconds, 1);
  assert.equal(syncedSinceStart(info), true);
  const serving = assessReplica(info, null, { ...check, serveWhenLinkDown: true });
  assert.equal(serving.serves, true);
  assert.equal(serving.lagMs, 1000);
  const strict = assessReplica(info, null, { ...check, serveWhenLinkDown: false });
  assert.equal(strict.serves, false);
  assert.equal(strict.reason, "master link down");
});

Deno.test("syncedSinceStart() rejects an epoch-sized link-down time (older Redis, never synced)", () => {
  const base = sample("replica_link_down_after_sync");
  assert.equal(syncedSinceStart({ ...base, linkDownSinceSeconds: 1_795_633_610 }), false);
  assert.equal(syncedSinceStart({ ...base, uptimeSeconds: null }), false);
  assert.equal(syncedSinceStart({ ...base, linkDownSinceSeconds: null }), false);
  assert.equal(syncedSinceStart(sample("primary_two_replicas")), false);
});

Deno.test("assessReplica() prefers the primary's lag and applies max_lag", () => {
  const info = { ...sample("replica_online"), lastIoSeconds: 1 };
  const line = parseReplicaLine("ip=127.0.0.1,port=17102,state=online,offset=50,lag=3");
  assert.notEqual(line, null);
  const v = assessReplica(info, line, { ...check, maxLagMs: 2000 });
  assert.equal(v.serves, false);
  assert.equal(v.lagMs, 3000);
  assert.match(v.reason, /lag 3000ms > max_lag 2000ms/);
  // Without the primary's view, the replica's own last I/O is the estimate.
  const own = assessReplica(info, null, { ...check, maxLagMs: 2000 });
  assert.equal(own.serves, true);
  assert.equal(own.lagMs, 1000);
});

Deno.test("assessReplica() uses the primary's line only while it says online", () => {
  // Right after a diskless sync the primary still says wait_bgsave until the
  // replica's first ack, though the replica is up: the replica's word counts.
  const info = { ...sample("replica_online"), lastIoSeconds: 0 };
  const line = parseReplicaLine("ip=127.0.0.1,port=17102,state=wait_bgsave,offset=0,lag=7");
  const v = assessReplica(info, line, { ...check, maxLagMs: 2000 });
  assert.equal(v.serves, true);
  assert.equal(v.lagMs, 0);
});

Deno.test("assessReplica() says a primary does not serve reads", () => {
  assert.equal(assessReplica(sample("primary_two_replicas"), null, check).serves, false);
});

Deno.test("findReplicaLine() matches by port and IP only", () => {
  const primary = sample("primary_two_replicas");
  assert.equal(findReplicaLine(primary, ["127.0.0.1"], 17103)?.port, 17103);
  assert.equal(findReplicaLine(primary, ["10.0.0.9"], 17103), null);
  assert.equal(findReplicaLine(primary, ["127.0.0.1"], 9999), null);
});

Deno.test("parseInfoFields() handles LF-only text, headers and values with colons", () => {
  const f = parseInfoFields("# Replication\nrole:slave\n\nmaster_host:fe80::1\nbroken\n");
  assert.equal(f.get("role"), "slave");
  assert.equal(f.get("master_host"), "fe80::1");
  assert.equal(f.size, 2);
});

Deno.test("parseReplicaLine() rejects lines without ip or port", () => {
  assert.equal(parseReplicaLine("state=online,offset=1"), null);
  assert.equal(parseReplicaLine("ip=1.2.3.4,port=x"), null);
});
