/**
 * The admission authority built on real DIBS tickets: our NETWORK ticket for each remote node (sealed
 * to its registered encryption key, made from our on-chain network grant) and the TicketVerifier for
 * theirs. Every admitted peer becomes a live session in the SessionRegistry, so a grant revoked on
 * chain (ChainMirror → GrantCache → SessionRegistry) ends that peer's admission and connections.
 */
import {
  cachedPeerIdToAddress,
  createAuthenticator,
  encryptionKeyFromWallet,
  type GrantCache,
  type GrantCacheEvent,
  type IssuedTicket,
  issueTicket,
  NETWORK_SERVICE_TYPE,
  peerIdFromWallet,
  type ReplayCache,
  type SessionRegistry,
  type TicketError,
  type TicketGrant,
  TicketVerifier,
  type Wallet,
} from '@dibs/core';
import type { PeerId } from '@libp2p/interface';
import type { AdmissionAuthority, AdmissionCredential, AdmissionGrant } from './admission/authority.ts';
import type { AdmissionController } from './admission/controller.ts';
import { MAX_CONCURRENT_CATCH_UPS } from './constants.ts';
import type { P2pLogger } from './log.ts';

/** Lifetime of the network tickets we make; each is capped by our grant's expiry. */
export const NETWORK_TICKET_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** A cached ticket is replaced once it has less than this left, so no admission ends mid-exchange. */
export const NETWORK_TICKET_RENEW_MARGIN_MS = 10 * 60 * 1000;
/** Tickets kept per remote node (one per node; oldest dropped first). */
export const MAX_CACHED_NETWORK_TICKETS = 4096;
/** How long a verification waits for the chain mirror to learn a just-issued grant or key. */
export const DEFAULT_CATCH_UP_MS = 3_000;
/** Most re-checks during that wait (one per mirrored block range). */
const MAX_CATCH_UP_ATTEMPTS = 40;

/**
 * Verifier codes meaning "the chain mirror has not seen it yet" rather than "invalid" (CHAIN_STALE:
 * a burst of blocks the mirror is about to apply); each is retried within the catch-up wait.
 */
const NOT_YET_MIRRORED = new Set(['UNKNOWN_GRANT', 'UNKNOWN_CLIENT_KEY', 'UNKNOWN_SERVICE', 'CHAIN_STALE']);

/** Stable codes of {@link TicketAuthorityError}. */
export type TicketAuthorityErrorCode = 'UNKNOWN_PEER_KEY' | 'NOT_A_WALLET_PEER' | 'NOT_ATTACHED';

