/**
 * End-to-end: the status page in headless Chromium (Debian's `chromium`,
 * driven by `playwright-core`): one row per node, state by colour and by
 * word; a killed replica turns DOWN without the page being reloaded. A
 * screenshot is saved to `tests/artifacts/status_page.png`.
 */

import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual,
  ok as assert,
} from "node:assert/strict";
import { type Browser, chromium } from "playwright-core";
import { REPO_ROOT, startReplicaSet, startShardgate } from "./helpers/mod.ts";
import { adminPort, adminYaml, E2E, SHARD } from "./_admin_helpers.ts";

/** Debian's Chromium (`apt-get install chromium`; scripts/ensure_deps.mjs installs it). */
const CHROMIUM = "/usr/bin/chromium";
/** Chromium flags for a sandbox-less, offline test machine. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ARTIFACTS = `${REPO_ROOT}/tests/artifacts`;

/** An element's computed background colour (runs in the page; self-contained). */
const background = (e: unknown): string =>
  (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } })
    .getComputedStyle(e).backgroundColor;

async function launch(): Promise<Browser & AsyncDisposable> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  return Object.assign(browser, { [Symbol.asyncDispose]: () => browser.close() });
}

Deno.test(
  "status page e2e: every node in a row; a killed replica shows DOWN without reloading the page",
  E2E,
  async () => {
    await using set = await startReplicaSet({ replicas: 2 });
    await using sg = await startShardgate(adminYaml(set.addresses));
    const url = `http://127.0.0.1:${adminPort(sg)}/`;
    await using browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1500, height: 560 } });
    const failed: string[] = [];
    page.on("requestfailed", (r) => failed.push(r.url()));
    let navigations = 0;
    page.on("framenavigated", (f) => {
      if (f === page.mainFrame()) navigations++;
    });
    await page.goto(url);
    const rows = page.locator(`section[data-shard="${SHARD}"] tbody tr`);
    await rows.nth(set.nodes.length - 1).waitFor({ timeout: 10_000 });
    assertEquals(await rows.count(), set.nodes.length);
    for (const n of set.nodes) {
      const state = page.locator(`tr[data-node="${n.address}"] [data-state]`);
      assertEquals(await state.getAttribute("data-state"), "up");
      assertEquals(await state.textContent(), "UP");
    }
    assertEquals(
      await page.locator(`tr[data-node="${set.primary.address}"] td`).nth(2).textContent(),
      "primary",
    );
    assertEquals(await page.locator("#ready").textContent(), "READY");
    const upColour = await page.locator(`tr[data-node="${set.primary.address}"] .state`)
      .evaluate(background);

    const victim = set.replicas[0];
    await victim.kill("SIGKILL");
    const state = page.locator(`tr[data-node="${victim.address}"] [data-state="down"]`);
    await state.waitFor({ timeout: 10_000 });
    assertEquals(await state.textContent(), "DOWN");
    const downColour = await state.evaluate(background);
    notDeepStrictEqual(downColour, upColour, "DOWN has its own colour");
    const reason = await page.locator(`tr[data-node="${victim.address}"] td.reason`).textContent();
    assert((reason ?? "").length > 0, "the reason is shown");
    assertEquals(navigations, 1, "the page updated itself; it was not reloaded");
    assertEquals(failed, [], "every request the page made succeeded");

    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}/status_page.png`, fullPage: true });
    const size = (await Deno.stat(`${ARTIFACTS}/status_page.png`)).size;
    assert(size > 10_000, `screenshot of ${size} bytes`);
  },
);
