import assert from "node:assert/strict";
import { MAX_BULK_LENGTH, MAX_INLINE_LENGTH, MAX_MULTIBULK_LENGTH } from "./limits.ts";
import { argEquals, MAX_TRACKED_ARGS, RequestParser } from "./request.ts";
import { INCOMPLETE, RespProtocolError } from "./scanner.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const bytes = (s: string): Uint8Array => te.encode(s);

interface Sample {
  readonly text: string;
  readonly args: readonly string[];
  readonly inline: boolean;
}

const SAMPLES: readonly Sample[] = [
  { text: "*1\r\n$4\r\nPING\r\n", args: ["PING"], inline: false },
  {
    text: "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
    args: ["SET", "key", "value"],
    inline: false,
  },
  { text: "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", args: ["GET", ""], inline: false },
  { text: "*2\r\n$4\r\nECHO\r\n$6\r\na\r\nb\r\n\r\n", args: ["ECHO", "a\r\nb\r\n"], inline: false },
  {
    text: "*6\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$12\r\nthe-last-one\r\n",
    args: ["MSET", "a", "1", "b", "2", "the-last-one"],
    inline: false,
  },
  { text: "*0\r\n", args: [], inline: false },
  { text: "*-1\r\n", args: [], inline: false },
  { text: "PING\r\n", args: ["PING"], inline: true },
  { text: "get foo\n", args: ["get", "foo"], inline: true },
  { text: "  SET   k\t v  \r\n", args: ["SET", "k", "v"], inline: true },
  { text: `SET "a b" 'c d'\r\n`, args: ["SET", "a b", "c d"], inline: true },
  {
    text: `ECHO "\\x41\\x7a\\n\\t\\"q" 'it\\'s'\r\n`,
    args: ["ECHO", 'Az\n\t"q', "it's"],
    inline: true,
  },
  { text: `ECHO x"y z"\r\n`, args: ["ECHO", "xy z"], inline: true },
  { text: `ECHO ""\r\n`, args: ["ECHO", ""], inline: true },
  { text: "\r\n", args: [], inline: true },
  { text: "\n", args: [], inline: true },
  { text: "   \t \r\n", args: [], inline: true },
];

/** Decoded args of the parsed command: tracked offsets for multibulk, inlineArgs() for inline. */
function parsedArgs(parser: RequestParser, buf: Uint8Array): string[] {
  if (parser.inline) {
    return parser.inlineArgs(buf, parser.start, parser.end).map((a) => td.decode(a));
  }
  const n = Math.min(parser.argc, MAX_TRACKED_ARGS);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(td.decode(buf.subarray(parser.argStart[i], parser.argEnd[i])));
  }
  return out;
}

function checkParsed(parser: RequestParser, buf: Uint8Array, pos: number, s: Sample): void {
  const what = JSON.stringify(s.text);
  assert.equal(parser.argc, s.args.length, what);
  assert.equal(parser.inline, s.inline, what);
  assert.equal(parser.start, pos, what);
  assert.equal(parser.end, pos + bytes(s.text).length, what);
  const expected = s.inline ? s.args : s.args.slice(0, MAX_TRACKED_ARGS);
  assert.deepEqual(parsedArgs(parser, buf), expected, what);
}

Deno.test("RequestParser.parse() frames every sample at every prefix length", () => {
  for (const s of SAMPLES) {
    const frame = bytes(s.text);
    const buf = new Uint8Array(2 + frame.length + 4).fill(0x21); // junk around the frame
    buf.set(frame, 2);
    for (let k = 0; k < frame.length; k++) {
      const parser = new RequestParser();
      assert.equal(
        parser.parse(buf, 2, 2 + k),
        INCOMPLETE,
        `${JSON.stringify(s.text)} prefix ${k}`,
      );
    }
    const parser = new RequestParser();
    assert.equal(parser.parse(buf, 2, 2 + frame.length), 2 + frame.length);
    checkParsed(parser, buf, 2, s);
  }
});