/** A failure making our own network credential. */
export class TicketAuthorityError extends Error {
  override name = 'TicketAuthorityError';
  readonly code: TicketAuthorityErrorCode;
  constructor(code: TicketAuthorityErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Options of {@link createTicketAuthority}. */
export interface TicketAuthorityOptions {
  /** This node's wallet: its key is the PeerId; its derived X25519 key is registered on chain. */
  wallet: Wallet;
  /** The deployment the tickets belong to. */
  deployment: { chainId: number; accessGrants: string };
  /** Chain state fed by the ChainMirror (grants, services, identities). */
  cache: GrantCache;
  /** Live sessions; must be built on the same cache. */
  sessions: SessionRegistry;
  /** Fallback for a remote node's encryption key the mirror has not seen yet (a chain read). */
  registry?: { getIdentity(account: `0x${string}`): Promise<{ encryptionKey: Uint8Array } | null> };
  /** The network service this node admits for (and holds its own grant on). */
  networkServiceId: bigint;
  /** Our current grant on the network service (requested on chain once, renewed before expiry). */
  networkGrant: () => Promise<TicketGrant>;
  /** Lifetime of our tickets; default NETWORK_TICKET_LIFETIME_MS. */
  ticketLifetimeMs?: number;
  /** Wait for the mirror on unknown grants/keys; default DEFAULT_CATCH_UP_MS. */
  catchUpMs?: number;
  /** Such waits at once; default MAX_CONCURRENT_CATCH_UPS (beyond it the ticket is refused at once). */
  maxCatchUps?: number;
  replayCache?: ReplayCache;
  logger?: P2pLogger;
}

/** The host surface the authority needs after the host exists. */
export interface AttachableHost {
  admission: Pick<AdmissionController, 'revokeGrant' | 'revokePeer' | 'onEnded'>;
}

/** An AdmissionAuthority over real tickets; `attach` it to the host it serves before any peer connects. */
export interface TicketAuthority extends AdmissionAuthority {
  readonly verifier: TicketVerifier;
  /** Connects session ends to the host's admission controller (revocation → disconnect). */
  attach(host: AttachableHost): void;
  /** Live network sessions (one per admitted peer; bounded like the admission controller's table). */
  sessionCount(): number;
  /** Verifications waiting for the chain mirror now (at most MAX_CONCURRENT_CATCH_UPS). */
  catchUpCount(): number;
  /** Forgets all sessions and listeners. */
  close(): void;
}

interface CachedTicket {
  issued: IssuedTicket;
  grantId: bigint;
  remoteKey: Uint8Array;
}

/** Builds the ticket-backed admission authority of one node. */
export function createTicketAuthority(options: TicketAuthorityOptions): TicketAuthority {
  const { wallet, deployment, cache, sessions, networkServiceId } = options;
  const encryption = encryptionKeyFromWallet(wallet);
  const ownPeerId = peerIdFromWallet(wallet).toMultihash().bytes;
  const toAddress = cachedPeerIdToAddress();
  const lifetimeMs = options.ticketLifetimeMs ?? NETWORK_TICKET_LIFETIME_MS;
  const catchUpMs = options.catchUpMs ?? DEFAULT_CATCH_UP_MS;
  const maxCatchUps = options.maxCatchUps ?? MAX_CONCURRENT_CATCH_UPS;
  let catchingUp = 0;
  const verifier = new TicketVerifier({
    encryptionPrivateKey: encryption.privateKey,
    peerId: ownPeerId,
    chainId: deployment.chainId,
    contract: deployment.accessGrants,
    cache,
    networkServiceIds: [networkServiceId],
    serviceIds: [],
    ...(options.replayCache ? { replayCache: options.replayCache } : {}),
  });
  const tickets = new Map<string, CachedTicket>();
  const live = new Map<string, () => void>();
  let host: AttachableHost | undefined;

  const forget = (peer: string) => {
    live.get(peer)?.();
    live.delete(peer);
  };

  async function remoteEncryptionKey(remote: PeerId): Promise<Uint8Array> {
    const address = toAddress(remote.toMultihash().bytes);
    if (!address) {
      throw new TicketAuthorityError(
        'NOT_A_WALLET_PEER',
        `peer ${remote} has no secp256k1 wallet key, so it cannot be a DIBS node`,
      );
    }
    const cached = cache.encryptionKey(address);
    if (cached) return cached;
    const onChain = await options.registry?.getIdentity(address);
    if (onChain) return onChain.encryptionKey;
    throw new TicketAuthorityError(
      'UNKNOWN_PEER_KEY',
      `node ${address} (${remote}) has no encryption key registered on chain; it must register its identity before it can be admitted`,
    );
  }

  async function ticketFor(remote: PeerId): Promise<IssuedTicket> {
    const key = remote.toString();
    const grant = await options.networkGrant();
    const remoteKey = await remoteEncryptionKey(remote);
    const hit = tickets.get(key);
    if (
      hit &&
      hit.grantId === grant.grantId &&
      equal(hit.remoteKey, remoteKey) &&
      hit.issued.expiresAt - Date.now() > NETWORK_TICKET_RENEW_MARGIN_MS
    ) {
      return hit.issued;
    }
    const issued = issueTicket({
      kind: 'network',
      grant,
      chainId: deployment.chainId,
      contract: deployment.accessGrants,
      client: { address: wallet.address, encryptionPrivateKey: encryption.privateKey },
      service: {
        serviceId: networkServiceId,
        serviceType: NETWORK_SERVICE_TYPE,
        peerId: remote.toMultihash().bytes,
        encryptionPublicKey: remoteKey,
      },
      lifetimeMs,
    });
    tickets.delete(key);
    if (tickets.size >= MAX_CACHED_NETWORK_TICKETS) tickets.delete(tickets.keys().next().value!);
    tickets.set(key, { issued, grantId: grant.grantId, remoteKey });
    return issued;
  }

  /** Resolves on the next `synced` event of the cache, or after `ms`. */
  function nextSync(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let unsubscribe = () => {};
      const timer = setTimeout(() => {
        unsubscribe();
        resolve();
      }, ms);
      unsubscribe = cache.subscribe((event: GrantCacheEvent) => {
        if (event.type !== 'synced') return;
        clearTimeout(timer);
        unsubscribe();
        resolve();
      });
    });
  }

