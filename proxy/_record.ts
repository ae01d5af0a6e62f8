/**
 * What a session records of each client command for metrics and traces:
 * the command's index in the metrics table and its sampling decision
 * (taken once when it is framed), its sends, retries and hedges when
 * sampled, and, once its reply is final, one `CommandStats.record()` and,
 * when sampled, one span. Allocation-free unless the command is sampled.
 *
 * @module
 */

import {
  commandIndex,
  commandName,
  commandNameOf,
  OTHER_COMMAND,
  type RequestParser,
} from "../resp/mod.ts";
import {
  type CommandTracer,
  Outcome,
  OUTCOME_NAMES,
  type PortRole,
  ROLE_NAMES,
} from "../telemetry/mod.ts";
import { turn } from "./_io.ts";
import type { CommandTag } from "./_pin.ts";
import type { PortContext } from "./_runtime.ts";
import { SHARDGATE_ERROR_PREFIX } from "./errors.ts";
import { type Attempt, type Slot, SLOT_CACHE_HIT, SLOT_FAULTED } from "./_runtime.ts";

const MINUS = 45;
const te = new TextEncoder();
const td = new TextDecoder();
const SHARDGATE_ERROR = te.encode("-" + SHARDGATE_ERROR_PREFIX);

/** One session's command recorder. */
export class CommandRecorder {
  /** The command at hand's index in the metrics' command table. */
  cmd = 0;
  /** The command at hand is sampled for a span. */
  traced = false;
  #lastName: string | undefined = undefined;
  #lastCmd = 0;
  #role: PortRole;
  #tracer: CommandTracer | null;

  /** A recorder counting commands under `role`, tracing through `tracer`. */
  constructor(role: PortRole, tracer: CommandTracer | null) {
    this.#role = role;
    this.#tracer = tracer;
  }

  /** Takes the command just framed: its index (one cached lookup) and sampling decision. */
  tag(parser: RequestParser, buf: Uint8Array): void {
    const name = commandNameOf(parser, buf);
    if (name !== this.#lastName) {
      this.#lastName = name;
      this.#lastCmd = commandIndex(name);
    }
    this.cmd = this.#lastCmd;
    this.traced = this.#tracer !== null && this.#tracer.sample();
  }

  /** Marks `slot` as the command at hand's, arrived at `now`. */
  stamp(slot: Slot, now: number): void {
    slot.cmdIndex = this.cmd;
    slot.port = this.#role;
    slot.startedAt = now;
    slot.trace = this.traced ? [] : null;
  }

  /** The command at hand as a pinned command's tag. */
  pinnedTag(now: number): CommandTag {
    return { cmd: this.cmd, at: now, traced: this.traced };
  }

  /**
   * A client command's reply is final (`reply[start, end)`) on shard `rt`,
   * the session on database `db`: counted, and its span made when sampled.
   */
  finished(
    slot: Slot,
    rt: PortContext,
    db: number,
    reply: Uint8Array,
    start: number,
    end: number,
  ): void {
    const outcome = outcomeOf(reply, start, end);
    rt.commandStats?.record(slot.cmdIndex, this.#role, outcome, (turn.now - slot.startedAt) * 1000);
    const attempts = slot.trace;
    if (attempts === null) return;
    let retries = 0;
    for (const a of attempts) {
      if (a.kind === "retry") retries++;
      if (a.result === "") a.result = "lost";
    }
    const last = attempts.findLast((a) =>
      a.result === "ok" || a.result === "won" || a.result === "error"
    );
    this.#span(
      slot.cmdIndex,
      rt,
      last?.node ?? (slot.nodeId === "" ? null : slot.nodeId),
      db,
      slot.startedAt,
      outcome,
      reply,
      start,
      end,
      retries,
      false,
      attempts,
      (slot.flags & SLOT_FAULTED) !== 0 ||
        (slot.hedged !== null && (slot.hedged.other(slot).flags & SLOT_FAULTED) !== 0),
      (slot.flags & SLOT_CACHE_HIT) !== 0,
    );
  }

  /** A pinned command's reply is final, from `node` of shard `rt`. */
  pinnedFinished(
    tag: CommandTag,
    rt: PortContext,
    node: string,
    db: number,
    reply: Uint8Array,
    start: number,
    end: number,
  ): void {
    const outcome = outcomeOf(reply, start, end);
    rt.commandStats?.record(tag.cmd, this.#role, outcome, (turn.now - tag.at) * 1000);
    if (tag.traced) {
      this.#span(
        tag.cmd,
        rt,
        node,
        db,
        tag.at,
        outcome,
        reply,
        start,
        end,
        0,
        true,
        undefined,
        false,
      );
    }
  }

  #span(
    cmd: number,
    rt: PortContext,
    node: string | null,
    db: number,
    startedAt: number,
    outcome: Outcome,
    reply: Uint8Array,
    start: number,
    end: number,
    retries: number,
    pinned: boolean,
    attempts: Attempt[] | undefined,
    fault: boolean,
    cache = false,
  ): void {
    this.#tracer?.commandSpan({
      command: cmd === OTHER_COMMAND ? undefined : commandName(cmd),
      shard: rt.name,
      role: ROLE_NAMES[this.#role],
      node,
      db,
      startTime: performance.timeOrigin + startedAt,
      endTime: performance.timeOrigin + turn.now,
      retries,
      pinned,
      outcome: OUTCOME_NAMES[outcome],
      error: outcome === Outcome.ok ? null : errorLine(reply, start, end),
      attempts,
      fault,
      cache,
    });
  }
}

/** A traced slot was sent (`kind`) at `now` to the node it now names. */
export function traceSend(slot: Slot, kind: Attempt["kind"], now: number): void {
  slot.trace?.push({ kind, node: slot.nodeId, time: performance.timeOrigin + now, result: "" });
}

/** The pending attempt of a traced command on `node` ended with `result`. */
export function attemptEnded(trace: Attempt[] | null, node: string, result: string): void {
  if (trace === null) return;
  for (let i = trace.length - 1; i >= 0; i--) {
    if (trace[i].node === node && trace[i].result === "") {
      trace[i].result = result;
      return;
    }
  }
}

/** ok, the node's own error reply, or an error of shardgate's own (failed). */
export function outcomeOf(buf: Uint8Array, start: number, end: number): Outcome {
  const b = buf[start];
  if (b !== MINUS && b !== 33) return Outcome.ok; // not '-' or '!'
  if (end - start < SHARDGATE_ERROR.length) return Outcome.error;
  for (let i = 0; i < SHARDGATE_ERROR.length; i++) {
    if (buf[start + i] !== SHARDGATE_ERROR[i]) return Outcome.error;
  }
  return Outcome.failed;
}

/** An error reply's text without `-` and CRLF (for a span). */
function errorLine(buf: Uint8Array, start: number, end: number): string {
  let e = start + 1;
  while (e < end && buf[e] !== 13) e++;
  return td.decode(buf.subarray(start + 1, e));
}
