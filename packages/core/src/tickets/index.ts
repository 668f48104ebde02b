/** Kerberos-style DIBS tickets: issuance, authenticators, verification, grant/replay caches, live sessions. */
export {
  type CreateAuthenticatorOptions,
  createAuthenticator,
  deriveAuthenticatorKey,
} from './authenticator.ts';
export {
  type Authenticator,
  type AuthenticatorFields,
  decodeAuthenticator,
  decodeSealedTicket,
  decodeTicketBody,
  encodeTicketBody,
  type SealedTicket,
  type TicketBody,
  type TicketHeader,
  type TicketKind,
} from './codec.ts';
export {
  ChainView,
  type ChainViewBounds,
  type ChainViewOptions,
  type ChainViewState,
  type ChainViewStatus,
} from './chain-view.ts';
export {
  DEFAULT_CHAIN_CLOSE_AFTER_BLOCKS,
  DEFAULT_CHAIN_CLOSE_AFTER_MS,
  DEFAULT_CHAIN_REFUSE_AFTER_MS,
  DEFAULT_MAX_SKEW_MS,
  DEFAULT_REPLAY_CACHE_ENTRIES,
  DEFAULT_REVOCATION_MAX_BLOCKS,
  DEFAULT_TICKET_LIFETIME_MS,
  MAX_AUTHENTICATOR_BYTES,
  MAX_CHALLENGE_BYTES,
  MAX_PEER_ID_BYTES,
  MAX_TICKET_BYTES,
  MAX_TICKET_LIFETIME_MS,
  NETWORK_SERVICE_TYPE,
  TICKET_SALT_BYTES,
  TICKET_VERSION,
} from './constants.ts';
export {
  defaultTicketCrypto,
  nobleTicketCrypto,
  nodeTicketCrypto,
  type TicketCrypto,
  type X25519Key,
} from './crypto.ts';
export { DECODE_ERROR_CODES, TicketError, type TicketErrorCode } from './errors.ts';
export {
  GrantCache,
  type GrantCacheEvent,
  type GrantCacheOptions,
  type GrantRecord,
  type ServiceRecord,
} from './grant-cache.ts';
export { cachedPeerIdToAddress, type PeerIdToAddress, secp256k1PeerIdToAddress } from './peer-address.ts';
export { ReplayCache, type ReplayCacheOptions } from './replay-cache.ts';
export {
  type SessionCloseCallback,
  SessionRegistry,
  type SessionRegistryOptions,
} from './sessions.ts';
export { clientPairKey, derivePairKey, type HmacState, type PairKey, ticketSealKey } from './pairwise.ts';
export {
  hashTicket,
  type IssuedTicket,
  type IssueTicketOptions,
  issueTicket,
  openTicket,
  sealTicketBody,
  type TicketGrant,
} from './ticket.ts';
export {
  TicketVerifier,
  type TicketVerifierOptions,
  type VerifiedSession,
  type VerifyInput,
} from './verifier.ts';
