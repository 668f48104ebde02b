/** What the admission protocol needs from the ticket layer: issue our proof, verify the remote's. */
import type { PeerId } from '@libp2p/interface';

/** Our NETWORK ticket plus an authenticator bound to one challenge and both PeerIds. */
export interface AdmissionCredential {
  ticket: Uint8Array;
  authenticator: Uint8Array;
}

/** The outcome of a successful verification. */
export interface AdmissionGrant {
  /** Unix milliseconds after which the admission ends. */
  expiresAt: number;
  /** The on-chain grant behind the ticket; revoking it ends the admission. */
  grantId: bigint;
}

/**
 * The ticket layer as seen by admission. `credentialFor` proves our own admission to `remotePeerId`
 * for its `challenge`; `verify` checks the remote's ticket and authenticator against our `challenge`
 * and throws (ideally an error with a `code`) when they do not hold.
 */
export interface AdmissionAuthority {
  credentialFor(remotePeerId: PeerId, challenge: Uint8Array): Promise<AdmissionCredential>;
  verify(
    remotePeerId: PeerId,
    ticket: Uint8Array,
    authenticator: Uint8Array,
    challenge: Uint8Array,
  ): Promise<AdmissionGrant>;
}
