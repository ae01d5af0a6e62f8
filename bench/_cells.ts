/**
 * The benchmark matrix: targets, cells, key spaces and the exact
 * `redis-benchmark` arguments of each cell. Pure data and pure functions.
 *
 * Every cell uses an explicit command with `__rand_int__` keys (rather than
 * `-t get`) so the key names are known: `redis-benchmark -r N` replaces each
 * `__rand_int__` with a 12-digit zero-padded number in `0..N-1`, and the
 * populate step writes exactly those names.
 *
 * @module
 */

/** Something the benchmark sends traffic to. */
export type Target = "direct" | "haproxy" | "twemproxy" | "shardgate";

/** All targets, in report column order. */
export const ALL_TARGETS: readonly Target[] = ["direct", "haproxy", "twemproxy", "shardgate"];

/** Identifier of one cell of the matrix. */
export type CellId =
  | "get_50c"
  | "get_50c_p16"
  | "get_1c"
  | "get_200c_1k"
  | "set_50c"
  | "mget10_50c"
  | "get_50c_r3"
  | "get_50c_p16_r3"
  | "get_50c_traced"
  | "get_50c_scraped"
  | "get_50c_nohedge"
  | "get_50c_faults"
  | "get_50c_host"
  | "router_get_50c"
  | "router_mget10_50c";

/** Redis servers (one shard each) behind the router cells. */
export const ROUTER_SHARDS = 3;
/**
 * The targets a router cell runs on: `twemproxy` is then one nutcracker pool
 * over the {@link ROUTER_SHARDS} servers, `shardgate` a router port over one
 * single-node shard per server.
 */
export const ROUTER_TARGETS: readonly Target[] = ["twemproxy", "shardgate"];

/** Share of commands traced in the `get_50c_traced` cell. */
export const TRACED_SAMPLE_RATIO = 0.01;
/** How often `/metrics` is scraped during the `get_50c_scraped` cell. */
export const SCRAPE_INTERVAL_MS = 1_000;

/** A populated key space: `<prefix><12-digit index>` for index in `0..count-1`. */
export interface KeySpace {
  /** Key name prefix, e.g. `key:`. */
  readonly prefix: string;
  /** Number of keys, also the `-r` argument. */
  readonly count: number;
  /** Value size in bytes. */
  readonly valueBytes: number;
}

/** 3-byte values read by most cells (and overwritten with equal values by `set_50c`). */
export const SMALL_KEYS: KeySpace = { prefix: "key:", count: 100_000, valueBytes: 3 };
/** 1 KB values read by `get_200c_1k`. */
export const LARGE_KEYS: KeySpace = { prefix: "key1k:", count: 10_000, valueBytes: 1024 };
/** Every key space the populate step writes. */
export const KEY_SPACES: readonly KeySpace[] = [SMALL_KEYS, LARGE_KEYS];

/** Digits redis-benchmark pads `__rand_int__` to. */
export const RAND_INT_DIGITS = 12;

/** The key name redis-benchmark generates for index `i` of a key space. */
export function keyName(space: KeySpace, i: number): string {
  return space.prefix + String(i).padStart(RAND_INT_DIGITS, "0");
}

/** The value stored under every key of a key space. */
export function valueFor(space: KeySpace): string {
  return "x".repeat(space.valueBytes);
}

/** One cell of the matrix. */
export interface Cell {
  readonly id: CellId;
  /** Short human description for the report. */
  readonly title: string;
  /** Parallel client connections (`-c`). */
  readonly clients: number;
  /** Commands per pipeline (`-P`), 1 = none. */
  readonly pipeline: number;
  /** The command, with `__rand_int__` placeholders. */
  readonly command: readonly string[];
  /** Key space the placeholders range over. */
  readonly keys: KeySpace;
  /** True when the cell writes: it goes to the writer endpoint (the primary). */
  readonly write: boolean;
  /** Total requests (`-n`) in the full run: about 1–2 s per target on a 2-core machine. */
  readonly requests: number;
  /** Total requests in `--quick` mode. */
  readonly quickRequests: number;
  /** RESP version redis-benchmark speaks (`-3` sends HELLO 3 first); default 2. */
  readonly protocol?: 2 | 3;
  /**
   * A shardgate-only variant (other targets skip it): `traced` runs against
   * a second shardgate with OpenTelemetry on at {@link TRACED_SAMPLE_RATIO}
   * exporting to a local OTLP sink; `scraped` scrapes the admin port's
   * `/metrics` every {@link SCRAPE_INTERVAL_MS} while it runs. Compare with
   * shardgate's `get_50c`.
   */
  readonly telemetry?: "traced" | "scraped" | "nohedge" | "faults" | "host";
  /**
   * Runs against the router setup only ({@link ROUTER_TARGETS}): a
   * twemproxy pool and a shardgate router port over the same
   * {@link ROUTER_SHARDS} Redis servers, both ketama with fnv1a_64.
   */
  readonly router?: true;
}

const rand = (space: KeySpace): string => space.prefix + "__rand_int__";

const GET_50C: Cell = {
  id: "get_50c",
  title: "GET, 50 clients, no pipelining, 3 B values",
  clients: 50,
  pipeline: 1,
  command: ["GET", rand(SMALL_KEYS)],
  keys: SMALL_KEYS,
  write: false,
  requests: 120_000,
  quickRequests: 25_000,
};

const GET_50C_P16: Cell = {
  ...GET_50C,
  id: "get_50c_p16",
  title: "GET, 50 clients, pipeline 16, 3 B values",
  pipeline: 16,
  requests: 1_000_000,
  quickRequests: 200_000,
};

