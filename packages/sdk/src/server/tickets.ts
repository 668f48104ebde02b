/**
 * Verifies DIBS tickets presented over HTTP (`Authorization: DIBS …`) inside any Node server: the
 * server holds the service host's wallet key (it is the node the tickets are made for), checks the
 * ticket with the core verifier against the chain view, and refuses stolen (no session key), replayed,
 * expired, revoked and foreign tickets.
 */
import {
  encryptionKeyFromWallet,
  peerIdFromWallet,
  TicketError,
  TicketVerifier,
  type Wallet,
} from '@dibs/core';
import { getAddress } from 'viem';
import { SdkError } from '../errors.ts';
import { parseTicketAuthorization } from '../ticket-header.ts';
import type { ChainView } from './chain-view.ts';
import type { DibsIdentity } from './identity.ts';

/** Options of {@link TicketGate}. */
export interface TicketGateOptions {
  /** The service host's wallet (tickets are encrypted to its registered key and bound to its PeerId). */
  wallet: Wallet;
  chainId: number;
  /** AccessGrants contract address. */
  contract: string;
  view: ChainView;
  /** Accept tickets only for these services (default: any service this wallet hosts). */
  serviceIds?: Iterable<bigint>;
  now?: () => number;
}

/** Checks ticket presentations for one service host. */
export class TicketGate {
  readonly #verifier: TicketVerifier;
  readonly #view: ChainView;
  readonly #chainId: number;

  constructor(o: TicketGateOptions) {
    this.#view = o.view;
    this.#chainId = o.chainId;
    this.#verifier = new TicketVerifier({
      encryptionPrivateKey: encryptionKeyFromWallet(o.wallet).privateKey,
      peerId: peerIdFromWallet(o.wallet).toMultihash().bytes,
      nodeAddress: o.wallet.address,
      chainId: o.chainId,
      contract: o.contract,
      cache: o.view.cache,
      ...(o.serviceIds ? { serviceIds: o.serviceIds } : {}),
      ...(o.now ? { now: o.now } : {}),
    });
  }

  /** Verifies an Authorization header of the DIBS scheme. */
  async verify(authorization: string): Promise<DibsIdentity> {
    const p = parseTicketAuthorization(authorization);
    if (!p) throw new SdkError('NO_CREDENTIALS', 'no DIBS ticket in the request', 'present a ticket');
    const input = { ticket: p.ticket, authenticator: p.authenticator, remotePeerId: p.clientPeerId };
    let session: ReturnType<TicketVerifier['verify']>;
    try {
      session = this.#verifier.verify(input);
    } catch (err) {
      // A grant issued moments ago may not have reached the view yet: catch up once and retry.
      if (
        err instanceof TicketError &&
        (err.code === 'UNKNOWN_GRANT' || err.code === 'UNKNOWN_SERVICE' || err.code === 'UNKNOWN_CLIENT_KEY')
      ) {
        await this.#view.catchUp();
        try {
          session = this.#verifier.verify(input);
        } catch (again) {
          throw refused(again);
        }
      } else {
        throw refused(err);
      }
    }
    const address = getAddress(session.clientAddress);
    return {
      sub: `eip155:${this.#chainId}:${address}`,
      address,
      chainId: this.#chainId,
      did: `did:pkh:eip155:${this.#chainId}:${address}`,
      grantId: session.grantId,
      serviceId: session.serviceId,
      groups: [],
      expiresAt: session.expiresAt,
      via: 'ticket',
    };
  }
}

function refused(err: unknown): SdkError {
  if (err instanceof TicketError) {
    const status = err.code === 'TOO_LARGE' ? 413 : 401;
    return new SdkError(
      'TICKET_REFUSED',
      `ticket refused (${err.code}): ${err.message}`,
      'request access again or make a new ticket',
      {
        cause: err,
        status,
      },
    );
  }
  return new SdkError(
    'BAD_CREDENTIALS',
    `ticket refused: ${(err as Error).message}`,
    'make the header with the DIBS client SDK',
    { cause: err },
  );
}
