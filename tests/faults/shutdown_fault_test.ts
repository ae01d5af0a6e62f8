/**
 * Fault suite: shardgate's own SIGTERM under load. Every command in flight
 * when the signal arrives gets its reply (the nodes are frozen first, so
 * there are many, then thawed once shutdown began); afterwards clients see
 * closed connections and refused connects, never a wrong answer or an error
 * reply; the process exits 0 within its drain time.
 */

import { errorText, unreadBytes, waitFor, withTimeout } from "../helpers/mod.ts";
import { SHARD } from "../_health_helpers.ts";
import { refuses } from "../_reload_helpers.ts";
import { E2E, runFault } from "./_fault.ts";

/** How long shardgate lets clients finish on SIGTERM (main.ts: `app.close(1_000)`). */
const DRAIN_MS = 1_000;
/** Slack on top of the drain for the process to exit on a busy machine. */
const EXIT_SLACK_MS = 2_000;
/** Poll interval while waiting for the frozen nodes' receive queues to stop growing. */
const SETTLE_POLL_MS = 50;
/** Deadline for the clients' commands to pile up at the frozen nodes. */
const PILE_UP_TIMEOUT_MS = 5_000;
/** Errors a client may see once shardgate is gone: its connection closed or refused. */
const CLOSED = /^(Socket closed unexpectedly|The client is closed|connect ECONNREFUSED)/;

Deno.test("faults: shardgate's own SIGTERM under load", E2E, async () => {
  let sigtermAt = NaN;
  let exit: { code: number; ms: number } | null = null;
  await runFault({
    name: "shardgate SIGTERM",
    countable: true,
    bounds: { minReadsDuring: 1 },
    async inject({ set, sg, traffic }) {
      // Freeze every node, so each client's next command waits in shardgate or at a node.
      for (const n of set.nodes) n.pause();
      await waitFor(() => traffic.pending === traffic.clients, {
        timeoutMs: PILE_UP_TIMEOUT_MS,
        message: `every client waiting for a reply (${traffic.pending} of ${traffic.clients})`,
      });
      let last = -1;
      await waitFor(() => {
        const queued = set.nodes.map((n) => unreadBytes(n.port));
        const total = queued.reduce((a, b) => a + b, 0);
        const settled = queued.every((b) => b > 0) && total === last;
        last = total;
        return settled;
      }, {
        timeoutMs: PILE_UP_TIMEOUT_MS,
        intervalMs: SETTLE_POLL_MS,
        message: "every node's receive queue holding commands, and no more arriving",
      });
      const from = sg.logs().length;
      const signalled = Date.now();
      traffic.faultStarts();
      sigtermAt = traffic.now();
      sg.signal("SIGTERM");
      try {
        await sg.waitForLog((l) => l.msg === "shutting down", DRAIN_MS + EXIT_SLACK_MS, { from });
      } finally {
        for (const n of set.nodes) n.resume();
      }
      const status = await withTimeout(sg.exited, DRAIN_MS + EXIT_SLACK_MS, "shardgate exit");
      exit = { code: status.code, ms: Date.now() - signalled };
      traffic.faultEnds();
    },
    async verify({ sg, traffic }, report) {
      const out: string[] = [];
      const inFlight = traffic.inFlightAt(sigtermAt);
      if (inFlight.total < traffic.clients) {
        out.push(`only ${inFlight.total} operations in flight at SIGTERM: the test proves little`);
      }
      if (inFlight.failed > 0) {
        out.push(
          `${inFlight.failed} of ${inFlight.total} commands in flight at SIGTERM got no reply: ` +
            JSON.stringify(inFlight.errors),
        );
      }
      if (exit === null || exit.code !== 0 || exit.ms > DRAIN_MS + EXIT_SLACK_MS) {
        out.push(`shardgate exited ${JSON.stringify(exit)}, not 0 within the drain`);
      }
      if (report.reads.wrong > 0) out.push(`${report.reads.wrong} reads got a wrong value`);
      const errors = { ...report.reads.errors, ...report.writes.errors };
      const unexpected = Object.keys(errors).filter((e) => !CLOSED.test(e));
      if (unexpected.length > 0) {
        out.push(`clients saw errors other than a closed connection: ${unexpected.join(" | ")}`);
      }
      const ports = sg.ports[SHARD];
      for (const port of [ports.readers, ports.writer!]) {
        try {
          if (!await refuses(port)) out.push(`port ${port} still accepts connections`);
        } catch (e) {
          out.push(`port ${port}: ${errorText(e)}`);
        }
      }
      return out;
    },
  });
});
