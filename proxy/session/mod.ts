/**
 * One client session's decisions, without sockets (see `core.ts` for how
 * the files of this folder share the work).
 *
 * @module
 */

export { type Batch, SessionCore, type SessionIO, type Target } from "./core.ts";
export { canMove, type Mode, ModeError, type ModeKind, TRANSITIONS } from "./mode.ts";
