/**
 * Fault injection decisions (config `faults:`), pure: which rules apply to
 * a node, and whether one hits a command. The node connection acts on the
 * decision (see `NodeConnection.send`):
 *
 * | kind        | what the command meets                                                    |
 * | ----------- | ------------------------------------------------------------------------- |
 * | `error`     | answered with the rule's error on the next turn, never sent               |
 * | `delay`     | sent; its reply reaches the client after the delay                        |
 * | `drop`      | its node connection closes before it is written (`connection lost`)       |
 * | `blackhole` | never written nor answered: it meets the server timeout (and hedging)     |
 *
 * Configured but inactive costs one null check per command: a node that no
 * rule names has `faults === null` (see {@link faultsForNode}). Pinned
 * sessions are left out: their commands go through `sendRaw`, never
 * through a rule; so are the parts of a router port's split multi-key
 * commands (they carry no command index or port of their own). A hedge's
 * copy counts as a readers-port command.
 *
 * @module
 */

import type { FaultConfig, FaultKind } from "../config/types.ts";
import { COMMAND_COUNT, commandIndex, OTHER_COMMAND } from "../resp/mod.ts";
import { PortRole } from "../telemetry/mod.ts";

/** Fault kinds, as array indexes (the per-node counters). */
export const FaultKindIndex = { delay: 0, error: 1, drop: 2, blackhole: 3 } as const;
/** Label values of the fault kinds, by index. */
export const FAULT_KINDS: readonly FaultKind[] = ["delay", "error", "drop", "blackhole"];

/** One rule, compiled for the data path. */
export class FaultRule {
  /** The rule as configured. */
  readonly config: FaultConfig;
  /** Index in {@link FAULT_KINDS}. */
  readonly kind: number;
  /** A `PortRole`, or -1 for any port. */
  readonly port: number;
  /** By command index: 1 when the rule applies; null for every command. */
  readonly commands: Uint8Array | null;
  /** Hit probability, 0..1. */
  readonly chance: number;
  /** `error`: the whole error reply frame (`-ERR …\r\n`); else empty. */
  readonly frame: Uint8Array;
  /** Names in the config that are not in the command table (they never match). */
  readonly unknownCommands: readonly string[];

  /** Compiles `config`. */
  constructor(config: FaultConfig) {
    this.config = config;
    this.kind = FaultKindIndex[config.kind];
    this.port = config.role === null ? -1 : PortRole[config.role];
    const unknown: string[] = [];
    if (config.commands === null) this.commands = null;
    else {
      const set = new Uint8Array(COMMAND_COUNT);
      for (const name of config.commands) {
        const i = commandIndex(name);
        if (i === OTHER_COMMAND) unknown.push(name);
        else set[i] = 1;
      }
      this.commands = set;
    }
    this.unknownCommands = unknown;
    this.chance = config.percent / 100;
    this.frame = config.error === null
      ? new Uint8Array(0)
      : new TextEncoder().encode(`-${config.error}\r\n`);
  }

  /** True when the rule's scope covers a command of index `cmd` from port `port`. */
  matches(port: number, cmd: number): boolean {
    return (this.port < 0 || this.port === port) &&
      (this.commands === null || this.commands[cmd] === 1);
  }

  /** A delay for one command (ms): fixed, or uniform over the configured range. */
  delay(random: () => number = Math.random): number {
    const c = this.config;
    return c.delayMs + (c.delayMaxMs - c.delayMs) * random();
  }
}

/**
 * The rules of `faults` that can hit node `nodeId` of shard `shard`, in
 * config order; null when none can (the data path's one check).
 */
export function faultsForNode(
  faults: readonly FaultConfig[],
  shard: string,
  nodeId: string,
): FaultRule[] | null {
  let out: FaultRule[] | null = null;
  for (const f of faults) {
    if (f.shard !== null && f.shard !== shard) continue;
    if (f.node !== null && f.node !== nodeId) continue;
    if (f.percent <= 0) continue;
    (out ??= []).push(new FaultRule(f));
  }
  return out;
}

/**
 * The rule that hits a command of index `cmd` from port `port`, or null:
 * the first rule in order whose scope covers it and whose roll comes up.
 */
export function pickFault(
  rules: readonly FaultRule[],
  port: number,
  cmd: number,
  random: () => number = Math.random,
): FaultRule | null {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r.matches(port, cmd) && (r.chance >= 1 || random() < r.chance)) return r;
  }
  return null;
}
