/** The DIBS p2p layer: host, admission, bootstrap, node records, liveness. */
export type { AdmissionAuthority, AdmissionCredential, AdmissionGrant } from './admission/authority.ts';
export * as admissionConstants from './admission/constants.ts';
export {
  type AdmissionEndReason,
  AdmissionController,
  type AdmissionOptions,
  type AdmittedPeer,
} from './admission/controller.ts';
export { VerdictCode } from './admission/messages.ts';
export { type BootstrapOptions, type BootstrapResult, joinNetwork } from './bootstrap.ts';
export * from './constants.ts';
export { P2pError, type P2pErrorCode } from './errors.ts';
export { createDibsHost, type DibsHost, type DibsHostOptions, type RelayServerOptions } from './host.ts';
export { Liveness, type LivenessOptions, median, type Neighbour } from './liveness.ts';
export { type HeldRelay, RelayKeeper, relayBase } from './relays.ts';
export { type P2pLogger, silentLogger, stderrLogger } from './log.ts';
export {
  DEFAULT_RECORD_TTL_MS,
  type FindOptions,
  findNodeRecord,
  type NodeRecord,
  nodeRecordKey,
  publishNodeRecord,
  type PublishOptions,
  signNodeRecord,
  verifyNodeRecord,
} from './records.ts';
export {
  type AttachableHost,
  createTicketAuthority,
  DEFAULT_CATCH_UP_MS,
  MAX_CACHED_NETWORK_TICKETS,
  NETWORK_TICKET_LIFETIME_MS,
  NETWORK_TICKET_RENEW_MARGIN_MS,
  type TicketAuthority,
  TicketAuthorityError,
  type TicketAuthorityErrorCode,
  type TicketAuthorityOptions,
} from './ticket-authority.ts';
