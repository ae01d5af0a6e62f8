/**
 * End-to-end: what shardgate exports over OTLP/HTTP (JSON) with
 * `OTEL_DENO=true`, received by a test receiver: spans for a node going
 * down, a lost primary and config reloads, the metrics table as
 * OpenTelemetry metrics, and — once the session core calls the tracer —
 * one root span per sampled command (none at `sample_ratio: 0`), with a
 * retried read showing its attempts.
 */

import { deepStrictEqual as assertEquals, match, ok as assert, rejects } from "node:assert/strict";
import {
  closeClient,
  type OtlpReceiver,
  type ReceivedSpan,
  redisClient,
  type ShardgateProcess,
  startOtlpReceiver,
  startReplicaSet,
  startShardgate,
} from "./helpers/mod.ts";
import { adminYaml, E2E, SHARD } from "./_admin_helpers.ts";
import { reloaded } from "./_reload_helpers.ts";

/** Waits for the reload span that a config rewrite (logged at or after `from`) makes. */
async function reloadSpan(
  sg: ShardgateProcess,
  otlp: OtlpReceiver,
  yaml: string,
  result: "applied" | "rejected",
): Promise<ReceivedSpan> {
  const before = otlp.spans().length;
  const from = sg.logs().length;
  await sg.writeConfig(yaml);
  if (result === "applied") await reloaded(sg, from);
  return await otlp.waitForSpan(
    (s) =>
      s.name === "shardgate config reload" && s.attributes["shardgate.reload.result"] === result &&
      otlp.spans().indexOf(s) >= before,
    10_000,
    `a ${result} reload span`,
  );
}

Deno.test(
  "telemetry e2e: a node going down, a lost primary and reloads arrive as spans",
  E2E,
  async () => {
    await using otlp = await startOtlpReceiver();
    await using set = await startReplicaSet({ replicas: 1 });
    const yaml = adminYaml(set.addresses, { sampleRatio: 1 });
    await using sg = await startShardgate(yaml, { env: otlp.env() });
    const replica = set.replicas[0];

    await replica.kill("SIGKILL");
    const down = await otlp.waitForSpan(
      (s) => s.name === "shardgate node state" && s.attributes["shardgate.node.to"] === "down",
      10_000,
      "a node state span to down",
    );
    assertEquals(down.parentSpanId, "", "a root span");
    assertEquals(down.service, "shardgate-test");
    assertEquals(down.scope, "shardgate");
    assertEquals(down.attributes["shardgate.shard"], SHARD);
    assertEquals(down.attributes["shardgate.node"], replica.address);
    assertEquals(down.attributes["server.address"], "127.0.0.1");
    assertEquals(down.attributes["server.port"], replica.port);
    assertEquals(down.attributes["shardgate.node.from"], "up");
    assertEquals(down.attributes["shardgate.node.role"], "replica");
    match(String(down.attributes["shardgate.node.reason"]), /\S/);

    await set.primary.kill("SIGKILL");
    const lost = await otlp.waitForSpan(
      (s) => s.name === "shardgate writer switch",
      10_000,
      "a writer switch span",
    );
    assertEquals(lost.attributes["shardgate.writer.from"], set.primary.address);
    assertEquals(lost.attributes["shardgate.writer.to"], "none");
    match(String(lost.attributes["shardgate.writer.reason"]), /role:master/);

    const applied = await reloadSpan(
      sg,
      otlp,
      yaml.replace("sample_ratio: 1", "sample_ratio: 0.5"),
      "applied",
    );
    assertEquals(applied.parentSpanId, "");
    assertEquals(applied.attributes["shardgate.config.file"], sg.configPath);
    match(String(applied.attributes["shardgate.reload.changes"]), /\S/);
    assertEquals(applied.status.code, 0);
    assert(applied.endMs >= applied.startMs);

    const rejected = await reloadSpan(sg, otlp, yaml + "bogus: 1\n", "rejected");
    assertEquals(rejected.status.code, 2, "a rejected reload is an error");
    match(rejected.status.message, /bogus/);
    assert(rejected.events.some((e) => e.name === "exception"), "the errors are recorded");
  },
);

Deno.test(
  "telemetry e2e: the metrics table is exported as OpenTelemetry metrics",
  E2E,
  async () => {
    await using otlp = await startOtlpReceiver();
    await using set = await startReplicaSet({ replicas: 1 });
    await using _sg = await startShardgate(adminYaml(set.addresses), { env: otlp.env() });
    const replica = set.replicas[0];
    const up = await otlp.waitForPoint(
      (p) =>
        p.metric === "shardgate_node_state" && p.attributes.node === replica.address &&
        p.attributes.state === "up" && p.value === 1,
      10_000,
      "shardgate_node_state up = 1 for the replica",
    );
    assertEquals(up.attributes.shard, SHARD);
    await otlp.waitForPoint((p) => p.metric === "shardgate_build_info" && p.value === 1);
    await replica.kill("SIGKILL");
    await otlp.waitForPoint(
      (p) =>
        p.metric === "shardgate_node_state" && p.attributes.node === replica.address &&
        p.attributes.state === "down" && p.value === 1,
      10_000,
      "shardgate_node_state down = 1 for the killed replica",
    );
    assertEquals(otlp.badRequests, 0);
  },
);

