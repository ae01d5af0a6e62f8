import { equal, ok } from "node:assert/strict";
import { Admission } from "./admission.ts";

Deno.test("Admission.read() admits a key on its Nth read within a second", () => {
  const a = new Admission(3);
  equal(a.read("k", 0), false);
  equal(a.read("k", 10), false);
  equal(a.read("k", 20), true);
  equal(a.read("k", 30), true);
});

Deno.test("Admission.read() starts counting over every second", () => {
  const a = new Admission(2);
  equal(a.read("k", 0), false);
  equal(a.read("k", 1500), false);
  equal(a.read("k", 1600), true);
});

Deno.test("Admission.read() lets few cold keys in among many read once", () => {
  const a = new Admission(3);
  let admitted = 0;
  // 50,000 reads within one second, each key read once (a cold uniform scan at 50k ops/s).
  for (let i = 0; i < 50_000; i++) if (a.read(`cold:${i}`, 1)) admitted++;
  ok(admitted < 50, `${admitted} cold keys admitted`);
});

Deno.test("Admission.read() with minReads 1 admits at once", () => {
  equal(new Admission(1).read("x", 0), true);
});
