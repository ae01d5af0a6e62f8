/**
 * A client's own credentials (`AUTH [user] pass`, `HELLO … AUTH user pass`)
 * when the listener has no `client_password`: the node checks them, and
 * the session's commands then go to connections authenticated as that user
 * (pools keyed by {@link Credential.key}, beside protocol and database).
 * The password lives only in the AUTH frame sent to nodes: never in a key,
 * a log line, a span or an error text.
 *
 * @module
 */

import { encodeCommand } from "../resp/mod.ts";

let lastId = 0;
/** Credentials by user and password, so equal ones share pools (bounded: see {@link credential}). */
const interned = new Map<string, Credential>();
/** Interned credentials kept at most (older ones are forgotten, their pools stay keyed apart). */
const MAX_INTERNED = 10_000;

/** One user's credentials, as sent to nodes. */
export class Credential {
  /** A key naming the pool (a number per distinct credentials; no secret in it). */
  readonly key: string;
  /** The user name (`default` for `AUTH pass`). */
  readonly user: string;
  /** The AUTH frame nodes' connections of this user are set up with. */
  readonly frame: Uint8Array;

  private constructor(user: string, frame: Uint8Array) {
    this.key = `u${++lastId}`;
    this.user = user;
    this.frame = frame;
  }

  /** The credentials for `user` and `password` (the same object for the same pair). */
  static of(user: string, password: string): Credential {
    const k = `${user}\u0000${password}`;
    let c = interned.get(k);
    if (c === undefined) {
      if (interned.size >= MAX_INTERNED) interned.delete(interned.keys().next().value!);
      c = new Credential(user, encodeCommand(["AUTH", user, password]));
      interned.set(k, c);
    }
    return c;
  }
}