  return {
    verifier,

    async credentialFor(remotePeerId: PeerId, challenge: Uint8Array): Promise<AdmissionCredential> {
      const issued = await ticketFor(remotePeerId);
      const authenticator = createAuthenticator({
        ticketHash: issued.ticketHash,
        sessionKey: issued.sessionKey,
        clientPeerId: ownPeerId,
        servicePeerId: remotePeerId.toMultihash().bytes,
        challenge,
      });
      return { ticket: issued.ticket, authenticator };
    },

    async verify(remotePeerId, ticket, authenticator, challenge): Promise<AdmissionGrant> {
      const input = { ticket, authenticator, remotePeerId: remotePeerId.toMultihash().bytes, challenge };
      const deadline = Date.now() + catchUpMs;
      let session: ReturnType<TicketVerifier['verify']>;
      let waiting = false;
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            session = verifier.verify(input);
            break;
          } catch (err) {
            const code = String((err as { code?: unknown }).code ?? '');
            // A peer that just got its grant may be a block ahead of our mirror: wait for it, bounded
            // in time and in how many admissions wait at once.
            const rest = deadline - Date.now();
            if (!NOT_YET_MIRRORED.has(code) || rest <= 0 || attempt >= MAX_CATCH_UP_ATTEMPTS) throw err;
            if (!waiting) {
              if (catchingUp >= maxCatchUps) throw err;
              waiting = true;
              catchingUp++;
            }
            await nextSync(Math.min(rest, 1_000));
          }
        }
      } finally {
        if (waiting) catchingUp--;
      }
      const peer = remotePeerId.toString();
      forget(peer);
      const grantId = session.grantId;
      const unregister = sessions.register(session, (reason: TicketError) => {
        live.delete(peer);
        const admission = host?.admission;
        if (!admission) return;
        options.logger?.info('network session ended by chain state', {
          peer,
          grantId: grantId.toString(),
          code: reason.code,
        });
        // A revoked grant is refused for good; any other end (expiry, retirement) lets the peer return with a new ticket.
        const done =
          reason.code === 'REVOKED' ? admission.revokeGrant(grantId) : admission.revokePeer(remotePeerId);
        done.catch((e: Error) =>
          options.logger?.warn('closing a revoked peer failed', { peer, error: e.message }),
        );
      });
      live.set(peer, unregister);
      return { expiresAt: session.expiresAt, grantId };
    },

    attach(target) {
      // A session lives exactly as long as the admission (which outlives single connections), so
      // a revocation reaches peers that are admitted but momentarily unconnected too.
      host = target;
      target.admission.onEnded((peerId) => forget(peerId.toString()));
    },

    sessionCount: () => live.size,

    catchUpCount: () => catchingUp,

    close() {
      for (const peer of [...live.keys()]) forget(peer);
      tickets.clear();
    },
  };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
