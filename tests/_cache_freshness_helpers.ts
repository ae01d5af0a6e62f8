/**
 * What the near cache's end-to-end tests share beyond the harness: the
 * harness itself re-exported, and the admin port's JSON.
 *
 * @module
 */

export {
  closeClient,
  delay,
  redisClient,
  startReplicaSet,
  startShardgate,
  type TestClient,
  waitFor,
} from "./helpers/mod.ts";

/** GET `path` on the admin port, parsed as JSON. */
// deno-lint-ignore no-explicit-any
export async function adminGetJson(port: number, path: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
  return await res.json();
}
