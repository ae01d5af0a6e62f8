import assert from "node:assert/strict";
import { COMMAND_TABLE } from "./command_table.ts";
import { commandNameOf, lookupCommand, Route, routeOf } from "./commands.ts";
import { encodeCommand } from "./encoder.ts";
import { RequestParser } from "./request.ts";

const te = new TextEncoder();

/** Parses `args` as a multibulk command (at an offset, to catch absolute/relative mix-ups). */
function parsedMultibulk(args: readonly string[]): { parser: RequestParser; buf: Uint8Array } {
  const frame = encodeCommand(args);
  const buf = new Uint8Array(frame.length + 7);
  buf.set(frame, 7);
  const parser = new RequestParser();
  assert.equal(parser.parse(buf, 7, buf.length), buf.length);
  return { parser, buf };
}

/** Parses `line` as an inline command. */
function parsedInline(line: string): { parser: RequestParser; buf: Uint8Array } {
  const buf = te.encode(line + "\r\n");
  const parser = new RequestParser();
  assert.equal(parser.parse(buf, 0, buf.length), buf.length);
  assert.equal(parser.inline, true);
  return { parser, buf };
}

function route(args: readonly string[]): Route {
  const { parser, buf } = parsedMultibulk(args);
  const multibulk = routeOf(parser, buf);
  const inline = parsedInline(args.map((a) => `"${a}"`).join(" "));
  assert.equal(routeOf(inline.parser, inline.buf), multibulk, `inline ${args.join(" ")}`);
  return multibulk;
}

const ROUTE_NAMES = Object.fromEntries(Object.entries(Route).map(([k, v]) => [v, k]));

function expectRoute(expected: Route, cases: readonly string[]): void {
  for (const c of cases) {
    const args = c.split(" ");
    assert.equal(
      ROUTE_NAMES[route(args)],
      ROUTE_NAMES[expected],
      `${c} should be ${ROUTE_NAMES[expected]}`,
    );
  }
}

Deno.test("routeOf() pins connection-state and blocking commands", () => {
  expectRoute(Route.PIN, [
    "MULTI",
    "WATCH k",
    "SUBSCRIBE c",
    "PSUBSCRIBE p*",
    "SSUBSCRIBE c",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE p*",
    "SUNSUBSCRIBE c",
    "MONITOR",
    "BLPOP k 0",
    "BRPOP k 0",
    "BRPOPLPUSH a b 0",
    "BLMOVE a b LEFT RIGHT 0",
    "BLMPOP 0 1 k LEFT",
    "BZPOPMIN k 0",
    "BZPOPMAX k 0",
    "BZMPOP 0 1 k MIN",
    "WAIT 1 0",
    "WAITAOF 1 0 0",
    "CLIENT TRACKING on",
    "CLIENT REPLY off",
    "CLIENT CACHING yes",
    "CLIENT NO-EVICT on",
    "CLIENT NO-TOUCH on",
    "READONLY",
    "READWRITE",
    "ASKING",
    "CLIENT ID",
    "client id",
  ]);
});

Deno.test("routeOf() pins XREAD and XREADGROUP only with a BLOCK option", () => {
  expectRoute(Route.PIN, [
    "XREAD BLOCK 0 STREAMS s $",
    "xread count 5 block 100 streams s 0",
    "XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
    "XREADGROUP GROUP g c COUNT 1 NOACK BLOCK 5 STREAMS s >",
  ]);
  expectRoute(Route.READ, [
    "XREAD STREAMS s 0",
    "XREAD COUNT 10 STREAMS s 0",
    "XREAD STREAMS block 0", // a stream named "block"
  ]);
  expectRoute(Route.WRITE, [
    "XREADGROUP GROUP g c STREAMS s >",
    "XREADGROUP GROUP block c STREAMS s >", // a group named "block"
    "XREADGROUP GROUP g block COUNT 2 STREAMS s >", // a consumer named "block"
    "XREADGROUP GROUP g c COUNT 1 NOACK STREAMS block >",
  ]);
});

Deno.test("routeOf() finds BLOCK past the tracked arguments", () => {
  const args = ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "NOACK", "BLOCK", "0", "STREAMS"];
  const { parser, buf } = parsedMultibulk([...args, "s", ">"]);
  assert.equal(routeOf(parser, buf), Route.PIN);
});

Deno.test("routeOf() treats read-only commands, PING and ECHO as READ", () => {
  expectRoute(Route.READ, [
    "GET k",
    "get k",
    "gEt k",
    "MGET a b c",
    "EXISTS k",
    "HGETALL h",
    "ZRANGE z 0 -1",
    "PING",
    "PING hello",
    "ECHO hi",
    "OBJECT ENCODING k",
    "XINFO STREAM s",
    "MEMORY USAGE k",
    "EVAL_RO return 0",
  ]);
});

Deno.test("routeOf() treats other and unknown commands as WRITE", () => {
  expectRoute(Route.WRITE, [
    "SET k v",
    "DEL k",
    "INCR k",
    "EVAL return 0",
    "EXEC",
    "DISCARD",
    "UNWATCH",
    "CLIENT LIST",
    "CLIENT GETNAME x",
    "CLIENT SETNAME",
    "CLIENT SETINFO lib-name",
    "CLIENT",
    "CLIENT NOSUCHSUB",
    "OBJECT",
    "CONFIG GET maxmemory",
    "INFO replication",
    "SELECT",
    "SELECT 0 1",
    "NOSUCHCOMMAND a b",
    "G",
    "GETT k",
  ]);
});

