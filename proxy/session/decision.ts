/**
 * A router port's per-command decision, as one session uses it: made once
 * per command and kept while the command waits (a pin, earlier replies),
 * since the router's transaction state must see each command once; and
 * the commands of a transaction held until its shard is known.
 *
 * @module
 */

import { type RequestParser, Route } from "../../resp/mod.ts";
import type { KeyRouting, KeyVerdict } from "../_runtime.ts";

/** Routes a router port's session handles itself, as a shard port's does (connection state). */
export const SESSION_ROUTES: ReadonlySet<Route> = new Set([
  Route.QUIT,
  Route.AUTH,
  Route.SELECT,
  Route.HELLO,
  Route.RESET,
  Route.CLIENT_SETNAME,
  Route.CLIENT_GETNAME,
  Route.CLIENT_SETINFO,
  Route.REFUSE,
  Route.SYNC,
  Route.REPLCONF,
]);

/** One router session's decision at hand and its held transaction. */
export class Decision {
  /** The router's routing of this session. */
  readonly routing: KeyRouting;
  /** A transaction's commands (their frames) held until its shard is known. */
  held: Uint8Array[] = [];
  #kept: KeyVerdict | 0 = 0;

  /** Decisions of `routing`. */
  constructor(routing: KeyRouting) {
    this.routing = routing;
  }

  /** The decision for the command at hand: the kept one, or the router's. */
  decide(parser: RequestParser, buf: Uint8Array, route: Route): KeyVerdict {
    const v = this.#kept;
    if (v !== 0) {
      this.#kept = 0;
      return v;
    }
    return this.routing.decide(parser, buf, route);
  }

  /** Keeps `verdict` for when the command at hand is handled again. */
  keep(verdict: KeyVerdict): void {
    this.#kept = verdict;
  }
}
