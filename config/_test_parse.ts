/**
 * Test support for the config's tests: parse a config text that must be
 * valid, or one that must be refused.
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatIssue, parseConfig } from "./load.ts";
import type { Config } from "./types.ts";

/** Parses `text` (file `t.yaml`, environment `env`), which must be valid. */
export function parseOk(text: string, env: Record<string, string> = {}): Config {
  const result = parseConfig(text, "t.yaml", env);
  assert.deepEqual(result.issues.map(formatIssue), []);
  if (result.config === null) throw new Error("no config");
  return result.config;
}

/** Parses `text`, which must be refused: its issues as `line:col: path: message`. */
export function parseBad(text: string, env: Record<string, string> = {}): string[] {
  const result = parseConfig(text, "t.yaml", env);
  assert.equal(result.config, null, "expected the config to be refused");
  return result.issues.map((i) => `${i.line}:${i.col}: ${i.path}: ${i.message}`);
}