Deno.test("routeOf() keeps connection state in the session and refuses SHUTDOWN", () => {
  expectRoute(Route.QUIT, ["QUIT", "quit"]);
  expectRoute(Route.AUTH, ["AUTH secret", "auth user secret"]);
  expectRoute(Route.SELECT, ["SELECT 0", "select 1", "SELECT 00", "SELECT x"]);
  expectRoute(Route.HELLO, ["HELLO", "HELLO 3", "hello 2 SETNAME app"]);
  expectRoute(Route.RESET, ["RESET", "reset"]);
  expectRoute(Route.CLIENT_SETNAME, ["CLIENT SETNAME app", "client setname app"]);
  expectRoute(Route.CLIENT_GETNAME, ["CLIENT GETNAME", "client getname"]);
  expectRoute(Route.CLIENT_SETINFO, ["CLIENT SETINFO lib-name x", "client setinfo LIB-VER 1"]);
  expectRoute(Route.REFUSE, ["SHUTDOWN", "shutdown NOSAVE"]);
});

Deno.test("routeOf() sends replication, cursors and scripts their own way", () => {
  expectRoute(Route.SYNC, ["SYNC", "PSYNC ? -1"]);
  expectRoute(Route.REPLCONF, ["REPLCONF listening-port 6380"]);
  expectRoute(Route.SCAN, ["SCAN 0", "scan 0 COUNT 10", "HSCAN h 0", "SSCAN s 0", "ZSCAN z 0"]);
  expectRoute(Route.BROADCAST, ["SCRIPT LOAD x", "script flush", "SCRIPT FLUSH ASYNC"]);
  expectRoute(Route.PRIMARY, [
    "FUNCTION LOAD x",
    "FUNCTION DELETE lib",
    "FUNCTION FLUSH",
    "FUNCTION RESTORE x",
  ]);
  expectRoute(Route.SCRIPT_READ, ["EVALSHA_RO abc 0", "FCALL_RO f 0"]);
  expectRoute(Route.SCRIPT_WRITE, ["EVALSHA abc 0"]);
  // Not flagged readonly: whichever node the port picks answers.
  expectRoute(Route.WRITE, ["SCRIPT EXISTS abc", "FUNCTION LIST"]);
});

Deno.test("routeOf() follows the table flags for every command and subcommand", () => {
  const policy = new Set([
    "multi",
    "watch",
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "unsubscribe",
    "punsubscribe",
    "sunsubscribe",
    "monitor",
    "wait",
    "hello",
    "readonly",
    "readwrite",
    "reset",
    "asking",
    "select",
    "quit",
    "auth",
    "sync",
    "psync",
    "replconf",
    "shutdown",
    "xread",
    "xreadgroup",
    "ping",
    "echo",
    "client|setname",
    "client|tracking",
    "client|reply",
    "client|caching",
    "client|no-evict",
    "client|no-touch",
    "client|id",
    "client|getname",
    "client|setinfo",
    "scan",
    "hscan",
    "sscan",
    "zscan",
    "script|load",
    "script|flush",
    "function|load",
    "function|delete",
    "function|flush",
    "function|restore",
    "evalsha",
    "evalsha_ro",
    "fcall_ro",
  ]);
  let checked = 0;
  for (const row of COMMAND_TABLE) {
    const entries = row[6] !== undefined && row[6].length > 0 ? row[6] : [row];
    for (const [name, , flags] of entries) {
      if (policy.has(name)) continue;
      const expected = flags.includes("blocking")
        ? Route.PIN
        : flags.includes("readonly")
        ? Route.READ
        : Route.WRITE;
      const { parser, buf } = parsedMultibulk([...name.split("|"), "x"]);
      assert.equal(routeOf(parser, buf), expected, name);
      checked++;
    }
  }
  assert.ok(checked > 300, `checked ${checked}`);
});

Deno.test("routeOf() returns WRITE for an empty command", () => {
  for (const text of ["*0\r\n", "\r\n"]) {
    const buf = te.encode(text);
    const parser = new RequestParser();
    assert.equal(parser.parse(buf, 0, buf.length), buf.length);
    assert.equal(parser.argc, 0);
    assert.equal(routeOf(parser, buf), Route.WRITE);
  }
});

Deno.test("commandNameOf() gives the table's name for known commands", () => {
  const name = (args: string[]): string | undefined => {
    const { parser, buf } = parsedMultibulk(args);
    return commandNameOf(parser, buf);
  };
  assert.equal(name(["GET", "k"]), "get");
  assert.equal(name(["Client", "SetName", "x"]), "client|setname");
  assert.equal(name(["CLIENT", "bogus"]), "client");
  assert.equal(name(["CLIENT"]), "client");
  assert.equal(name(["NOSUCH"]), undefined);
  const inline = parsedInline(`xinfo "stream" s`);
  assert.equal(commandNameOf(inline.parser, inline.buf), "xinfo|stream");
});

Deno.test("lookupCommand() returns table metadata case-insensitively", () => {
  const get = lookupCommand("GET");
  assert.ok(get !== undefined);
  assert.equal(get.name, "get");
  assert.equal(get.arity, 2);
  assert.ok(get.flags.includes("readonly"));
  assert.deepEqual([get.firstKey, get.lastKey, get.step], [1, 1, 1]);
  const mset = lookupCommand("mset");
  assert.deepEqual([mset?.arity, mset?.firstKey, mset?.lastKey, mset?.step], [-3, 1, -1, 2]);
  const setname = lookupCommand("CLIENT|SETNAME");
  assert.equal(setname?.name, "client|setname");
  assert.equal(setname?.arity, 3);
  const client = lookupCommand("client");
  assert.ok(client?.subcommands?.some((s) => s.name === "client|setname"));
  assert.ok(lookupCommand("blpop")?.flags.includes("blocking"));
  assert.equal(lookupCommand("nosuchcommand"), undefined);
  assert.equal(lookupCommand("setname"), undefined);
});
