/**
 * Hitless upgrade: the listening sockets a process hands to its successor
 * (SIGUSR2), the upgrade's state machine, starting the successor and
 * telling systemd which process is the service's main one.
 *
 * @module
 */

export {
  closeInheritedFd,
  type HandedSocket,
  InheritedSockets,
  inheritedSockets,
  listeningFd,
  UPGRADE_FDS_ENV,
} from "./sockets.ts";
export { UpgradeMachine, type UpgradeOutcome, type UpgradeState } from "./state.ts";
export {
  announceReady,
  type OwnSocket,
  startSuccessor,
  successorCommand,
  type SuccessorResult,
  upgradeChannel,
} from "./handoff.ts";
export { sdNotify } from "./systemd.ts";
