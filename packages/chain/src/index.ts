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
export type {
  ConfiguredDeployment,
  Deployment,
  DeploymentAction,
  DeploymentAddresses,
  EnsureDeploymentOptions,
} from './deployer.ts';
export { deploymentContracts, ensureDeployment, loadDeployment } from './deployer.ts';
export type {
  GrantRecord,
  Identity,
  NodeRecord,
  OrganizationRecord,
  ServiceRecord,
} from './registry-reader.ts';
export { RegistryReader } from './registry-reader.ts';
export type { IssuedGrant, PublishServiceParams } from './registry-writer.ts';
export { RegistryWriter } from './registry-writer.ts';
export type { ContractWrite } from './tx.ts';
export type { NoncedSend } from './tx-queue.ts';
export { TransactionQueue, transactionQueueFor } from './tx-queue.ts';
export { decodeRevert, dibsErrorsAbi, sendContractWrite } from './tx.ts';
export type { DecodedEvent, EventWatcherOptions, WatchedContract } from './watcher.ts';
export { EventWatcher } from './watcher.ts';
export { registryIdentityReader } from './identity-reader.ts';
export type { FleetConfigOptions } from './fleet-config.ts';
export { FleetConfig } from './fleet-config.ts';
export type {
  CreateOrganizationParams,
  OrganizationDetails,
  OrganizationView,
} from './organizations.ts';
export {
  checkEnvEntry,
  MAX_ORGANIZATIONS_LISTED,
  ORG_NETWORK_GRANT_SECONDS,
  ORG_NETWORK_SERVICE_TYPE,
  OrganizationsClient,
} from './organizations.ts';
