/**
 * Durations as written in the config: `500ms`, `2s`, `1m`, `1h`, `1m30s`,
 * `1.5s`, `0s` or a bare `0`. They become whole milliseconds.
 *
 * @module
 */

import { MAX_DURATION_MS } from "./defaults.ts";

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const PART = /(\d+)(?:\.(\d+))?(ms|s|m|h)?/y;

/**
 * Parses a duration into milliseconds.
 *
 * Accepts one or more `<number><unit>` parts (units `ms`, `s`, `m`, `h`;
 * decimals allowed as long as the result is a whole number of milliseconds)
 * or a bare `0`.
 *
 * @throws {SyntaxError} when the text is not a duration.
 * @throws {RangeError} when it is negative or larger than {@link MAX_DURATION_MS}.
 */
export function parseDuration(text: string): number {
  if (text === "0") return 0;
  if (text === "") throw new SyntaxError("empty duration (e.g. 2s)");
  if (text.startsWith("-")) throw new RangeError(`duration "${text}" is negative`);
  let total = 0;
  let at = 0;
  while (at < text.length) {
    PART.lastIndex = at;
    const m = PART.exec(text);
    if (m === null) {
      throw new SyntaxError(`"${text}" is not a duration (use e.g. 500ms, 2s, 1m or 1h)`);
    }
    const [whole, int, rawFrac = "", unit] = m;
    const frac = rawFrac.replace(/0+$/, "");
    if (unit === undefined) {
      const rest = text.slice(at + whole.length);
      throw new SyntaxError(
        rest === ""
          ? `duration "${text}" has no unit (use ms, s, m or h, e.g. ${int}s)`
          : `unknown unit in duration "${text}" (use ms, s, m or h)`,
      );
    }
    const unitMs = UNIT_MS[unit];
    // Exact decimal arithmetic: int * unit + frac * unit / 10^digits.
    // No unit is 10^7 ms or longer, so 8+ significant decimals are always sub-millisecond.
    if (frac.length > 7) throw new RangeError(`duration "${text}" is finer than a millisecond`);
    const scale = 10 ** frac.length;
    const fracUnits = frac === "" ? 0 : Number(frac) * unitMs;
    if (fracUnits % scale !== 0) {
      throw new RangeError(`duration "${text}" is finer than a millisecond`);
    }
    total += Number(int) * unitMs + fracUnits / scale;
    at += whole.length;
  }
  if (!Number.isSafeInteger(total) || total > MAX_DURATION_MS) {
    throw new RangeError(
      `duration "${text}" is too long (at most ${formatDuration(MAX_DURATION_MS)})`,
    );
  }
  return total;
}

/**
 * Formats milliseconds as the shortest exact duration text `parseDuration`
 * reads back (`0s`, `250ms`, `2s`, `1m30s`, `1h`).
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (!Number.isSafeInteger(ms) || ms < 0) return `${ms}ms`;
  let rest = ms;
  let out = "";
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}
