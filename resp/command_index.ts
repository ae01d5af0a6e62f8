/**
 * Command names as small integers, for per-command counters kept in typed
 * arrays: index 0 is `other` (a name the table does not know), then every
 * command and subcommand of the generated Redis command table, in table
 * order (`client`, `client|setname`, …). Built once at module load.
 *
 * The names are the ones `commandNameOf()` in `resp/commands.ts` returns
 * (lowercase, subcommands as `container|sub`), so the data path does
 * `commandIndex(commandNameOf(parser, buf))` — one Map lookup, no
 * allocation — and label values can never be keys or arguments.
 *
 * It is built from `command_table.ts`, the generated table, so the label
 * set and the proxy's command table cannot disagree. Telemetry imports
 * nothing of ours: `app.ts` hands {@link COMMAND_NAMES} to each
 * `CommandStats` it creates.
 *
 * @module
 */

import { COMMAND_TABLE, type CommandRow } from "../resp/command_table.ts";

/** Index of commands the table does not know (label `other`). */
export const OTHER_COMMAND = 0;
/** Label value of {@link OTHER_COMMAND}. */
export const OTHER_COMMAND_NAME = "other";

const NAMES: string[] = [OTHER_COMMAND_NAME];
const INDEX = new Map<string, number>();

function add(rows: readonly CommandRow[]): void {
  for (const row of rows) {
    INDEX.set(row[0], NAMES.length);
    NAMES.push(row[0]);
    if (row[6] !== undefined) add(row[6]);
  }
}
add(COMMAND_TABLE);

/** Label value of every command index, in index order (`other` first). */
export const COMMAND_NAMES: readonly string[] = NAMES;

/** Number of command indexes (the size of per-command arrays). */
export const COMMAND_COUNT: number = NAMES.length;

/**
 * The index of a command name as `commandNameOf()` returns it (lowercase,
 * `container|sub`); {@link OTHER_COMMAND} for undefined or unknown names.
 * No allocation.
 */
export function commandIndex(name: string | undefined): number {
  if (name === undefined) return OTHER_COMMAND;
  return INDEX.get(name) ?? OTHER_COMMAND;
}

/** The name of command index `i` (`other` when out of range). */
export function commandName(i: number): string {
  return NAMES[i] ?? OTHER_COMMAND_NAME;
}
