export type { AnvilEvent, AnvilOptions, AnvilState } from './anvil.ts';
export { AnvilSupervisor, isProcessAlive, probeChainId, resolveAnvilBinary } from './anvil.ts';
export type { ChainClients, ChainClientsOptions } from './clients.ts';
export { chainFor, createChainClients, dibsHttpTransport } from './clients.ts';
export * from './constants.ts';
export {
  AnvilNotFoundError,
  AnvilStartError,
  ChainError,
  ChainIdMismatchError,
  ChainUnreachableError,
  ContractRevertError,
  DeploymentError,
  NoAccountError,
  WatcherError,
} from './errors.ts';
