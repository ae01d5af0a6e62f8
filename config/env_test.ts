import assert from "node:assert/strict";
import { EnvReferenceError, expandEnv } from "./env.ts";

const env = { HOST: "10.0.0.1", EMPTY: "", PASS: "p$w{d}" };

Deno.test("expandEnv() expands ${VAR}, ${VAR:-default} and $$", () => {
  assert.equal(expandEnv("plain", env), "plain");
  assert.equal(expandEnv("${HOST}:6379", env), "10.0.0.1:6379");
  assert.equal(expandEnv("${MISSING:-2}", env), "2");
  assert.equal(expandEnv("${EMPTY:-fallback}", env), "fallback");
  assert.equal(expandEnv("${HOST:-other}", env), "10.0.0.1");
  assert.equal(expandEnv("${EMPTY}", env), "");
  assert.equal(expandEnv("${MISSING:-}", env), "");
  assert.equal(expandEnv("cost $$5 and $${HOST}", env), "cost $5 and ${HOST}");
  assert.equal(expandEnv("a $ b $x $", env), "a $ b $x $");
});

Deno.test("expandEnv() does not expand values taken from the environment", () => {
  assert.equal(expandEnv("${PASS}", env), "p$w{d}");
  assert.equal(expandEnv("${X:-${HOST}}", {}), "${HOST}");
});

Deno.test("expandEnv() names an unset variable and refuses malformed references", () => {
  assert.throws(
    () => expandEnv("${NOPE}", env),
    (err: unknown) =>
      err instanceof EnvReferenceError && err.variable === "NOPE" &&
      /NOPE is not set/.test(err.message),
  );
  for (const bad of ["${", "${HOST", "${}", "${1X}", "${A-B}", "${A:default}"]) {
    assert.throws(
      () => expandEnv(bad, env),
      (err: unknown) => err instanceof EnvReferenceError && err.variable === null,
      bad,
    );
  }
});
