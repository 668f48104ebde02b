/** Shared fixtures of the ticket tests: real keys, real PeerIds, a populated grant cache. */
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { x25519 } from '@noble/curves/ed25519.js';
import {
  GrantCache,
  issueTicket,
  createAuthenticator,
  nobleTicketCrypto,
  type TicketCrypto,
  TicketVerifier,
  type TicketKind,
  ReplayCache,
  secp256k1PeerIdToAddress,
} from '../src/tickets/index.ts';

export const CHAIN_ID = 31337;
export const CONTRACT = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
export const NOW = 1_800_000_000_000;

/** A party: wallet-derived PeerId (binary), its address, and an X25519 encryption key pair. */
export interface Party {
  peerId: Uint8Array;
  peerIdText: string;
  address: `0x${string}`;
  encryptionPrivateKey: Uint8Array;
  encryptionPublicKey: Uint8Array;
}

/** Makes a party with a fresh secp256k1 libp2p identity and X25519 key. */
export async function makeParty(): Promise<Party> {
  const key = await generateKeyPair('secp256k1');
  const peer = peerIdFromPrivateKey(key);
  const peerId = peer.toMultihash().bytes;
  const address = secp256k1PeerIdToAddress(peerId);
  if (!address) throw new Error('secp256k1 PeerId did not map to an address');
  const encryptionPrivateKey = x25519.utils.randomSecretKey();
  return {
    peerId,
    peerIdText: peer.toString(),
    address,
    encryptionPrivateKey,
    encryptionPublicKey: x25519.getPublicKey(encryptionPrivateKey),
  };
}

/** A mutable clock for verifiers and registries. */
export function makeClock(start = NOW): {
  now: () => number;
  set(t: number): void;
  advance(ms: number): void;
} {
  let t = start;
  return {
    now: () => t,
    set(v) {
      t = v;
    },
    advance(ms) {
      t += ms;
    },
  };
}

/** Ids of the fixture world. */
export const NETWORK_SERVICE = 1n;
export const TCP_SERVICE = 2n;
export const HTTP_SERVICE = 3n;

/** Grant expiry (Unix seconds) one day after NOW. */
export const GRANT_EXPIRES = BigInt(NOW / 1000 + 86_400);

/** A world with one client, one host node, a network service, two services on the host, and grants. */
export async function makeWorld(options: { crypto?: TicketCrypto } = {}) {
  const client = await makeParty();
  const node = await makeParty();
  const clock = makeClock();
  const cache = new GrantCache();
  cache.applyIdentity({ account: client.address, encryptionKey: client.encryptionPublicKey });
  cache.applyIdentity({ account: node.address, encryptionKey: node.encryptionPublicKey });
  cache.applyService({
    serviceId: NETWORK_SERVICE,
    serviceType: 'network',
    host: `0x${'0'.repeat(40)}`,
    active: true,
  });
  cache.applyService({ serviceId: TCP_SERVICE, serviceType: 'tcp', host: node.address, active: true });
  cache.applyService({ serviceId: HTTP_SERVICE, serviceType: 'http', host: node.address, active: true });
  const grants = { network: 10n, tcp: 11n, http: 12n };
  cache.applyGrantIssued({
    grantId: grants.network,
    serviceId: NETWORK_SERVICE,
    grantee: client.address,
    issuedAt: BigInt(NOW / 1000),
    expiresAt: GRANT_EXPIRES,
  });
  cache.applyGrantIssued({
    grantId: grants.tcp,
    serviceId: TCP_SERVICE,
    grantee: client.address,
    issuedAt: BigInt(NOW / 1000),
    expiresAt: GRANT_EXPIRES,
  });
  cache.applyGrantIssued({
    grantId: grants.http,
    serviceId: HTTP_SERVICE,
    grantee: client.address,
    issuedAt: BigInt(NOW / 1000),
    expiresAt: GRANT_EXPIRES,
  });
  const verifier = new TicketVerifier({
    encryptionPrivateKey: node.encryptionPrivateKey,
    peerId: node.peerId,
    chainId: CHAIN_ID,
    contract: CONTRACT,
    cache,
    now: clock.now,
    networkServiceIds: [NETWORK_SERVICE],
    replayCache: new ReplayCache(),
    ...(options.crypto ? { crypto: options.crypto } : {}),
  });
  const issue = (
    kind: TicketKind,
    serviceId: bigint,
    extra: {
      now?: number;
      lifetimeMs?: number;
      serviceType?: string;
      peerId?: Uint8Array;
      grantId?: bigint;
    } = {},
  ) => {
    const grantId =
      extra.grantId ??
      (serviceId === NETWORK_SERVICE ? grants.network : serviceId === TCP_SERVICE ? grants.tcp : grants.http);
    return issueTicket({
      kind,
      grant: { grantId, serviceId, expiresAt: GRANT_EXPIRES },
      chainId: CHAIN_ID,
      contract: CONTRACT,
      client: { address: client.address, encryptionPrivateKey: client.encryptionPrivateKey },
      service: {
        serviceId,
        serviceType:
          extra.serviceType ??
          (serviceId === NETWORK_SERVICE ? 'network' : serviceId === TCP_SERVICE ? 'tcp' : 'http'),
        peerId: extra.peerId ?? node.peerId,
        encryptionPublicKey: node.encryptionPublicKey,
      },
      now: extra.now ?? clock.now(),
      ...(extra.lifetimeMs ? { lifetimeMs: extra.lifetimeMs } : {}),
      ...(options.crypto ? { crypto: options.crypto } : {}),
    });
  };
  const auth = (
    issued: { ticketHash: Uint8Array; sessionKey: Uint8Array },
    extra: {
      challenge?: Uint8Array;
      now?: number;
      clientPeerId?: Uint8Array;
      servicePeerId?: Uint8Array;
    } = {},
  ) =>
    createAuthenticator({
      ticketHash: issued.ticketHash,
      sessionKey: issued.sessionKey,
      clientPeerId: extra.clientPeerId ?? client.peerId,
      servicePeerId: extra.servicePeerId ?? node.peerId,
      challenge: extra.challenge ?? new Uint8Array(0),
      now: extra.now ?? clock.now(),
      ...(options.crypto ? { crypto: options.crypto } : {}),
    });
  return { client, node, clock, cache, verifier, grants, issue, auth };
}

export { nobleTicketCrypto };
