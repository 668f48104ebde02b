/** Typed errors of ticket handling: each has a stable `code` and a message saying what to do. */

/** Stable codes of {@link TicketError}. */
export type TicketErrorCode =
  /** Input is larger than its bound; refused before decoding. */
  | 'TOO_LARGE'
  /** Input is not a well-formed, canonical ticket or authenticator. */
  | 'DECODE'
  /** Wire version this code does not speak. */
  | 'UNSUPPORTED_VERSION'
  /** Decryption or a MAC failed: the bytes were changed or made without the right keys. */
  | 'TAMPERED'
  /** Ticket is for another chain or another AccessGrants contract. */
  | 'WRONG_CHAIN'
  /** Ticket is for a service (or network) this verifier does not serve. */
  | 'WRONG_SERVICE'
  /** Ticket kind or service type does not match the service. */
  | 'WRONG_TYPE'
  /** Ticket or authenticator is bound to another node. */
  | 'WRONG_NODE'
  /** Authenticator or connection comes from a peer other than the ticket's client. */
  | 'WRONG_PEER'
  /** Authenticator answers another challenge than this connection's. */
  | 'WRONG_CHALLENGE'
  /** Authenticator was made for another ticket. */
  | 'WRONG_TICKET'
  /** Ticket or grant expiry has passed. */
  | 'EXPIRED'
  /** Ticket lifetime (`expiresAt − issuedAt`) or age is over the verifier's maximum. */
  | 'LIFETIME_EXCEEDED'
  /** A timestamp is further than the allowed skew from the verifier's clock. */
  | 'CLOCK_SKEW'
  /** Authenticator nonce was already used. */
  | 'REPLAY'
  /** Grant was revoked on chain. */
  | 'REVOKED'
  /** The grant's holder no longer meets the service's policy (allowlist, membership, token balance). */
  | 'POLICY_UNMET'
  /** Service was retired on chain. */
  | 'SERVICE_INACTIVE'
  /** Grant id is not known to the grant cache. */
  | 'UNKNOWN_GRANT'
  /** Service id is not known to the grant cache. */
  | 'UNKNOWN_SERVICE'
  /** Grant belongs to another account. */
  | 'NOT_GRANTEE'
  /** Ticket claims more than its grant allows (later expiry, other service). */
  | 'EXCEEDS_GRANT'
  /** Client has no encryption key registered (or the cache has not seen it). */
  | 'UNKNOWN_CLIENT_KEY'
  /** This node's view of the chain lags past its bound: it cannot tell whether the grant still holds. */
  | 'CHAIN_STALE'
  /** The replay cache is full of live entries; retry later. */
  | 'OVERLOADED'
  /** Arguments given to a ticket function are unusable. */
  | 'INVALID_ARGUMENT';

/** Every ticket, authenticator and verification failure. */
export class TicketError extends Error {
  override name = 'TicketError';
  readonly code: TicketErrorCode;
  constructor(code: TicketErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Codes a decoder may throw; anything else from a decoder is a bug. */
export const DECODE_ERROR_CODES: readonly TicketErrorCode[] = ['TOO_LARGE', 'DECODE', 'UNSUPPORTED_VERSION'];
