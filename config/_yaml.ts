/**
 * Reading a parsed YAML document into typed values while collecting every
 * problem as a positioned {@link ConfigIssue}. The document is parsed with
 * the failsafe schema, so every scalar arrives as text: `${ENV}` references
 * are expanded first and the text is then converted to the type the key
 * needs (so `retries: ${R:-2}` is an integer). A plain (unquoted) scalar
 * that is empty, `~` or `null` after expansion is YAML null.
 *
 * Every reader returns `undefined` after recording an issue, so a caller can
 * keep going and report everything in one pass.
 *
 * @module
 */

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, ParsedNode, Scalar, YAMLMap, YAMLSeq } from "yaml";
import type { Address, ConfigIssue } from "./types.ts";
import { parseAddress } from "./address.ts";
import { parseDuration } from "./duration.ts";
import { EnvReferenceError, expandEnv } from "./env.ts";

/** A 1-based position in the source. */
export interface Pos {
  readonly line: number;
  readonly col: number;
}

/** A value with where it was written. */
export interface Located<T> {
  readonly value: T;
  readonly pos: Pos;
  readonly path: string;
}

/** A place holding a value: a map entry or a list item. */
export interface Slot {
  /** The value node; null for an empty value. */
  readonly node: ParsedNode | null;
  /** Where the value is (the key's position when the value is empty). */
  readonly pos: Pos;
  /** Dotted path, e.g. `shards.users.nodes[1]`. */
  readonly path: string;
}

/** A map entry: its slot plus where the key is. */
export interface Entry extends Slot {
  readonly key: string;
  readonly keyPos: Pos;
}

/** Reading options of {@link Source.readMap}. */
export interface MapSchema {
  /** Allowed keys, or null to allow any key. */
  readonly keys: readonly string[] | null;
  /** Extra hints for unknown keys: key → hint shown in parentheses. */
  readonly hints?: Readonly<Record<string, string>>;
}

/** A listen address read from the file, with who may expose it (shards, routers, admin). */
export interface Listener {
  readonly address: Located<Address>;
  readonly allowRemote: boolean;
  /** How to allow a non-loopback address here. */
  readonly allowHint: string;
}

/** The names of shards and routers (map keys): letters, digits, `_` and `-`. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** A conversion error whose message never quotes the value (safe for secrets). */
export class SafeMessage extends Error {}

const NULLS = new Set(["", "~", "null", "Null", "NULL"]);
const TRUES = new Set(["true", "True", "TRUE"]);
const FALSES = new Set(["false", "False", "FALSE"]);
const ECHO_MAX = 60;

/** Joins a parent path and a key. */
export function childPath(parent: string, key: string): string {
  return parent === "" ? key : `${parent}.${key}`;
}

/** Scalar text after expansion: `plain` is false for quoted, block or tagged scalars. */
interface Text {
  readonly text: string;
  readonly plain: boolean;
  /** The text as written, before expansion. */
  readonly written: string;
}

/** One YAML document being read, with the issues found so far. */
export class Source {
  /** File name used in issues. */
  readonly file: string;
  #env: Readonly<Record<string, string>>;
  #lc = new LineCounter();
  #doc: Document.Parsed;
  #issues: ConfigIssue[] = [];
  #seen = new Set<string>();

