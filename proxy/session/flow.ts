/**
 * Moving between modes, and the client's input flow: when reading pauses
 * and resumes, when the session finishes and ends. Every mode change goes
 * through {@link enter}, which checks it against the table in `mode.ts`.
 *
 * @module
 */

import { CLIENT_MAX_INFLIGHT, CLIENT_OUTPUT_HIGH_WATER } from "../../config/defaults.ts";
import type { SessionCore } from "./core.ts";
import { canMove, CLOSED, type Mode, ModeError, MUX } from "./mode.ts";

/** Moves `s` to `next`; throws {@link ModeError} for a move the table does not allow. */
export function enter(s: SessionCore, next: Mode): void {
  const from = s.mode.kind;
  if (!canMove(from, next.kind)) throw new ModeError(from, next.kind);
  s.mode = next;
  s.onTransition?.(from, next.kind);
}

/** No more commands: the session closes once every reply is out (keeping a pin's owed ones). */
export function startClosing(s: SessionCore): void {
  const m = s.mode;
  if (m.kind === "closing" || m.kind === "closed") return;
  if (m.kind === "pinned") enter(s, { kind: "closing", link: m.link, pin: m });
  else if (m.kind === "raw") enter(s, { kind: "closing", link: m.link, pin: null });
  else enter(s, { kind: "closing", link: null, pin: null });
  maybeFinish(s);
}

/** Closes a closing session once nothing is owed to the client any more. */
export function maybeFinish(s: SessionCore): void {
  const m = s.mode;
  if (m.kind !== "closing" || s.fifo.length > 0) return;
  const pin = m.pin?.tracker ?? null;
  if (pin !== null && pin.owed > 0 && !pin.uncounted) return;
  end(s, true);
}

/**
 * The session ends: its pinned connection closes, then the client's
 * socket, gracefully (last replies written, half-closed) or at once.
 */
export function end(s: SessionCore, graceful: boolean): void {
  const m = s.mode;
  const link = m.kind === "pinned" || m.kind === "raw"
    ? m.link
    : m.kind === "closing"
    ? m.link
    : null;
  enter(s, CLOSED);
  link?.close(null);
  if (graceful) s.io.finish();
  else s.io.close();
  s.onCloseFn(s);
}

/**
 * True when no reply is pending in the FIFO; otherwise stops reading until
 * it empties, and the command at hand is parsed again then (its effect
 * must follow every command before it, on whatever connection they went).
 */
export function quietFifo(s: SessionCore): boolean {
  if (s.fifo.length === 0) return true;
  s.parser.reset();
  waitFor(s, "fifo");
  return false;
}

/** Stops reading until a reply comes (see {@link WaitingMode}). */
export function waitFor(s: SessionCore, what: "fifo" | "select" | "login" | "gate"): void {
  enter(s, { kind: "waiting", for: what });
  s.io.pause();
}

/** The FIFO emptied: a waiting session reads on, a closing one finishes. */
export function fifoEmptied(s: SessionCore): void {
  const kind = s.mode.kind;
  if (kind === "waiting") enter(s, MUX);
  else if (kind === "closing") return maybeFinish(s);
  maybeResume(s);
}

/** Resumes input when nothing holds it any more. */
export function maybeResume(s: SessionCore): void {
  if (!s.io.paused || s.nodeWait) return;
  const m = s.mode;
  if (m.kind === "mux") {
    if (s.fifo.length >= CLIENT_MAX_INFLIGHT / 2 || s.io.pending > CLIENT_OUTPUT_HIGH_WATER) {
      return;
    }
  } else if (!(m.kind === "pinned" && !m.waiting) && m.kind !== "raw") return;
  s.io.resume();
}

/** Stops reading this client until `conn` has written out its backlog. */
export function waitForNode(s: SessionCore, conn: { whenDrained(fn: () => void): void }): void {
  s.rt.counters.backpressurePauses++;
  s.nodeWait = true;
  s.io.pause();
  conn.whenDrained(() => {
    s.nodeWait = false;
    maybeResume(s);
  });
}