Deno.test({
  name: "telemetry e2e: sampled at 1, every proxied command is a root span with its attributes",
  ...E2E,
  fn: async () => {
    await using otlp = await startOtlpReceiver();
    await using set = await startReplicaSet({ replicas: 1 });
    await using sg = await startShardgate(adminYaml(set.addresses, { sampleRatio: 1 }), {
      env: otlp.env(),
    });
    const writer = await redisClient(sg.ports[SHARD].writer!);
    const reader = await redisClient(sg.ports[SHARD].readers);
    try {
      assertEquals(await writer.set("k", "v"), "OK");
      await set.waitSynced();
      assertEquals(await reader.get("k"), "v");
      await rejects(writer.incr("k"), /not an integer/);
    } finally {
      closeClient(writer);
      closeClient(reader);
    }
    const get = await otlp.waitForSpan((s) => s.name === "GET", 10_000, "a GET span");
    assertEquals(get.parentSpanId, "", "RESP carries no trace context: a root span");
    assertEquals(get.attributes["db.system.name"], "redis");
    assertEquals(get.attributes["db.operation.name"], "GET");
    assertEquals(get.attributes["db.namespace"], "0");
    assertEquals(get.attributes["server.address"], "127.0.0.1");
    assertEquals(get.attributes["server.port"], set.replicas[0].port);
    assertEquals(get.attributes["shardgate.shard"], SHARD);
    assertEquals(get.attributes["shardgate.port_role"], "readers");
    assertEquals(get.attributes["shardgate.node"], set.replicas[0].address);
    assertEquals(get.attributes["shardgate.retries"], 0);
    assertEquals(get.attributes["shardgate.pinned"], false);
    assertEquals(get.attributes["shardgate.outcome"], "ok");
    assert(get.endMs >= get.startMs);
    const set_ = await otlp.waitForSpan((s) => s.name === "SET", 10_000, "a SET span");
    assertEquals(set_.attributes["shardgate.port_role"], "writer");
    assertEquals(set_.attributes["server.port"], set.primary.port);
    const incr = await otlp.waitForSpan((s) => s.name === "INCR", 10_000, "an INCR span");
    assertEquals(incr.attributes["shardgate.outcome"], "error");
    assertEquals(incr.status.code, 2);
    assertEquals(incr.attributes["db.response.status_code"], "ERR");
  },
});

Deno.test({
  name: "telemetry e2e: at sample_ratio 0 no command span arrives",
  ...E2E,
  fn: async () => {
    await using otlp = await startOtlpReceiver();
    await using set = await startReplicaSet({ replicas: 1 });
    const yaml = adminYaml(set.addresses, { sampleRatio: 0 });
    await using sg = await startShardgate(yaml, { env: otlp.env() });
    const reader = await redisClient(sg.ports[SHARD].readers);
    try {
      for (let i = 0; i < 200; i++) await reader.get(`k${i}`);
    } finally {
      closeClient(reader);
    }
    // A reload span ends after every command above: once it is in, they would be too.
    await reloadSpan(sg, otlp, yaml + "# touched\n", "applied");
    const commands = otlp.spans().filter((s) => s.attributes["db.system.name"] === "redis");
    assertEquals(commands.length, 0);
  },
});

Deno.test({
  name: "telemetry e2e: a read retried after its replica stalled shows both attempts",
  ...E2E,
  fn: async () => {
    await using otlp = await startOtlpReceiver();
    await using set = await startReplicaSet({ replicas: 2 });
    await using sg = await startShardgate(
      adminYaml(set.addresses, {
        sampleRatio: 1,
        // A retry after the server timeout (hedging would answer first: hedge: false).
        shard: ["timeouts: { server: 300ms }", "passive: { errors: 1000 }", "hedge: false"],
      }),
      { env: otlp.env() },
    );
    const [stalled] = set.replicas;
    const reader = await redisClient(sg.ports[SHARD].readers);
    try {
      await stalled.kill("SIGSTOP");
      for (let i = 0; i < 6; i++) assertEquals(await reader.get("missing"), null);
    } finally {
      await stalled.kill("SIGCONT");
      closeClient(reader);
    }
    const retried = await otlp.waitForSpan(
      (s) => s.name === "GET" && Number(s.attributes["shardgate.retries"]) >= 1,
      10_000,
      "a retried GET span",
    );
    assertEquals(retried.attributes["shardgate.outcome"], "ok");
    const kinds = retried.events.map((e) => e.name);
    assertEquals(kinds.slice(0, 2), ["send", "retry"]);
    assertEquals(retried.events[0].attributes["shardgate.node"], stalled.address);
    assertEquals(retried.events[0].attributes["shardgate.attempt.result"], "timeout");
    assertEquals(retried.attributes["shardgate.node"], set.replicas[1].address);
  },
});
