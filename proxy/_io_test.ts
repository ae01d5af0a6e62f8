import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { READ_BUFFER_SIZE, WRITE_CHUNK_SIZE } from "../config/defaults.ts";
import { atTurnEnd, ByteWriter, ReadBuffer, type Socket } from "./_io.ts";
import { Slot, SlotQueue } from "./_runtime.ts";

/** A socket that records writes and accepts at most `max` bytes per write. */
class RecordingSocket implements Socket {
  writes: Uint8Array[] = [];
  constructor(readonly max = Infinity) {}
  read(): Promise<number | null> {
    return Promise.resolve(null);
  }
  write(p: Uint8Array): Promise<number> {
    const n = Math.min(p.length, this.max);
    this.writes.push(p.slice(0, n));
    return Promise.resolve(n);
  }
  close(): void {}
  get all(): string {
    return this.writes.map((w) => new TextDecoder().decode(w)).join("");
  }
}

function drained(w: ByteWriter): Promise<void> {
  return new Promise((r) => w.onDrain = r);
}

Deno.test("ByteWriter.write() coalesces one turn's writes into one socket write", async () => {
  const sock = new RecordingSocket();
  const w = new ByteWriter(sock);
  const done = drained(w);
  for (let i = 0; i < 100; i++) w.write(new TextEncoder().encode(`+${i}\r\n`));
  assertEquals(w.pending > 0, true);
  await done;
  assertEquals(sock.writes.length, 1);
  assertEquals(sock.all, Array.from({ length: 100 }, (_, i) => `+${i}\r\n`).join(""));
  assertEquals(w.pending, 0);
});

Deno.test("atTurnEnd() runs before the turn's writes leave, which join them in one socket write", async () => {
  const sock = new RecordingSocket();
  const w = new ByteWriter(sock);
  const order: string[] = [];
  w.write(new TextEncoder().encode("a"));
  atTurnEnd(() => {
    order.push("first");
    w.write(new TextEncoder().encode("b"));
    // Work added by turn-end work runs in the same flush, not a turn later.
    atTurnEnd(() => {
      order.push("nested");
      w.write(new TextEncoder().encode("c"));
    });
  });
  assertEquals(sock.writes.length, 0, "nothing before the turn ends");
  await drained(w);
  assertEquals(order, ["first", "nested"]);
  assertEquals(sock.writes.length, 1);
  assertEquals(sock.all, "abc");
});

Deno.test("ByteWriter finishes partial writes and keeps order across chunks", async () => {
  const sock = new RecordingSocket(1000);
  const w = new ByteWriter(sock);
  const done = drained(w);
  const big = new Uint8Array(100_000).fill(97);
  w.write(new TextEncoder().encode("head:"));
  w.write(big, 10, 90_010);
  w.write(new TextEncoder().encode(":tail"));
  await done;
  const all = sock.all;
  assertEquals(all.length, 5 + 90_000 + 5);
  assert(all.startsWith("head:a") && all.endsWith("a:tail"));
  assert(sock.writes.every((x) => x.length <= 1000));
});

Deno.test("ByteWriter waits for attach() before writing", async () => {
  const sock = new RecordingSocket();
  const w = new ByteWriter(null);
  w.write(new TextEncoder().encode("early"));
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(sock.writes.length, 0);
  const done = drained(w);
  w.attach(sock);
  await done;
  assertEquals(sock.all, "early");
});

Deno.test("ReadBuffer grows for a big frame and gives the growth back when empty", () => {
  const rb = new ReadBuffer(16);
  for (let i = 0; i < 5; i++) {
    const v = rb.space();
    v.fill(1);
    rb.end += v.length;
  }
  assert(rb.buf.length >= 64);
  rb.consume(rb.end);
  assertEquals(rb.start, 0);
  assertEquals(rb.end, 0);
  const big = new ReadBuffer(READ_BUFFER_SIZE);
  big.end = big.buf.length;
  big.space();
  assertEquals(big.buf.length, READ_BUFFER_SIZE * 2);
  big.consume(big.end);
  assertEquals(big.buf.length, READ_BUFFER_SIZE);
});

Deno.test("ReadBuffer.space() moves a partial tail to the front and says so", () => {
  const rb = new ReadBuffer(16);
  rb.end = 16;
  rb.start = 12;
  rb.buf.set([1, 2, 3, 4], 12);
  rb.space();
  assertEquals(rb.moved, true);
  assertEquals([rb.start, rb.end], [0, 4]);
  assertEquals([...rb.buf.subarray(0, 4)], [1, 2, 3, 4]);
});

Deno.test("SlotQueue keeps FIFO order across many pushes and shifts", () => {
  const owner = { onReply() {}, onFail() {} };
  const q = new SlotQueue();
  const slots = Array.from({ length: 5000 }, () => new Slot(owner, 1));
  let next = 0;
  for (let i = 0; i < slots.length; i++) {
    q.push(slots[i]);
    if (i % 3 === 0) assertEquals(q.shift(), slots[next++]);
  }
  while (q.length > 0) assertEquals(q.shift(), slots[next++]);
  assertEquals(next, slots.length);
  assertEquals(q.shift(), undefined);
});

/** A socket that keeps what it was handed, not a copy. */
class HandedSocket implements Socket {
  handed: Uint8Array[] = [];
  read(): Promise<number | null> {
    return Promise.resolve(null);
  }
  write(p: Uint8Array): Promise<number> {
    this.handed.push(p);
    return Promise.resolve(p.length);
  }
  close(): void {}
}

Deno.test("ByteWriter.writeShared() hands large bytes to the socket as they are, in order, and never pools them", async () => {
  const sock = new HandedSocket();
  const w = new ByteWriter(sock);
  const te = new TextEncoder();
  // Exactly a chunk's size, with a buffer of its own: what the pool would take back.
  const big = new Uint8Array(WRITE_CHUNK_SIZE).fill(120); // "x"
  w.write(te.encode("+a\r\n"));
  w.writeShared(big);
  w.writeShared(te.encode("+small\r\n")); // under WRITE_SHARED_MIN: copied
  w.write(te.encode("+b\r\n"));
  await drained(w);
  assertEquals(sock.handed.length, 3);
  assertEquals(new TextDecoder().decode(sock.handed[0]), "+a\r\n");
  assert(sock.handed[1] === big, "the shared bytes themselves, not a copy");
  assertEquals(new TextDecoder().decode(sock.handed[2]), "+small\r\n+b\r\n");
  // Later writes borrow every pooled chunk there is (ten at once, twice): none is the shared buffer.
  for (let i = 0; i < 2; i++) {
    const done = drained(w);
    for (let j = 0; j < 10; j++) w.write(new Uint8Array(WRITE_CHUNK_SIZE).fill(122));
    await done;
  }
  assert(big.every((b) => b === 120), "the shared bytes were written into");
  assertEquals(w.pending, 0);
});
