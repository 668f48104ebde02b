export type { ChainRuntime, ChainSettings } from './chain-runtime.ts';
export { CHAIN_PORT_FILE, startChain } from './chain-runtime.ts';
export {
  decodeJoinBundle,
  encodeJoinBundle,
  JOIN_BUNDLE_VERSION,
  type JoinBundle,
  MAX_JOIN_BUNDLE_CHARS,
} from './join-bundle.ts';
export type { Daemon, DaemonInfo, DaemonOptions } from './daemon.ts';
export { startDaemon } from './daemon.ts';
export type { Logger, LoggerOptions, LogLevel } from './log.ts';
export { createLogger } from './log.ts';
export type { RuntimeInfo } from './runtime-file.ts';
export { readRuntimeInfo, removeRuntimeInfo, writeRuntimeInfo } from './runtime-file.ts';
export * from './constants.ts';
export { DaemonError, type DaemonErrorCode } from './errors.ts';
export {
  type NetworkRuntime,
  type NetworkStatus,
  type PeerStatus,
  type P2pSettings,
  registrableMultiaddrs,
  startNetwork,
} from './network.ts';
export { type NetworkGrantProviderOptions, networkGrantProvider } from './network-grant.ts';