const MGET10_50C: Cell = {
  id: "mget10_50c",
  title: "MGET of 10 keys, 50 clients",
  clients: 50,
  pipeline: 1,
  command: ["MGET", ...Array.from({ length: 10 }, () => rand(SMALL_KEYS))],
  keys: SMALL_KEYS,
  write: false,
  requests: 60_000,
  quickRequests: 12_000,
};

/**
 * The matrix, in report order. Variants spread a base cell and change what
 * they measure, so a variant's load stays the base's (the paired ratios
 * compare a variant with `get_50c` runs of the same size).
 */
export const CELLS: readonly Cell[] = [
  GET_50C,
  GET_50C_P16,
  {
    id: "get_1c",
    title: "GET, 1 client, 3 B values (latency)",
    clients: 1,
    pipeline: 1,
    command: ["GET", rand(SMALL_KEYS)],
    keys: SMALL_KEYS,
    write: false,
    requests: 25_000,
    quickRequests: 6_000,
  },
  {
    id: "get_200c_1k",
    title: "GET, 200 clients, 1 KB values",
    clients: 200,
    pipeline: 1,
    command: ["GET", rand(LARGE_KEYS)],
    keys: LARGE_KEYS,
    write: false,
    requests: 100_000,
    quickRequests: 20_000,
  },
  {
    id: "set_50c",
    title: "SET through the writer, 50 clients, 3 B values",
    clients: 50,
    pipeline: 1,
    command: ["SET", rand(SMALL_KEYS), valueFor(SMALL_KEYS)],
    keys: SMALL_KEYS,
    write: true,
    requests: 100_000,
    quickRequests: 20_000,
  },
  MGET10_50C,
  {
    ...GET_50C,
    id: "get_50c_r3",
    title: "GET over RESP3 (HELLO 3), 50 clients, no pipelining",
    protocol: 3,
  },
  {
    ...GET_50C_P16,
    id: "get_50c_p16_r3",
    title: "GET over RESP3 (HELLO 3), 50 clients, pipeline 16",
    protocol: 3,
  },
  {
    ...GET_50C,
    id: "get_50c_traced",
    title: `GET, 50 clients, tracing on at sample_ratio ${TRACED_SAMPLE_RATIO} (shardgate only)`,
    telemetry: "traced",
  },
  {
    ...GET_50C,
    id: "get_50c_nohedge",
    title: "GET, 50 clients, hedged reads off (`hedge: false`; shardgate only)",
    telemetry: "nohedge",
  },
  {
    ...GET_50C,
    id: "get_50c_faults",
    title: "GET, 50 clients, a fault rule configured that hits no GET (shardgate only)",
    telemetry: "faults",
  },
  {
    ...GET_50C,
    id: "get_50c_host",
    title: "GET, 50 clients, `consistency: host` with no writes (shardgate only)",
    telemetry: "host",
  },
  {
    ...GET_50C,
    id: "get_50c_scraped",
    title: "GET, 50 clients, /metrics scraped every second (shardgate only)",
    telemetry: "scraped",
  },
  {
    ...GET_50C,
    id: "router_get_50c",
    title: `GET through a router over ${ROUTER_SHARDS} shards, 50 clients, no pipelining`,
    router: true,
  },
  {
    ...MGET10_50C,
    id: "router_mget10_50c",
    title: `MGET of 10 keys through a router over ${ROUTER_SHARDS} shards, 50 clients`,
    router: true,
  },
];

/**
 * Whether `target` can run `cell`: twemproxy speaks RESP2 only (it refuses
 * HELLO); a router cell runs on {@link ROUTER_TARGETS} only; a shardgate
 * variant (`telemetry`) on shardgate only.
 */
export function cellRunsOn(cell: Cell, target: Target): boolean {
  if (cell.router === true) return ROUTER_TARGETS.includes(target);
  if (cell.telemetry !== undefined) return target === "shardgate";
  return cell.protocol !== 3 || target !== "twemproxy";
}

/** Whether any of `cells` is a router cell (the router setup is started only then). */
export function needsRouter(cells: readonly CellId[]): boolean {
  return cells.some((id) => cellById(id).router === true);
}

/** All cell ids, in report order. */
export const ALL_CELL_IDS: readonly CellId[] = CELLS.map((c) => c.id);

/** Looks a cell up by id. */
export function cellById(id: CellId): Cell {
  const cell = CELLS.find((c) => c.id === id);
  if (cell === undefined) throw new Error(`unknown cell ${id}`);
  return cell;
}

/** The full `redis-benchmark` argument list of one run of `cell` against `host:port`. */
export function benchmarkArgs(
  cell: Cell,
  host: string,
  port: number,
  requests: number,
): string[] {
  return [
    "-h",
    host,
    "-p",
    String(port),
    "-c",
    String(cell.clients),
    "-n",
    String(requests),
    "-r",
    String(cell.keys.count),
    "-P",
    String(cell.pipeline),
    "--csv",
    ...(cell.protocol === 3 ? ["-3"] : []),
    ...cell.command,
  ];
}

/**
 * The targets of one run of a cell, in order. A router cell rotates over the
 * targets it runs on only, so that each of its two goes first in every other
 * round; the other cells keep {@link rotatedOrder} over every target (their
 * skipped targets simply do not run).
 */
export function runOrder(
  cell: Cell,
  targets: readonly Target[],
  round: number,
  cellIndex: number,
): Target[] {
  const pool = cell.router === true ? targets.filter((t) => cellRunsOn(cell, t)) : targets;
  return rotatedOrder(pool, round, cellIndex);
}

/**
 * The order targets run in for one cell of one round: the list rotated by
 * `round + cellIndex`, so over the rounds each target runs early and late
 * (spreading the drift of a shared, noisy machine).
 */
export function rotatedOrder<T>(items: readonly T[], round: number, cellIndex: number): T[] {
  if (items.length === 0) return [];
  const k = (round + cellIndex) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
