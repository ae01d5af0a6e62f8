import { equal, ok } from "node:assert/strict";
import { freePort, Supervisor } from "./_procs.ts";
import { parseInfo, startRedisServer } from "./_redis.ts";
import { buildZipfGetC, getFrame, pick, replyLength, zipfCdf } from "./zipf_get.ts";

const te = new TextEncoder();

Deno.test("zipfCdf() with exponent 0.99 puts most reads on few keys; 0 is uniform", () => {
  const cdf = zipfCdf(100_000, 0.99);
  ok(cdf[99] > 0.35, `top 100 keys: ${cdf[99]}`);
  equal(Math.round(cdf[cdf.length - 1] * 1e9), 1e9);
  const uni = zipfCdf(100, 0);
  ok(Math.abs(uni[49] - 0.5) < 1e-9);
});

Deno.test("pick() maps [0, 1) onto ranks by the cdf", () => {
  const cdf = zipfCdf(4, 0);
  equal(pick(cdf, 0), 0);
  equal(pick(cdf, 0.3), 1);
  equal(pick(cdf, 0.99), 3);
});

Deno.test("replyLength() frames bulk, nil and error replies", () => {
  const b = te.encode("$3\r\nabc\r\n");
  equal(replyLength(b, b.length), 9);
  equal(replyLength(b, 6), -1);
  equal(replyLength(te.encode("$-1\r\n"), 5), 5);
  equal(replyLength(te.encode("-ERR x\r\n"), 8), 8);
  equal(new TextDecoder().decode(getFrame(7)), "*2\r\n$3\r\nGET\r\n$16\r\nkey:000000000007\r\n");
});

/** Runs a generator (`cmd args`) against `port` for one second; its JSON line. */
async function generate(
  cmd: string,
  args: string[],
  port: number,
): Promise<Record<string, number>> {
  const out = await new Deno.Command(cmd, {
    args: [...args, "--port", String(port), "--clients", "4", "--seconds", "1", "--warmup", "0"]
      .concat(["--keys", "1000", "--zipf", "0.99"]),
    stdout: "piped",
    stderr: "inherit",
  }).output();
  equal(out.code, 0, `${cmd} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("zipf_get.c and zipf_get.ts send GETs of the same Zipf law to a real server", async () => {
  // Only the 10 most popular of the 1,000 keys exist, so the server's share of hits is the
  // generator's share of reads that went to them: the cdf at rank 10.
  const expected = zipfCdf(1000, 0.99)[9];
  const sup = new Supervisor();
  const dir = await Deno.makeTempDir();
  try {
    const exe = await buildZipfGetC(dir);
    const port = freePort();
    const redis = await startRedisServer(sup, "redis-zipf", port);
    const args: string[] = [];
    for (let i = 0; i < 10; i++) args.push(`key:${String(i).padStart(12, "0")}`, "abc");
    await redis.command("MSET", ...args);
    const runs: [string, string[]][] = [
      [exe, []],
      [Deno.execPath(), ["run", "-A", new URL("./zipf_get.ts", import.meta.url).pathname]],
    ];
    for (const [cmd, pre] of runs) {
      await redis.command("CONFIG", "RESETSTAT");
      const res = await generate(cmd, pre, port);
      const stats = parseInfo(String(await redis.command("INFO", "stats")));
      const hits = Number(stats.get("keyspace_hits")),
        misses = Number(stats.get("keyspace_misses"));
      equal(res.errors, 0);
      equal(res.clients, 4);
      ok(res.ops > 500 && res.opsPerSec > 0 && res.p50Ms > 0 && res.p99Ms >= res.p50Ms, cmd);
      ok(
        hits + misses >= res.ops,
        `${cmd}: the server saw ${hits + misses} GETs, ${res.ops} counted`,
      );
      const share = hits / (hits + misses);
      ok(Math.abs(share - expected) < 0.03, `${cmd}: top 10 share ${share}, expected ${expected}`);
    }
    redis.close();
  } finally {
    await sup.stopAll();
    await Deno.remove(dir, { recursive: true });
  }
});
