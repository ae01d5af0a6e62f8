/**
 * Framing the client's input (on every path): where the next command ends,
 * and what a protocol error does — the client gets a RESP error and its
 * session closes; nothing else is touched.
 *
 * @module
 */

import { INCOMPLETE, MAX_QUERY_BUFFER, RespProtocolError } from "../../resp/mod.ts";
import { errorReply, ErrorText } from "../errors.ts";
import type { SessionCore } from "./core.ts";
import { local } from "./fifo.ts";
import { enter, maybeFinish } from "./flow.ts";

/** {@link frame}: the input broke the protocol (answered; the session is closing). */
export const BROKEN = -2;

/**
 * Frames the command at `pos`: where it ends, INCOMPLETE, or BROKEN after
 * a protocol error was answered (the session is closing).
 */
export function frame(s: SessionCore, buf: Uint8Array, pos: number, end: number): number {
  let next: number;
  try {
    next = s.parser.parse(buf, pos, end);
  } catch (err) {
    protocolError(s, err);
    return BROKEN;
  }
  if (next === INCOMPLETE && end - pos > MAX_QUERY_BUFFER) {
    protocolError(s, new RespProtocolError("Protocol error: too big query"));
    return BROKEN;
  }
  return next;
}

/**
 * The client broke the protocol: it gets the error after the replies
 * before it, then the session closes. Replies a pinned node still owes are
 * not waited for (the client broke the stream).
 */
function protocolError(s: SessionCore, err: unknown): void {
  s.rt.counters.protocolErrors++;
  const msg = err instanceof RespProtocolError ? err.message : "Protocol error";
  local(s, errorReply(ErrorText.protocol(msg)));
  const m = s.mode;
  if (m.kind === "closing" || m.kind === "closed") return;
  const link = m.kind === "pinned" || m.kind === "raw" ? m.link : null;
  enter(s, { kind: "closing", link, pin: null });
  maybeFinish(s);
}
