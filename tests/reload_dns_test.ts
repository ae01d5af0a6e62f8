/**
 * End-to-end: a node host name that starts resolving to a new address.
 * Names are re-resolved every `dns_refresh`; connections to the old address
 * drain and new ones reach the new address, with no failed read. The name
 * lives in a temporary /etc/hosts entry (the system resolver reads it), so
 * this test must run as root; /etc/hosts is restored afterwards.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  closeClient,
  freePort,
  loadLoop,
  startShardgate,
  type TestClient,
  waitFor,
} from "./helpers/mod.ts";
import { createClient } from "redis";
import { assertClean, configYaml, E2E } from "./_reload_helpers.ts";

const HOST = "sg-dns-test.internal";
const HOSTS = "/etc/hosts";

/** A redis-server bound to `ip` only (the harness binds 127.0.0.1, so it is spawned here). */
class IpRedis implements AsyncDisposable {
  readonly ip: string;
  readonly port: number;
  #child: Deno.ChildProcess;
  #dir: string;

  private constructor(ip: string, port: number, child: Deno.ChildProcess, dir: string) {
    this.ip = ip;
    this.port = port;
    this.#child = child;
    this.#dir = dir;
  }

  static async start(ip: string, port: number): Promise<IpRedis> {
    const dir = await Deno.makeTempDir({ prefix: "shardgate-dns-redis-" });
    const child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        ip,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--logfile",
        `${dir}/redis.log`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const r = new IpRedis(ip, port, child, dir);
    try {
      await waitFor(async () => {
        const c = await r.client();
        closeClient(c);
        return true;
      }, { timeoutMs: 5_000, message: `redis-server on ${ip}:${port}` });
    } catch (e) {
      await r[Symbol.asyncDispose]();
      throw e;
    }
    return r;
  }

  /** A client connected to this server directly. */
  async client(): Promise<TestClient> {
    const c = createClient({
      socket: { host: this.ip, port: this.port, reconnectStrategy: false },
    }) as TestClient;
    c.on("error", () => {});
    await c.connect();
    return c;
  }

  /** Normal client connections, leaving out `observer` (which must be named "observer"). */
  async connections(observer: TestClient): Promise<number> {
    const list = await observer.clientList({ TYPE: "NORMAL" });
    return list.filter((c) => c.name !== "observer").length;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // exited
    }
    await this.#child.status;
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Replaces /etc/hosts atomically (a renamed temp file), so concurrent
 * lookups never see it half-written; in place where it is a bind mount.
 */
async function writeHosts(content: string): Promise<void> {
  const tmp = `${HOSTS}.shardgate-test-${crypto.randomUUID()}`;
  try {
    await Deno.writeTextFile(tmp, content);
    await Deno.chmod(tmp, (await Deno.stat(HOSTS)).mode ?? 0o644);
    await Deno.rename(tmp, HOSTS);
  } catch {
    await Deno.remove(tmp).catch(() => {});
    await Deno.writeTextFile(HOSTS, content);
  }
}

Deno.test(
  "reload: a node name that resolves to a new address moves traffic there",
  E2E,
  async () => {
    const original = await Deno.readTextFile(HOSTS);
    const pointTo = (ip: string) => writeHosts(`${original}${ip} ${HOST}\n`);
    try {
      await pointTo("127.0.0.2");
      const port = await freePort();
      await using oldNode = await IpRedis.start("127.0.0.2", port);
      await using newNode = await IpRedis.start("127.0.0.3", port);
      const oldClient = await oldNode.client();
      await oldClient.clientSetName("observer");
      const newClient = await newNode.client();
      try {
        await oldClient.set("k", "old");
        await newClient.set("k", "new");
        await using sg = await startShardgate(
          configYaml({ main: { nodes: [`${HOST}:${port}`], extra: ["dns_refresh: 200ms"] } }),
        );
        // Per client: once it read "new", it must never read "old" again.
        const seen = new Map<number, string>();
        let news = 0;
        await using reads = await loadLoop({
          port: sg.ports.main.readers,
          op: async (c, w) => {
            const v = await c.get("k");
            if (v !== "old" && v !== "new") throw new Error(`GET k gave ${v}`);
            if (seen.get(w) === "new" && v === "old") {
              throw new Error("read the old node after the new");
            }
            seen.set(w, v);
            if (v === "new") news++;
          },
        });
        await using writes = await loadLoop({
          port: sg.ports.main.writer!,
          clients: 2,
          op: async (c, w, i) => void await c.set(`w${w}`, String(i)),
        });
        await reads.waitForOk(300);
        assertEquals(news, 0);

        await pointTo("127.0.0.3");
        await waitFor(() => news >= 300, {
          timeoutMs: 5_000,
          message: "300 reads from the new address",
        });
        await sg.waitForLog((l) => l.msg === "node address changed; draining old connection");
        // Writes follow too, and shardgate lets go of the old address.
        await waitFor(async () => (await newClient.exists("w0")) === 1, {
          timeoutMs: 5_000,
          message: "writes on the new address",
        });
        await waitFor(async () => await oldNode.connections(oldClient) === 0, {
          timeoutMs: 5_000,
          message: "shardgate's connections to the old address to close",
        });
        assertClean(await reads.stop(), "readers");
        assertClean(await writes.stop(), "writer");
        assert(news >= 300);
      } finally {
        closeClient(oldClient);
        closeClient(newClient);
      }
    } finally {
      await writeHosts(original);
    }
  },
);
