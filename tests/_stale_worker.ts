/**
 * One process of the stale-read checker (`stale_read_test.ts`): writes an
 * increasing value to its own key, alternately through the writer port and
 * the split port, and reads it back at once through the readers port and
 * the split port (every fifth write a MULTI/EXEC). A read older than the
 * write just acknowledged is stale.
 *
 * Started once with the ports, it connects, prints `ready`, then runs one
 * check per input line and answers each with one JSON line:
 *
 * ```
 * deno run -A tests/_stale_worker.ts '{"writer":1,"readers":2,"split":3}'
 * > {"key":"k","ops":40}
 * < {"reads":80,"staleReaders":0,"staleSplit":0,"staleOwnSplit":0}
 * ```
 *
 * @module
 */

import { closeClient, redisClient, type TestClient } from "./helpers/client.ts";

/** Splits a text stream into lines (no `jsr:` std here). */
class TextLineStream extends TransformStream<string, string> {
  constructor() {
    let rest = "";
    super({
      transform(chunk, ctl) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop() ?? "";
        for (const p of parts) ctl.enqueue(p);
      },
      flush(ctl) {
        if (rest !== "") ctl.enqueue(rest);
      },
    });
  }
}

/** What one worker reports. */
export interface StaleCounts {
  /** Reads made (two per write). */
  reads: number;
  /** Reads through the readers port older than the write before them. */
  staleReaders: number;
  /** Reads through the split port older than the write before them. */
  staleSplit: number;
  /** Of those, reads of a write the same split session made. */
  staleOwnSplit: number;
}

/** One run: `ops` writes to `key`, each read back at once through both ports. */
async function run(clients: TestClient[], key: string, ops: number): Promise<StaleCounts> {
  const [w, r, s] = clients;
  const out: StaleCounts = { reads: 0, staleReaders: 0, staleSplit: 0, staleOwnSplit: 0 };
  for (let i = 1; i <= ops; i++) {
    const viaSplit = i % 2 === 0;
    // Every fifth write is a transaction (a pinned session on the primary).
    if (i % 5 === 0) await (viaSplit ? s : w).multi().set(key, String(i)).exec();
    else await (viaSplit ? s : w).set(key, String(i));
    const fromReaders = Number(await r.get(key) ?? 0);
    const fromSplit = Number(await s.get(key) ?? 0);
    out.reads += 2;
    if (fromReaders < i) out.staleReaders++;
    if (fromSplit < i) {
      out.staleSplit++;
      if (viaSplit) out.staleOwnSplit++;
    }
  }
  return out;
}

if (import.meta.main) {
  const { writer, readers, split } = JSON.parse(Deno.args[0]) as {
    writer: number;
    readers: number;
    split: number;
  };
  const clients = [await redisClient(writer), await redisClient(readers), await redisClient(split)];
  const enc = new TextEncoder();
  await Deno.stdout.write(enc.encode("ready\n"));
  try {
    // One run per input line `{"key":…,"ops":…}`; one JSON line of counts back.
    for await (
      const line of Deno.stdin.readable.pipeThrough(new TextDecoderStream()).pipeThrough(
        new TextLineStream(),
      )
    ) {
      if (line.trim() === "") continue;
      const { key, ops } = JSON.parse(line) as { key: string; ops: number };
      const out = await run(clients, key, ops);
      await Deno.stdout.write(enc.encode(JSON.stringify(out) + "\n"));
    }
  } finally {
    for (const c of clients) closeClient(c);
  }
}