Deno.test("RequestParser.parse() resumes across every two-chunk split", () => {
  for (const s of SAMPLES) {
    const frame = bytes(s.text);
    for (let k = 0; k <= frame.length; k++) {
      const parser = new RequestParser();
      const first = parser.parse(frame, 0, k);
      if (k < frame.length) {
        assert.equal(first, INCOMPLETE, `${JSON.stringify(s.text)} split ${k}`);
        assert.equal(parser.parse(frame, 0, frame.length), frame.length);
      } else {
        assert.equal(first, frame.length);
      }
      checkParsed(parser, frame, 0, s);
    }
  }
});

Deno.test("RequestParser.parse() resumes byte by byte and frames a pipeline", () => {
  const all = bytes(SAMPLES.map((s) => s.text).join(""));
  const parser = new RequestParser();
  let pos = 0;
  for (const s of SAMPLES) {
    let end = pos;
    let next = INCOMPLETE;
    while (next === INCOMPLETE) {
      end++;
      next = parser.parse(all, pos, end);
    }
    assert.equal(next, pos + bytes(s.text).length, JSON.stringify(s.text));
    checkParsed(parser, all, pos, s);
    pos = next;
  }
  assert.equal(pos, all.length);
  assert.equal(parser.parse(all, pos, all.length), INCOMPLETE);
});