  /** Parses `text`, recording YAML syntax errors as issues. */
  constructor(text: string, file: string, env: Readonly<Record<string, string>>) {
    this.file = file;
    this.#env = env;
    this.#doc = parseDocument(text, {
      schema: "failsafe",
      lineCounter: this.#lc,
      // Pretty errors quote source lines, which may hold secrets.
      prettyErrors: false,
      // Duplicate keys are reported by readMap, with their path.
      uniqueKeys: false,
      merge: false,
    });
    for (const err of [...this.#doc.errors, ...this.#doc.warnings]) {
      const pos = this.posAt(err.pos[0]);
      this.issue(pos, "", yamlMessage(err.code, err.message) + flowHint(text, this.#lc, pos));
    }
  }

  /** True when the YAML itself did not parse; the tree is not worth reading then. */
  get syntaxFailed(): boolean {
    return this.#doc.errors.length > 0;
  }

  /** The document's root slot. */
  root(): Slot {
    return { node: this.#deref(this.#doc.contents), pos: { line: 1, col: 1 }, path: "" };
  }

  /** Issues so far, in source order. */
  issues(): ConfigIssue[] {
    return [...this.#issues].sort((a, b) => a.line - b.line || a.col - b.col);
  }

  /** Records an issue (identical ones, e.g. from a default shared by shards, once). */
  issue(pos: Pos, path: string, message: string): void {
    const key = `${pos.line}:${pos.col}:${path}:${message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#issues.push({ file: this.file, line: pos.line, col: pos.col, path, message });
  }

  /** 1-based position of a source offset. */
  posAt(offset: number): Pos {
    const { line, col } = this.#lc.linePos(offset);
    return line === 0 ? { line: 1, col: offset + 1 } : { line, col };
  }

  /**
   * Where the value of the dotted map-key path `path` (e.g.
   * `shards.users.readers`) is written, or null when there is no such key.
   */
  valuePos(path: string): Pos | null {
    let node = this.#deref(this.#doc.contents);
    let pos: Pos | null = null;
    for (const key of path.split(".")) {
      if (node === null || !isMap(node)) return null;
      const pair = (node as YAMLMap.Parsed).items.find((p) => {
        const k = this.#deref(p.key as ParsedNode | null);
        return k !== null && isScalar(k) && k.value === key;
      });
      if (pair === undefined) return null;
      const keyPos = this.#posOf(this.#deref(pair.key as ParsedNode | null), { line: 1, col: 1 });
      node = this.#deref(pair.value as ParsedNode | null);
      pos = this.#posOf(node, keyPos);
    }
    return pos;
  }

  #posOf(node: ParsedNode | null, fallback: Pos): Pos {
    return node?.range ? this.posAt(node.range[0]) : fallback;
  }

  #deref(node: ParsedNode | null | undefined): ParsedNode | null {
    let n: ParsedNode | null = node ?? null;
    for (let hops = 0; n !== null && isAlias(n) && hops < 8; hops++) {
      n = (n.resolve(this.#doc) as ParsedNode | undefined) ?? null;
    }
    return n;
  }

  /**
   * Reads a map's entries in order: reports a value that is not a map,
   * non-scalar keys, duplicate keys (the later one) and unknown keys (with
   * the nearest known key as a suggestion). A null value is an empty map.
   */
  readMap(slot: Slot, schema: MapSchema, what = "a map"): Map<string, Entry> | undefined {
    const out = new Map<string, Entry>();
    const node = slot.node;
    if (node === null || isNullScalar(node)) return out;
    if (!isMap(node)) {
      this.issue(slot.pos, slot.path, `expected ${what}, got ${describe(node)}`);
      return undefined;
    }
    for (const pair of (node as YAMLMap.Parsed).items) {
      const keyNode = this.#deref(pair.key as ParsedNode | null);
      const keyPos = this.#posOf(keyNode, slot.pos);
      if (keyNode === null || !isScalar(keyNode) || typeof keyNode.value !== "string") {
        this.issue(keyPos, slot.path, "keys must be plain strings");
        continue;
      }
      const key = keyNode.value;
      const path = childPath(slot.path, key);
      const first = out.get(key);
      if (first !== undefined) {
        this.issue(keyPos, path, `duplicate key "${key}" (first at line ${first.keyPos.line})`);
        continue;
      }
      if (schema.keys !== null && !schema.keys.includes(key)) {
        this.issue(keyPos, path, unknownKeyMessage(key, schema));
        continue;
      }
      const value = this.#deref(pair.value as ParsedNode | null);
      out.set(key, { key, keyPos, node: value, pos: this.#posOf(value, keyPos), path });
    }
    return out;
  }

  /** Reports a shard's or router's name (`what`) that is not a valid name. */
  checkName(entry: Entry, what: string): void {
    if (NAME.test(entry.key)) return;
    this.issue(
      entry.keyPos,
      entry.path,
      `${what} name ${JSON.stringify(entry.key)} may only hold letters, digits, "_" and "-"`,
    );
  }

  /** Reports each of `keys` that `map` (read from `entry`) lacks. */
  requireKeys(entry: Entry, map: ReadonlyMap<string, Entry>, keys: readonly string[]): void {
    for (const key of keys) {
      if (!map.has(key)) this.issue(entry.keyPos, entry.path, `missing required key "${key}"`);
    }
  }

  /** Reads a list's items; reports a value that is not a list. Null is an empty list. */
  readList(slot: Slot, what: string): Slot[] | undefined {
    const node = slot.node;
    if (node === null || isNullScalar(node)) return [];
    if (!isSeq(node)) {
      this.issue(slot.pos, slot.path, `expected ${what}, got ${describe(node)}`);
      return undefined;
    }
    return (node as YAMLSeq.Parsed).items.map((item, i) => {
      const n = this.#deref(item as ParsedNode | null);
      return { node: n, pos: this.#posOf(n, slot.pos), path: `${slot.path}[${i}]` };
    });
  }

  /** What kind of YAML node a slot holds (`null` for an empty or null value). */
  kindOf(slot: Slot): "map" | "list" | "scalar" | "null" {
    const node = slot.node;
    if (node === null || isNullScalar(node)) return "null";
    if (isMap(node)) return "map";
    if (isSeq(node)) return "list";
    return "scalar";
  }

  /** The node's text after `${ENV}` expansion, or undefined after an issue. */
  #text(slot: Slot, what: string, secret: boolean): Text | undefined {
    const node = slot.node;
    if (node === null) return { text: "", plain: true, written: "" };
    if (!isScalar(node)) {
      this.issue(slot.pos, slot.path, `expected ${what}, got ${describe(node)}`);
      return undefined;
    }
    const written = String((node as Scalar).value);
    const plain = node.type === "PLAIN" && node.tag === undefined;
    try {
      return { text: expandEnv(written, this.#env), plain, written };
    } catch (err) {
      if (!(err instanceof EnvReferenceError)) throw err;
      const message = secret && err.variable === null
        ? "malformed ${...} reference (write $$ for a literal $)"
        : err.message;
      this.issue(slot.pos, slot.path, message);
      return undefined;
    }
  }

  /**
   * Reads a scalar, converting its text with `convert` (which throws an
   * Error whose message describes the problem). YAML null gives null when
   * `nullable`, else an issue. `secret` values never appear in messages.
   */
  readScalar<T>(
    slot: Slot,
    what: string,
    convert: (text: string) => T,
    opts: { nullable?: boolean; secret?: boolean } = {},
  ): Located<T | null> | undefined {
    const t = this.#text(slot, what, opts.secret === true);
    if (t === undefined) return undefined;
    if (t.plain && NULLS.has(t.text)) {
      if (opts.nullable) return { value: null, pos: slot.pos, path: slot.path };
      this.issue(slot.pos, slot.path, `missing value (expected ${what})`);
      return undefined;
    }
    try {
      return { value: convert(t.text), pos: slot.pos, path: slot.path };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      let message: string;
      if (err instanceof SafeMessage) {
        message = reason;
      } else if (opts.secret) {
        message = `invalid value (expected ${what})`;
      } else if (reason !== "") {
        message = unexpand(reason, t);
      } else {
        message = `expected ${what}, got ${quote(t.written)}`;
      }
      this.issue(slot.pos, slot.path, message);
      return undefined;
    }
  }

  /** A required (non-null) scalar; see {@link readScalar}. */
  #required<T>(
    slot: Slot,
    what: string,
    convert: (text: string) => T,
    secret = false,
  ): Located<T> | undefined {
    return this.readScalar(slot, what, convert, { secret }) as Located<T> | undefined;
  }

  /** A string; empty strings are refused. */
  readString(slot: Slot, opts: { secret?: boolean } = {}): Located<string> | undefined {
    return this.#required(slot, "a string", (text) => {
      if (text === "") throw new SafeMessage("must not be empty");
      return text;
    }, opts.secret);
  }

  /** `true` or `false`. */
  readBool(slot: Slot): Located<boolean> | undefined {
    return this.#required(slot, "true or false", (text) => {
      if (TRUES.has(text)) return true;
      if (FALSES.has(text)) return false;
      throw new Error("");
    });
  }

  /** A decimal integer within `min..max`. */
  readInt(slot: Slot, min: number, max = Number.MAX_SAFE_INTEGER): Located<number> | undefined {
    const what = max === Number.MAX_SAFE_INTEGER
      ? `an integer >= ${min}`
      : `an integer ${min}..${max}`;
    return this.#required(slot, what, (text) => {
      if (!/^[-+]?\d+$/.test(text)) throw new Error("");
      const n = Number(text);
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        throw new Error(`${text} is out of range (expected ${what})`);
      }
      return n;
    });
  }

  /** A decimal number within `min..max`. */
  readNumber(slot: Slot, min: number, max: number): Located<number> | undefined {
    const what = `a number ${min}..${max}`;
    return this.#required(slot, what, (text) => {
      if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error("");
      const n = Number(text);
      if (!(n >= min && n <= max)) throw new Error(`${text} is out of range (expected ${what})`);
      return n;
    });
  }

  /** One of `values`. */
  readEnum<T extends string>(slot: Slot, values: readonly T[]): Located<T> | undefined {
    const what = values.map((v) => `"${v}"`).join(" or ");
    return this.#required(slot, what, (text) => {
      if (!(values as readonly string[]).includes(text)) throw new Error("");
      return text as T;
    });
  }

  /** A duration in milliseconds; `positive` refuses 0. */
  readDuration(slot: Slot, positive = false): Located<number> | undefined {
    const what = "a duration (e.g. 500ms, 2s, 1m)";
    return this.#required(slot, what, (text) => {
      // A YAML number like `2` is a duration without a unit: parseDuration says so.
      const ms = parseDuration(text);
      if (positive && ms === 0) throw new SafeMessage("must be more than 0");
      return ms;
    });
  }

  /** A `host:port` address; `listen` addresses may use port 0 (tests bind any free port). */
  readAddress(slot: Slot, listen: boolean): Located<Address> | undefined;
  /** A `host:port` address or null. */
  readAddress(slot: Slot, listen: boolean, nullable: true): Located<Address | null> | undefined;
  readAddress(slot: Slot, listen: boolean, nullable = false): Located<Address | null> | undefined {
    const node = slot.node;
    if (node !== null && isSeq(node)) {
      this.issue(
        slot.pos,
        slot.path,
        `expected "host:port", got a list (quote IPv6 addresses: "[::1]:6379")`,
      );
      return undefined;
    }
    return this.readScalar(slot, `"host:port"`, (text) => {
      const address = parseAddress(text);
      if (address.port === 0 && !listen) {
        throw new Error(`port 0 in "${text}" is out of range 1..65535`);
      }
      return address;
    }, { nullable });
  }
}

function isNullScalar(node: ParsedNode): boolean {
  return isScalar(node) && node.type === "PLAIN" && node.tag === undefined &&
    NULLS.has(String(node.value));
}

function describe(node: ParsedNode): string {
  if (isMap(node)) return "a map";
  if (isSeq(node)) return "a list";
  return "a scalar";
}

function quote(text: string): string {
  const t = text.length > ECHO_MAX ? text.slice(0, ECHO_MAX) + "…" : text;
  return JSON.stringify(t);
}

/**
 * Values from the environment are not echoed (one may be a secret referenced
 * by mistake): a message quotes the value as written, `${VAR}` and all.
 */
function unexpand(message: string, t: Text): string {
  return t.text === "" || t.text === t.written ? message : message.replaceAll(t.text, t.written);
}

/** What common YAML syntax errors mean, in plain words, by the parser's error code. */
const PLAIN_YAML: Readonly<Record<string, string>> = {
  TAB_AS_INDENT: "a tab is used to indent; YAML indents with spaces only",
  MISSING_CHAR: "a quoted value is not closed; add the closing quote",
  BLOCK_AS_IMPLICIT_KEY:
    'a value contains ": "; quote the value, or put the nested map on its own lines',
  MULTILINE_IMPLICIT_KEY:
    'this line is neither "key: value" nor a list item; add the colon, or quote the text',
  BAD_SCALAR_START: "a value starts with a character YAML reserves (@ or `); quote the value",
  BAD_DQ_ESCAPE: "a backslash in double quotes starts an escape; use single quotes, or write \\\\",
  UNEXPECTED_TOKEN:
    "something here does not fit the structure above it (a list item among map keys, a stray character?)",
};

function yamlMessage(code: string, message: string): string {
  // yaml's messages start with a capital and may span lines; keep the first line, and
  // drop the source text some append (it may be a secret written on that line).
  const first = message.split("\n")[0]
    .replace(/\s*at line \d+, column \d+:?$/, "")
    .replace(/: ".*"$/, "")
    .replace(/^(Block scalar header includes extra characters):.*$/, "$1")
    .replace(/^(Invalid escape sequence) .*$/, "$1");
  const parser = `${first.charAt(0).toLowerCase()}${first.slice(1)}`;
  let plain = PLAIN_YAML[code];
  if (code === "BAD_INDENT") {
    plain = /^Flow (sequence|map)/.test(first)
      ? "a [ ] or { } collection is not closed, or a line inside it is indented less than its key"
      : "this line is indented differently from the keys beside it; keys of one map start in the same column";
  }
  return plain === undefined ? `YAML: ${parser}` : `YAML: ${plain} (parser: ${parser})`;
}

/**
 * `${VAR}` is fine unquoted in block style, but inside `{ }` or `[ ]` its
 * braces end the flow collection: say so when an error's line looks like that.
 */
function flowHint(text: string, lc: LineCounter, pos: Pos): string {
  const start = lc.lineStarts[pos.line - 1] ?? 0;
  const end = text.indexOf("\n", start);
  const line = text.slice(start, end < 0 ? undefined : end);
  const withoutRefs = line.replace(/\$\{[^}]*\}?/g, "");
  return line.includes("${") && /[{[]/.test(withoutRefs)
    ? ` (inside { } or [ ], quote values that use \${...})`
    : "";
}

/** Optimal string alignment distance (Levenshtein plus adjacent swaps). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2][j - 2] + 1);
      }
      d[i][j] = v;
    }
  }
  return d[a.length][b.length];
}

/** The known key nearest to `key`, if close enough to be a likely typo. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/-/g, "_");
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(norm(key), norm(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(1, Math.floor(key.length / 3));
  if (bestDistance <= limit) return best;
  // A cut-short key ("user" for "username") is a typo too, when it is not ambiguous.
  const n = norm(key);
  const prefixed = n.length >= 3 ? known.filter((k) => norm(k).startsWith(n)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

function unknownKeyMessage(key: string, schema: MapSchema): string {
  const hint = schema.hints?.[key];
  if (hint !== undefined) return `unknown key "${key}" (${hint})`;
  const near = suggestKey(key, schema.keys ?? []);
  if (near !== undefined) return `unknown key "${key}" (did you mean "${near}"?)`;
  const nearHint = suggestKey(key, Object.keys(schema.hints ?? {}));
  if (nearHint !== undefined) return `unknown key "${key}" (${schema.hints?.[nearHint]})`;
  return `unknown key "${key}" (expected one of: ${(schema.keys ?? []).join(", ")})`;
}
