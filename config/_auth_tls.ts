/**
 * The `auth:` and `tls:` settings: read at each level (defaults, a shard)
 * and merged, later levels winning, `auth: null` / `tls: false` turning
 * them off. A password is never echoed in an error.
 *
 * @module
 */

import type { AuthConfig, TlsConfig } from "./types.ts";
import { type Entry, type Located, SafeMessage, type Source } from "./_yaml.ts";

const AUTH_KEYS = ["username", "password"];
const TLS_KEYS = ["servername", "ca_file", "insecure"];

/** A scalar that must not be empty (a reader for `Source.readScalar`). */
export function nonEmpty(text: string): string {
  if (text === "") throw new SafeMessage("must not be empty");
  return text;
}

/** `auth:` as written at one level. */
export interface AuthLayer {
  readonly username?: Located<string | null>;
  readonly password?: Located<string | null>;
  /** The key is there, even if its value was refused. */
  readonly hasPassword: boolean;
}

export interface TlsLayer {
  readonly servername?: Located<string | null>;
  readonly ca_file?: Located<string | null>;
  readonly insecure?: Located<boolean>;
}

/** The `auth:` and `tls:` of one settings level. */
export interface AuthTlsLayer {
  /** null: `auth: null` (turns auth off). */
  readonly auth?: Located<AuthLayer | null>;
  /** null: `tls: false`; an empty layer: `tls: true`. */
  readonly tls?: Located<TlsLayer | null>;
}

/** Reads `auth:` at one level: a map { username, password }, or null / false (off). */
export function readAuth(src: Source, entry: Entry): Located<AuthLayer | null> | undefined {
  const what = "a map { username, password } or null";
  if (src.kindOf(entry) !== "map") {
    const off = src.readScalar(entry, what, (text) => {
      if (/^(false|False|FALSE)$/.test(text)) return null;
      throw new Error("");
      // Whatever is written here may well be the password itself: never echo it.
    }, { nullable: true, secret: true });
    return off === undefined ? undefined : { value: null, pos: off.pos, path: off.path };
  }
  const map = src.readMap(entry, { keys: AUTH_KEYS });
  if (map === undefined) return undefined;
  const layer: {
    username?: Located<string | null>;
    password?: Located<string | null>;
    hasPassword: boolean;
  } = { hasPassword: map.has("password") };
  const username = map.get("username");
  if (username !== undefined) {
    layer.username = src.readScalar(username, "a string or null", nonEmpty, { nullable: true });
  }
  const password = map.get("password");
  if (password !== undefined) {
    layer.password = src.readString(password, { secret: true });
  }
  return { value: layer, pos: entry.pos, path: entry.path };
}

/** Reads `tls:` at one level: true, false or a map { servername, ca_file, insecure }. */
export function readTls(src: Source, entry: Entry): Located<TlsLayer | null> | undefined {
  if (src.kindOf(entry) !== "map") {
    const on = src.readScalar(entry, "true, false or a map { servername, ca_file, insecure }", (
      text,
    ) => {
      if (/^(true|True|TRUE)$/.test(text)) return true;
      if (/^(false|False|FALSE)$/.test(text)) return false;
      throw new Error("");
    }, { nullable: true });
    if (on === undefined) return undefined;
    return { value: on.value === true ? {} : null, pos: on.pos, path: on.path };
  }
  const map = src.readMap(entry, { keys: TLS_KEYS });
  if (map === undefined) return undefined;
  const layer: {
    servername?: Located<string | null>;
    ca_file?: Located<string | null>;
    insecure?: Located<boolean>;
  } = {};
  for (const key of ["servername", "ca_file"] as const) {
    const e = map.get(key);
    if (e !== undefined) {
      layer[key] = src.readScalar(e, "a string or null", nonEmpty, { nullable: true });
    }
  }
  const insecure = map.get("insecure");
  if (insecure !== undefined) layer.insecure = src.readBool(insecure);
  return { value: layer, pos: entry.pos, path: entry.path };
}

/** The merged `auth:` of the levels, or null; a missing password is reported. */
export function resolveAuth(src: Source, layers: readonly AuthTlsLayer[]): AuthConfig | null {
  let state = null as {
    username: string | null;
    password: string | null;
    hasPassword: boolean;
    at: Located<unknown>;
  } | null;
  for (const layer of layers) {
    if (layer.auth === undefined) continue;
    const a = layer.auth.value;
    if (a === null) {
      state = null;
      continue;
    }
    state = {
      username: a.username !== undefined ? a.username.value : (state?.username ?? null),
      password: a.password !== undefined ? a.password.value : (state?.password ?? null),
      hasPassword: a.hasPassword || (state?.hasPassword ?? false),
      at: layer.auth,
    };
  }
  if (state === null) return null;
  if (state.password === null) {
    // A password that is there but refused has its own issue already.
    if (!state.hasPassword) {
      src.issue(state.at.pos, state.at.path, `missing required key "password"`);
    }
    return null;
  }
  return { username: state.username, password: state.password };
}

/** The merged `tls:` of the levels, or null. */
export function resolveTls(layers: readonly AuthTlsLayer[]): TlsConfig | null {
  let state = null as TlsConfig | null;
  for (const layer of layers) {
    if (layer.tls === undefined) continue;
    const t = layer.tls.value;
    if (t === null) {
      state = null;
      continue;
    }
    const base: TlsConfig = state ?? { servername: null, caFile: null, insecure: false };
    state = {
      servername: t.servername !== undefined ? t.servername.value : base.servername,
      caFile: t.ca_file !== undefined ? t.ca_file.value : base.caFile,
      insecure: t.insecure !== undefined ? t.insecure.value : base.insecure,
    };
  }
  return state;
}
