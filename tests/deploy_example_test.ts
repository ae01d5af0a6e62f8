/**
 * The shipped example config (deploy/shardgate.example.yaml, the README's
 * ElastiCache example) stays valid: `shardgate check` accepts it, and it
 * means what its comments say.
 */

import { deepStrictEqual as assertEquals, match, ok as assert } from "node:assert/strict";
import { isLoopbackHost, parseConfig } from "../config/mod.ts";
import { REPO_ROOT, runShardgateCli } from "./helpers/mod.ts";

const EXAMPLE = "deploy/shardgate.example.yaml";

Deno.test("deploy example: shardgate check accepts it with exit 0", async () => {
  const r = await runShardgateCli(["check", "--config", EXAMPLE], {
    env: { REDIS_AUTH: "example-auth-token" },
  });
  assertEquals(r.code, 0, r.stderr);
  match(r.stdout, /ok \(2 shards\)/);
});

Deno.test("deploy example: TLS and the AUTH token from REDIS_AUTH, loopback listeners only", async () => {
  const text = await Deno.readTextFile(`${REPO_ROOT}/${EXAMPLE}`);
  const { config, issues } = parseConfig(text, EXAMPLE, { REDIS_AUTH: "example-auth-token" });
  assert(config !== null, JSON.stringify(issues));
  assertEquals(config.shards.map((s) => s.name), ["sessions", "catalog"]);
  for (const shard of config.shards) {
    assert(shard.tls !== null && !shard.tls.insecure, `${shard.name}: tls`);
    assertEquals(shard.auth, { username: null, password: "example-auth-token" });
    for (const a of [shard.readers, shard.writer]) {
      if (a !== null) assert(isLoopbackHost(a.host), `${shard.name}: ${a.text}`);
    }
    assertEquals(shard.nodes.length, 3);
    assert(shard.nodes.every((n) => n.address.host.endsWith(".cache.amazonaws.com")));
  }

  const unset = parseConfig(text, EXAMPLE, {});
  assertEquals(unset.config, null);
  assertEquals(unset.issues.map((i) => [i.path, i.message]), [
    ["defaults.auth.password", "environment variable REDIS_AUTH is not set"],
  ]);
});
