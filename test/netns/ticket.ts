/**
 * Network tickets for the NAT test bed, in the same format as TestNetwork (packages/node/test/helpers.ts),
 * but with the operator's public key passed in so node processes in other namespaces can verify them.
 */
import { createHash } from 'node:crypto';
import { privateKeyFromRaw, publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Reader, Writer } from '../../packages/node/src/p2p/codec.ts';
import type {
  AdmissionAuthority,
  AdmissionCredential,
  AdmissionGrant,
} from '../../packages/node/src/p2p/admission/authority.ts';

/** A refused ticket, with a code as a real ticket verifier throws. */
export class NetnsTicketError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** Signs a network ticket (holder PeerId, grant id, expiry) with the operator's raw secp256k1 key. */
export async function issueTicket(
  operatorKey: Uint8Array,
  holder: PeerId,
  grantId: bigint,
  lifetimeMs: number,
): Promise<Uint8Array> {
  const body = new Writer()
    .bytes(holder.toMultihash().bytes, 64)
    .u64(grantId)
    .u64(BigInt(Date.now() + lifetimeMs))
    .finish();
  const sig = await privateKeyFromRaw(operatorKey).sign(body);
  return new Writer().bytes(body, 256).bytes(sig, 128).finish();
}

/** The authority of one node: proves `ticket` with `key`, accepts peers holding operator-signed tickets. */
export function ticketAuthority(
  operatorPublicKey: Uint8Array,
  key: Uint8Array,
  ticket: Uint8Array,
): AdmissionAuthority {
  const own = privateKeyFromRaw(key);
  const ownPeer = peerIdFromPrivateKey(own);
  const operator = publicKeyFromRaw(operatorPublicKey);
  return {
    async credentialFor(remote: PeerId, challenge: Uint8Array): Promise<AdmissionCredential> {
      return { ticket, authenticator: await own.sign(authInput(challenge, ownPeer, remote, ticket)) };
    },
    async verify(remote: PeerId, t: Uint8Array, authenticator: Uint8Array, challenge: Uint8Array) {
      let body: Uint8Array;
      let sig: Uint8Array;
      try {
        const r = new Reader(t);
        body = r.bytes(256);
        sig = r.bytes(128);
        r.end();
      } catch {
        throw new NetnsTicketError('DECODE', 'ticket does not decode');
      }
      if (!(await operator.verify(body, sig))) {
        throw new NetnsTicketError('BAD_SIGNATURE', 'ticket not signed by the operator');
      }
      const r = new Reader(body);
      const holder = r.bytes(64);
      const grantId = r.u64();
      const expiresAt = Number(r.u64());
      r.end();
      if (Buffer.compare(Buffer.from(holder), Buffer.from(remote.toMultihash().bytes)) !== 0) {
        throw new NetnsTicketError('WRONG_HOLDER', 'ticket belongs to another peer');
      }
      if (expiresAt <= Date.now()) throw new NetnsTicketError('EXPIRED', 'ticket expired');
      const pub = remote.publicKey;
      if (!pub || !(await pub.verify(authInput(challenge, remote, ownPeer, t), authenticator))) {
        throw new NetnsTicketError('BAD_AUTHENTICATOR', 'authenticator does not prove the ticket holder');
      }
      return { grantId, expiresAt } satisfies AdmissionGrant;
    },
  };
}

function authInput(challenge: Uint8Array, from: PeerId, to: PeerId, ticket: Uint8Array): Uint8Array {
  return createHash('sha256')
    .update('dibs-test-admission')
    .update(challenge)
    .update(from.toMultihash().bytes)
    .update(to.toMultihash().bytes)
    .update(ticket)
    .digest();
}
