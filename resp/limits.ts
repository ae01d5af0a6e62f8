/**
 * Protocol limits, Redis's own: what a client may send before it is closed
 * with a protocol error. The parser and the proxy read them from here. Also
 * the RESP layer's own buffer sizes ({@link SLAB_BYTES}): `resp` imports
 * nothing of ours, so its sizes live here rather than in `config/defaults.ts`.
 *
 * @module
 */

/** Largest bulk string a client may send (Redis `proto-max-bulk-len`, 512 MB). */
export const MAX_BULK_LENGTH = 512 * 1024 * 1024;
/** Most arguments in one command (Redis: INT_MAX). */
export const MAX_MULTIBULK_LENGTH = 2_147_483_647;
/** Largest command a client may send in all (Redis `client-query-buffer-limit`, 1 GB). */
export const MAX_QUERY_BUFFER = 1024 * 1024 * 1024;
/** Longest inline command (Redis PROTO_INLINE_MAX_SIZE, 64 KB). */
export const MAX_INLINE_LENGTH = 64 * 1024;
/** Slabs that split frames and merged replies are cut from (resp/bytes.ts). */
export const SLAB_BYTES = 64 * 1024;
