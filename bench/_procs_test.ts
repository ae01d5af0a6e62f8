import assert from "node:assert/strict";
import { parseProcNetTcp, parseVmRss } from "./_procs.ts";

Deno.test("parseVmRss() reads VmRSS in KiB", () => {
  assert.equal(parseVmRss("Name:\tdeno\nVmPeak:\t  9 kB\nVmRSS:\t   51234 kB\n"), 51234);
  assert.throws(() => parseVmRss("Name:\tx\n"), /no VmRSS/);
});

Deno.test("parseProcNetTcp() reads ports, state and inode", () => {
  const text =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
    "   0: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 12345 1 0 20 4 30 10 -1\n";
  assert.deepEqual(parseProcNetTcp(text), [
    { localPort: 50000, remotePort: 8080, state: "01", inode: "12345" },
  ]);
});
