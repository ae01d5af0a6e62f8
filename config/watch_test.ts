import assert from "node:assert/strict";
import { join } from "node:path";
import { watchConfig } from "./watch.ts";

/** Short debounce keeps the tests quick; the burst test sets its own. */
const DEBOUNCE_MS = 60;
const DEADLINE_MS = 5_000;

/** Waits until `cond()` holds, polling, or fails after `ms`. */
async function waitFor(cond: () => boolean, what: string, ms = DEADLINE_MS): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A temp dir with a config file and a watcher recording what each call saw. */
async function setup(debounceMs = DEBOUNCE_MS) {
  const dir = await Deno.makeTempDir({ prefix: "shardgate_watch_" });
  const file = join(dir, "shardgate.yaml");
  await Deno.writeTextFile(file, "v0\n");
  const seen: string[] = [];
  const watcher = watchConfig(file, () => seen.push(Deno.readTextFileSync(file)), { debounceMs });
  return {
    dir,
    file,
    seen,
    /** Writes `text` and waits for the call that sees it: proves quiet periods without sleeping. */
    async marker(text: string) {
      await Deno.writeTextFile(file, text);
      await waitFor(() => seen.at(-1) === text, `a call seeing ${JSON.stringify(text)}`);
    },
    async [Symbol.asyncDispose]() {
      watcher.close();
      await watcher.closed;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("watchConfig() sees a file renamed over the config", async () => {
  await using t = await setup();
  const tmp = join(t.dir, ".shardgate.yaml.swp");
  await Deno.writeTextFile(tmp, "v1\n");
  await Deno.rename(tmp, t.file);
  await waitFor(() => t.seen.length === 1, "one call");
  assert.deepEqual(t.seen, ["v1\n"]);
});

Deno.test("watchConfig() sees a file written in place", async () => {
  await using t = await setup();
  await Deno.writeTextFile(t.file, "v1\n");
  await waitFor(() => t.seen.length === 1, "one call");
  assert.deepEqual(t.seen, ["v1\n"]);
});

Deno.test("watchConfig() follows a symlink swapped to a file in another directory", async () => {
  const root = await Deno.makeTempDir({ prefix: "shardgate_watch_" });
  const seen: string[] = [];
  const link = join(root, "shardgate.yaml");
  const watcher = (() => {
    Deno.mkdirSync(join(root, "a"));
    Deno.mkdirSync(join(root, "b"));
    Deno.writeTextFileSync(join(root, "a", "config.yaml"), "a1\n");
    Deno.writeTextFileSync(join(root, "b", "config.yaml"), "b1\n");
    Deno.symlinkSync(join(root, "a", "config.yaml"), link);
    return watchConfig(link, () => seen.push(Deno.readTextFileSync(link)), {
      debounceMs: DEBOUNCE_MS,
    });
  })();
  try {
    // The target is watched in its own directory...
    await Deno.writeTextFile(join(root, "a", "config.yaml"), "a2\n");
    await waitFor(() => seen.at(-1) === "a2\n", "the target's change");
    // ...the link is swapped atomically (ln -s + rename), as deploy tools do...
    const tmp = join(root, ".shardgate.yaml.new");
    await Deno.symlink(join(root, "b", "config.yaml"), tmp);
    await Deno.rename(tmp, link);
    await waitFor(() => seen.at(-1) === "b1\n", "the swapped link's content");
    // ...and the new target's directory is watched from then on.
    await Deno.writeTextFile(join(root, "b", "config.yaml"), "b2\n");
    await waitFor(() => seen.at(-1) === "b2\n", "the new target's change");
    assert.deepEqual(seen, ["a2\n", "b1\n", "b2\n"]);
  } finally {
    watcher.close();
    await watcher.closed;
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("watchConfig() follows a Kubernetes-style swap of a directory symlink", async () => {
  // shardgate.yaml -> ..data/shardgate.yaml, ..data -> ..v1 ; the update swaps ..data to ..v2.
  const root = await Deno.makeTempDir({ prefix: "shardgate_watch_" });
  const seen: string[] = [];
  const file = join(root, "shardgate.yaml");
  for (const v of ["..v1", "..v2"]) {
    Deno.mkdirSync(join(root, v));
    Deno.writeTextFileSync(join(root, v, "shardgate.yaml"), `${v}\n`);
  }
  Deno.symlinkSync("..v1", join(root, "..data"));
  Deno.symlinkSync(join("..data", "shardgate.yaml"), file);
  const watcher = watchConfig(file, () => seen.push(Deno.readTextFileSync(file)), {
    debounceMs: DEBOUNCE_MS,
  });
  try {
    await Deno.symlink("..v2", join(root, "..data_tmp"));
    await Deno.rename(join(root, "..data_tmp"), join(root, "..data"));
    await Deno.remove(join(root, "..v1"), { recursive: true });
    await waitFor(() => seen.length === 1, "one call");
    assert.deepEqual(seen, ["..v2\n"]);
  } finally {
    watcher.close();
    await watcher.closed;
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("watchConfig() calls once after a burst of 10 writes within a second", async () => {
  // Writes every ~50 ms, debounce 250 ms: a trailing debounce gives one call after the last
  // write. A stall of the shared test machine may split the burst, hence the small bound.
  await using t = await setup(250);
  for (let i = 1; i <= 10; i++) {
    await Deno.writeTextFile(t.file, `burst ${i}\n`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await waitFor(() => t.seen.at(-1) === "burst 10\n", "the last write's content");
  const afterBurst = t.seen.length;
  await t.marker("after\n");
  assert.ok(afterBurst >= 1 && afterBurst <= 3, `calls for the burst: ${t.seen.join("|")}`);
  assert.equal(t.seen.length, afterBurst + 1, `no late call for the burst: ${t.seen.join("|")}`);
});

Deno.test("watchConfig() ignores touches, same-content rewrites and other files", async () => {
  await using t = await setup();
  const now = new Date();
  await Deno.utime(t.file, now, now);
  await Deno.writeTextFile(t.file, "v0\n");
  await Deno.writeTextFile(join(t.dir, "other.yaml"), "x\n");
  await Deno.readTextFile(t.file);
  // The next real change must be the first and only call.
  await t.marker("v1\n");
  assert.deepEqual(t.seen, ["v1\n"]);
});

Deno.test("watchConfig() applies a change while another file in its directory changes all the time", async () => {
  // A log beside the config, written every few ms: each event would push a plain trailing
  // debounce (200 ms here) back forever. The comparison still comes within the max wait (1 s).
  await using t = await setup(200);
  let writing = true;
  const log = (async () => {
    for (let i = 0; writing; i++) {
      await Deno.writeTextFile(join(t.dir, "sidecar.log"), `line ${i}\n`, { append: true });
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    const start = performance.now();
    await Deno.writeTextFile(t.file, "v1\n");
    await waitFor(() => t.seen.at(-1) === "v1\n", "the change, despite the log");
    assert.ok(performance.now() - start < DEADLINE_MS);
  } finally {
    writing = false;
    await log;
  }
  assert.deepEqual(t.seen, ["v1\n"], "the log's own events are no change");
});

Deno.test("watchConfig() waits out a missing file and sees it come back", async () => {
  await using t = await setup();
  await Deno.remove(t.file);
  await Deno.writeTextFile(join(t.dir, "nudge"), "1\n");
  await t.marker("back\n");
  assert.deepEqual(t.seen, ["back\n"]);
});

Deno.test("watchConfig() makes no call after close()", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shardgate_watch_" });
  const file = join(dir, "shardgate.yaml");
  const other = join(dir, "other.yaml");
  await Deno.writeTextFile(file, "v0\n");
  let calls = 0;
  let otherCalls = 0;
  const watcher = watchConfig(file, () => calls++, { debounceMs: DEBOUNCE_MS });
  await Deno.writeTextFile(other, "0\n");
  const witness = watchConfig(other, () => otherCalls++, { debounceMs: DEBOUNCE_MS });
  try {
    // A change right before close() must not be delivered after it.
    await Deno.writeTextFile(file, "v1\n");
    watcher.close();
    watcher.close(); // idempotent
    await watcher.closed;
    // A second watcher on the same directory proves events still flow and were handled.
    await Deno.writeTextFile(file, "v2\n");
    await Deno.writeTextFile(other, "1\n");
    // Same debounce, earlier event: a call of the closed watcher would have come first.
    await waitFor(() => otherCalls === 1, "the witness's call");
    assert.equal(calls, 0);
  } finally {
    witness.close();
    await witness.closed;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("watchConfig() hands a throwing callback's error to onError and keeps watching", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shardgate_watch_" });
  const file = join(dir, "shardgate.yaml");
  await Deno.writeTextFile(file, "v0\n");
  const errors: unknown[] = [];
  const seen: string[] = [];
  const watcher = watchConfig(file, () => {
    seen.push(Deno.readTextFileSync(file));
    if (seen.length === 1) throw new Error("boom");
  }, { debounceMs: DEBOUNCE_MS, onError: (err) => errors.push(err) });
  try {
    await Deno.writeTextFile(file, "v1\n");
    await waitFor(() => errors.length === 1, "the error");
    assert.match(String(errors[0]), /boom/);
    await Deno.writeTextFile(file, "v2\n");
    await waitFor(() => seen.length === 2, "the next call");
    assert.deepEqual(seen, ["v1\n", "v2\n"]);
  } finally {
    watcher.close();
    await watcher.closed;
    await Deno.remove(dir, { recursive: true });
  }
});
