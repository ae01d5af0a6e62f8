/**
 * The three libc calls an upgrade needs that Deno has no API for, through
 * FFI (`--allow-ffi`): `getsockname` and `getsockopt(SO_ACCEPTCONN)` to find
 * the descriptor of a bound listener (Deno does not expose it, and reading
 * /proc/self/fd needs every permission), and `fcntl` to give a socket its
 * O_NONBLOCK flag back: starting a child with a descriptor
 * (`node:child_process`) clears that flag on the description both processes
 * share, and a blocking accept() would stall this process's event loop.
 * Linux (glibc) only; elsewhere {@link libc} returns null.
 *
 * @module
 */

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const AF_INET = 2;
const AF_INET6 = 10;
/** Highest descriptor searched for a listener. */
const MAX_FD = 65_536;

const SYMBOLS = {
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let lib: Libc | null | undefined;

/** libc's symbols, or null where they cannot be loaded (not Linux, no FFI permission). */
export function libc(): Libc | null {
  if (lib !== undefined) return lib;
  try {
    lib = Deno.build.os === "linux" ? Deno.dlopen("libc.so.6", SYMBOLS).symbols : null;
  } catch {
    lib = null;
  }
  return lib;
}

/** A socket address as getsockname fills it: family, host and port. */
export function parseSockaddr(sa: Uint8Array): { family: number; host: string; port: number } {
  const family = sa[0] | (sa[1] << 8);
  const port = (sa[2] << 8) | sa[3];
  if (family === AF_INET) return { family, host: [...sa.subarray(4, 8)].join("."), port };
  if (family === AF_INET6) {
    const groups: string[] = [];
    for (let i = 8; i < 24; i += 2) groups.push(((sa[i] << 8) | sa[i + 1]).toString(16));
    return { family, host: groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::"), port };
  }
  return { family, host: "", port: 0 };
}

/**
 * The descriptor of this process's listening TCP socket bound to `port`
 * (and to `host`, when it is an IPv4 address), or null.
 */
export function findListeningFd(host: string, port: number): number | null {
  const c = libc();
  if (c === null) return null;
  const sa = new Uint8Array(128);
  const len = new Uint32Array(1);
  const val = new Int32Array(1);
  const valLen = new Uint32Array(1);
  const v4 = /^\d+\.\d+\.\d+\.\d+$/.test(host) && host !== "0.0.0.0";
  for (let fd = 3; fd < MAX_FD; fd++) {
    len[0] = sa.length;
    if (c.getsockname(fd, sa, new Uint8Array(len.buffer)) !== 0) continue;
    const a = parseSockaddr(sa);
    if (a.port !== port || (a.family !== AF_INET && a.family !== AF_INET6)) continue;
    if (v4 && a.family === AF_INET && a.host !== host) continue;
    valLen[0] = 4;
    const ok = c.getsockopt(
      fd,
      SOL_SOCKET,
      SO_ACCEPTCONN,
      new Uint8Array(val.buffer),
      new Uint8Array(valLen.buffer),
    );
    if (ok === 0 && val[0] === 1) return fd;
  }
  return null;
}

/** Sets O_NONBLOCK on `fd`; false when it cannot. */
export function setNonBlocking(fd: number): boolean {
  const c = libc();
  if (c === null) return false;
  const flags = c.fcntl(fd, F_GETFL, 0);
  if (flags < 0) return false;
  return (flags & O_NONBLOCK) !== 0 || c.fcntl(fd, F_SETFL, flags | O_NONBLOCK) === 0;
}

/** True when `fd` has O_NONBLOCK (tests). */
export function isNonBlocking(fd: number): boolean {
  const c = libc();
  return c !== null && (c.fcntl(fd, F_GETFL, 0) & O_NONBLOCK) !== 0;
}
