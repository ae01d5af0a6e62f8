/**
 * Sockets and names: dialling a Redis node (TCP or TLS, bounded by the
 * connect timeout, with the AUTH command to send first) and resolving a
 * node's host name. Shared by the proxy's node connections and the health
 * checker so both reach a node the same way.
 *
 * Uses `resp` (to encode AUTH) and `config`'s types; nothing else of ours.
 *
 * @module
 */

export { authCommand, dialNode, type DialOptions, type NodeSocket } from "./dial.ts";
export { isIpLiteral, type Resolver, systemResolver } from "./resolve.ts";