Deno.test("RequestParser state survives the caller moving its unconsumed bytes", () => {
  const frame = bytes("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  const parser = new RequestParser();
  const before = new Uint8Array(64);
  before.set(frame.subarray(0, 20), 30);
  assert.equal(parser.parse(before, 30, 50), INCOMPLETE);
  const after = new Uint8Array(frame.length + 10);
  after.set(frame, 10); // compacted to another offset
  assert.equal(parser.parse(after, 10, 10 + frame.length), 10 + frame.length);
  checkParsed(parser, after, 10, {
    text: td.decode(frame),
    args: ["SET", "key", "value"],
    inline: false,
  });
});

Deno.test("RequestParser tracks only the first MAX_TRACKED_ARGS args but counts all", () => {
  const args = ["DEL", "k1", "k2", "k3", "k4", "k5"];
  const frame = bytes(`*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join(""));
  const parser = new RequestParser();
  assert.equal(parser.parse(frame, 0, frame.length), frame.length);
  assert.equal(parser.argc, 6);
  assert.deepEqual(parsedArgs(parser, frame), args.slice(0, MAX_TRACKED_ARGS));
});

Deno.test("RequestParser.parse() reports inline argument offsets into the buffer", () => {
  const frame = bytes(`  GET "quoted key" plain\r\n`);
  const parser = new RequestParser();
  assert.equal(parser.parse(frame, 0, frame.length), frame.length);
  assert.equal(parser.argc, 3);
  const span = (i: number): string =>
    td.decode(frame.subarray(parser.argStart[i], parser.argEnd[i]));
  assert.equal(span(0), "GET");
  assert.equal(span(1), `"quoted key"`);
  assert.equal(span(2), "plain");
});

function assertProtocolError(text: string, message: string): void {
  const buf = bytes(text);
  const parser = new RequestParser();
  assert.throws(
    () => parser.parse(buf, 0, buf.length),
    (e: unknown) => e instanceof RespProtocolError && e.message === message,
    `${JSON.stringify(text.slice(0, 40))} should throw ${message}`,
  );
}

Deno.test("RequestParser.parse() throws Redis's own protocol error messages", () => {
  assertProtocolError("*abc\r\n", "Protocol error: invalid multibulk length");
  assertProtocolError("*01\r\n", "Protocol error: invalid multibulk length");
  assertProtocolError("*-\r\n", "Protocol error: invalid multibulk length");
  assertProtocolError("*\r\n", "Protocol error: invalid multibulk length");
  assertProtocolError("*2\r\n:1\r\n", "Protocol error: expected '$', got ':'");
  assertProtocolError("*2\r\n$3\r\nGET\r\nfoo\r\n", "Protocol error: expected '$', got 'f'");
  assertProtocolError("*1\r\n$-1\r\n", "Protocol error: invalid bulk length");
  assertProtocolError("*1\r\n$x\r\n", "Protocol error: invalid bulk length");
  assertProtocolError("*1\r\n$03\r\nfoo\r\n", "Protocol error: invalid bulk length");
  assertProtocolError(`SET "abc\r\n`, "Protocol error: unbalanced quotes in request");
  assertProtocolError(`SET 'abc\r\n`, "Protocol error: unbalanced quotes in request");
  assertProtocolError(`SET "a"b\r\n`, "Protocol error: unbalanced quotes in request");
  assertProtocolError(`SET 'a'b\r\n`, "Protocol error: unbalanced quotes in request");
  assertProtocolError("x".repeat(MAX_INLINE_LENGTH + 1), "Protocol error: too big inline request");
  assertProtocolError(
    "x".repeat(MAX_INLINE_LENGTH + 1) + "\r\n",
    "Protocol error: too big inline request",
  );
  assertProtocolError(
    "*" + "1".repeat(MAX_INLINE_LENGTH + 1),
    "Protocol error: too big mbulk count string",
  );
  assertProtocolError(
    "*1\r\n$" + "1".repeat(MAX_INLINE_LENGTH + 1),
    "Protocol error: too big bulk count string",
  );
});

Deno.test("RequestParser accepts an inline line of exactly MAX_INLINE_LENGTH bytes", () => {
  const parser = new RequestParser();
  const line = bytes("x".repeat(MAX_INLINE_LENGTH));
  const buf = new Uint8Array(line.length + 1);
  buf.set(line);
  assert.equal(parser.parse(buf, 0, line.length), INCOMPLETE);
  buf[line.length] = 10;
  assert.equal(parser.parse(buf, 0, buf.length), buf.length);
  assert.equal(parser.argc, 1);
});

Deno.test("RequestParser refuses a too-large bulk header before any body arrives", () => {
  assertProtocolError("*1\r\n$4294967296\r\n", "Protocol error: invalid bulk length");
  assertProtocolError(`*1\r\n$${MAX_BULK_LENGTH + 1}\r\n`, "Protocol error: invalid bulk length");
  // The largest allowed bulk just waits for its body.
  const ok = bytes(`*1\r\n$${MAX_BULK_LENGTH}\r\n`);
  assert.equal(new RequestParser().parse(ok, 0, ok.length), INCOMPLETE);
});

Deno.test("RequestParser refuses a huge multibulk count as soon as the header is read", () => {
  assertProtocolError(
    `*${MAX_MULTIBULK_LENGTH + 1}\r\n`,
    "Protocol error: invalid multibulk length",
  );
  assertProtocolError("*99999999999999999999999\r\n", "Protocol error: invalid multibulk length");
  const ok = bytes(`*${MAX_MULTIBULK_LENGTH}\r\n`);
  assert.equal(new RequestParser().parse(ok, 0, ok.length), INCOMPLETE);
});

Deno.test("RequestParser is usable again after a protocol error", () => {
  const parser = new RequestParser();
  const bad = bytes("*1\r\n$4");
  assert.equal(parser.parse(bad, 0, bad.length), INCOMPLETE);
  const worse = bytes("*1\r\n$4x\r\n");
  assert.throws(() => parser.parse(worse, 0, worse.length), RespProtocolError);
  const good = bytes("*1\r\n$4\r\nPING\r\n");
  assert.equal(parser.parse(good, 0, good.length), good.length);
  assert.equal(parser.argc, 1);
});

Deno.test("RequestParser.reset() drops a partial command", () => {
  const parser = new RequestParser();
  const partial = bytes("*2\r\n$3\r\nGET\r\n");
  assert.equal(parser.parse(partial, 0, partial.length), INCOMPLETE);
  parser.reset();
  const other = bytes("PING\r\n");
  assert.equal(parser.parse(other, 0, other.length), other.length);
  assert.equal(parser.inline, true);
});

/** Feeds `frame` to a parser in `chunk`-byte steps; returns the bytes it scanned. */
function feedInChunks(
  frame: Uint8Array,
  chunk: number,
): { parser: RequestParser; scanned: number } {
  const parser = new RequestParser();
  let calls = 0;
  let result = INCOMPLETE;
  for (let end = Math.min(chunk, frame.length);; end = Math.min(end + chunk, frame.length)) {
    calls++;
    result = parser.parse(frame, 0, end);
    if (end === frame.length) break;
    assert.equal(result, INCOMPLETE);
  }
  assert.equal(result, frame.length);
  assert.ok(calls >= frame.length / chunk);
  return { parser, scanned: parser.bytesScanned };
}

Deno.test("RequestParser resumes a 10 MB bulk in 64 KB chunks linearly", () => {
  const size = 10 * 1024 * 1024;
  const head = bytes(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${size}\r\n`);
  const frame = new Uint8Array(head.length + size + 2);
  frame.set(head);
  frame.set(bytes("\r\n"), head.length + size);
  const { parser, scanned } = feedInChunks(frame, 64 * 1024);
  assert.ok(scanned <= frame.length, `scanned ${scanned} of ${frame.length}`);
  assert.equal(parser.argc, 3);
  assert.equal(parser.argEnd[2] - parser.argStart[2], size);
});

Deno.test("RequestParser resumes a command of a million args in 64 KB chunks linearly", () => {
  const count = 1_000_000;
  const frame = bytes(`*${count}\r\n$4\r\nMGET\r\n` + "$1\r\nk\r\n".repeat(count - 1));
  const { parser, scanned } = feedInChunks(frame, 64 * 1024);
  // Restarting at the command's first byte on each chunk would scan ~60x more.
  assert.ok(scanned <= frame.length, `scanned ${scanned} of ${frame.length}`);
  assert.equal(parser.argc, count);
});

Deno.test("RequestParser resumes a long inline line without rescanning it", () => {
  const frame = bytes("SET k " + "v".repeat(MAX_INLINE_LENGTH - 10) + "\r\n");
  const { parser, scanned } = feedInChunks(frame, 100);
  assert.ok(scanned <= frame.length, `scanned ${scanned} of ${frame.length}`);
  assert.equal(parser.argc, 3);
});

Deno.test("RequestParser.inlineArgs() decodes escapes like sdssplitargs", () => {
  const parser = new RequestParser();
  const line = bytes(`SET "\\x00\\xff\\x4" '\\x41\\n' "\\a\\b\\r"\r\n`);
  const args = parser.inlineArgs(line, 0, line.length);
  assert.deepEqual(args.map((a) => Array.from(a)), [
    Array.from(bytes("SET")),
    [0x00, 0xff, ...bytes("x4")],
    Array.from(bytes("\\x41\\n")),
    [7, 8, 13],
  ]);
});

Deno.test("argEquals() compares case-insensitively without allocating", () => {
  const buf = bytes("xxGeT yy");
  assert.equal(argEquals(buf, 2, 5, "GET"), true);
  assert.equal(argEquals(buf, 2, 5, "SET"), false);
  assert.equal(argEquals(buf, 2, 6, "GET"), false);
  assert.equal(argEquals(buf, 2, 2, ""), true);
  // '@' (0x40) and '`' (0x60) must not be folded into each other.
  assert.equal(argEquals(bytes("`"), 0, 1, "@"), false);
});

Deno.test("RequestParser.args() copies every argument of multibulk and inline commands", () => {
  const te = new TextEncoder();
  const td = new TextDecoder();
  const p = new RequestParser();
  const mb = te.encode(
    "*6\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$0\r\n\r\n$2\r\nxy\r\n",
  );
  assert.deepEqual(p.parse(mb, 0, mb.length), mb.length);
  assert.deepEqual(p.args(mb).map((a) => td.decode(a)), [
    "HELLO",
    "3",
    "AUTH",
    "default",
    "",
    "xy",
  ]);
  const inline = te.encode('HELLO 3 AUTH u "p w"\r\n');
  p.reset();
  assert.deepEqual(p.parse(inline, 0, inline.length), inline.length);
  assert.deepEqual(p.args(inline).map((a) => td.decode(a)), ["HELLO", "3", "AUTH", "u", "p w"]);
});
