import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  COMMAND_COUNT,
  commandIndex,
  commandName,
  OTHER_COMMAND,
  OTHER_COMMAND_NAME,
} from "./command_index.ts";

Deno.test("commandIndex() maps table names (subcommands included) to stable indexes", () => {
  const get = commandIndex("get");
  assert(get > OTHER_COMMAND);
  assertEquals(commandName(get), "get");
  const setname = commandIndex("client|setname");
  assert(setname > OTHER_COMMAND && setname !== commandIndex("client"));
  assertEquals(commandName(setname), "client|setname");
  assert(COMMAND_COUNT > 200, `only ${COMMAND_COUNT} commands`);
});

Deno.test("commandIndex() sends unknown names and undefined to 'other'", () => {
  assertEquals(commandIndex("nosuchcommand"), OTHER_COMMAND);
  assertEquals(commandIndex(undefined), OTHER_COMMAND);
  assertEquals(
    commandIndex("GET"),
    OTHER_COMMAND,
    "names are lowercase, as commandNameOf gives them",
  );
  assertEquals(commandName(OTHER_COMMAND), OTHER_COMMAND_NAME);
  assertEquals(commandName(COMMAND_COUNT + 5), OTHER_COMMAND_NAME);
});
