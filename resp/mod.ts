/**
 * The RESP layer shared by the proxy and the health checker: reply framing
 * ({@link scanReply}, {@link ReplyScanner}), client command framing
 * ({@link RequestParser}), encoders, and command routing from the generated
 * Redis command table ({@link routeOf}, {@link lookupCommand}).
 *
 * @module
 */

export { INCOMPLETE, ReplyScanner, RespProtocolError, scanReply } from "./scanner.ts";
export { argEquals, MAX_TRACKED_ARGS, RequestParser } from "./request.ts";
export {
  MAX_BULK_LENGTH,
  MAX_INLINE_LENGTH,
  MAX_MULTIBULK_LENGTH,
  MAX_QUERY_BUFFER,
} from "./limits.ts";
export { encodeBulk, encodeCommand, encodeError, encodeInteger, encodeSimple } from "./encoder.ts";
export { type CommandInfo, commandNameOf, lookupCommand, Route, routeOf } from "./commands.ts";
export { COMMAND_TABLE_VERSION } from "./command_table.ts";
export {
  COMMAND_COUNT,
  COMMAND_NAMES,
  commandIndex,
  commandName,
  OTHER_COMMAND,
  OTHER_COMMAND_NAME,
} from "./command_index.ts";
export { CommandKeys, findKeys, keyIndexes } from "./keys.ts";
export { copyBytes, sameBytes, slabBytes, slabCopy } from "./bytes.ts";
