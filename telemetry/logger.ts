/**
 * Structured logger: JSON lines (default when stderr is not a TTY) or short
 * text lines. Every line has a time, a level, a message and flat fields.
 * Secrets never reach it: callers pass node ids and addresses, not configs.
 *
 * @module
 */

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** Output formats. */
export type LogFormat = "json" | "text";

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Flat key/value fields attached to a log line. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Where log lines go (a test can capture them). */
export type LogSink = (line: string) => void;

const encoder = new TextEncoder();
const stderrSink: LogSink = (line) => {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
};

/** A leveled structured logger. */
export class Logger {
  #rank: number;
  #format: LogFormat;
  #sink: LogSink;
  #base: LogFields;

  /** Creates a logger writing lines at `level` and above to `sink` (stderr by default). */
  constructor(
    level: LogLevel = "info",
    format: LogFormat = Deno.stderr.isTerminal() ? "text" : "json",
    sink: LogSink = stderrSink,
    base: LogFields = {},
  ) {
    this.#rank = LEVEL_RANK[level];
    this.#format = format;
    this.#sink = sink;
    this.#base = base;
  }

  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger {
    const c = new Logger("debug", this.#format, this.#sink, { ...this.#base, ...fields });
    c.#rank = this.#rank;
    return c;
  }

  /** True when lines at `level` are written (skip building costly fields otherwise). */
  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= this.#rank;
  }

  /** Logs at debug level. */
  debug(msg: string, fields?: LogFields): void {
    this.#log("debug", msg, fields);
  }
  /** Logs at info level. */
  info(msg: string, fields?: LogFields): void {
    this.#log("info", msg, fields);
  }
  /** Logs at warn level. */
  warn(msg: string, fields?: LogFields): void {
    this.#log("warn", msg, fields);
  }
  /** Logs at error level. */
  error(msg: string, fields?: LogFields): void {
    this.#log("error", msg, fields);
  }

  #log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVEL_RANK[level] < this.#rank) return;
    const all = { ...this.#base, ...fields };
    const time = new Date().toISOString();
    if (this.#format === "json") {
      this.#sink(JSON.stringify({ time, level, msg, ...all }));
      return;
    }
    let line = `${time} ${level.toUpperCase().padEnd(5)} ${msg}`;
    for (const [k, v] of Object.entries(all)) {
      if (v === undefined) continue;
      const s = String(v);
      line += ` ${k}=${/[\s"=]/.test(s) ? JSON.stringify(s) : s}`;
    }
    this.#sink(line);
  }
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = new Logger("error", "json", () => {});
