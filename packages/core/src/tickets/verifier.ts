/**
 * Server-side verification of ticket + authenticator. Everything it consults is local: its own key,
 * the grant cache (fed from chain events), a replay cache and its clock, so the hot path makes no
 * chain round trip. A new ticket costs no Diffie-Hellman once its client's pairwise key is cached (an
 * LRU per client identity); re-presented tickets also skip decryption through a cache keyed by the
 * ticket's SHA-256. Grant, service, time and authenticator checks run on every call.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { authenticatorMacState, deriveAuthenticatorKey } from './authenticator.ts';
import {
  type Address,
  bytesKey,
  decodeAuthenticator,
  decodeSealedTicket,
  normalizeAddress,
  type TicketBody,
  type TicketKind,
} from './codec.ts';
import {
  DEFAULT_CLIENT_KEY_CACHE_ENTRIES,
  DEFAULT_MAX_SKEW_MS,
  DEFAULT_TICKET_CACHE_ENTRIES,
  MAX_AUTHENTICATOR_BYTES,
  MAX_TICKET_LIFETIME_MS,
  MAX_PEER_ID_BYTES,
  MAX_TICKET_BYTES,
  NETWORK_SERVICE_TYPE,
} from './constants.ts';
import { defaultTicketCrypto, type TicketCrypto, type X25519Key } from './crypto.ts';
import { TicketError, type TicketErrorCode } from './errors.ts';
import type { GrantCache } from './grant-cache.ts';
import { derivePairKey, type HmacState, type PairKey } from './pairwise.ts';
import { cachedPeerIdToAddress, type PeerIdToAddress } from './peer-address.ts';
import { ReplayCache } from './replay-cache.ts';
import { openTicket } from './ticket.ts';

/** What a successful verification yields; `expiresAt` (Unix ms) is the earlier of ticket and grant expiry. */
export interface VerifiedSession {
  clientAddress: Address;
  grantId: bigint;
  serviceId: bigint;
  serviceType: string;
  kind: TicketKind;
  sessionKey: Uint8Array;
  expiresAt: number;
  ticketHash: Uint8Array;
  clientPeerId: Uint8Array;
}

/** Dependencies and policy of a {@link TicketVerifier}. */
export interface TicketVerifierOptions {
  /** This node's X25519 private key (raw 32 bytes or prepared), the one registered on chain. */
  encryptionPrivateKey: Uint8Array | X25519Key;
  /** This node's binary libp2p PeerId. */
  peerId: Uint8Array;
  /** This node's address (service host); default: derived from `peerId`. */
  nodeAddress?: string;
  chainId: number;
  /** AccessGrants contract address. */
  contract: string;
  cache: GrantCache;
  replayCache?: ReplayCache;
  /** Clock in Unix ms; default Date.now. */
  now?: () => number;
  /** Allowed clock difference; default DEFAULT_MAX_SKEW_MS (10 min). */
  maxSkewMs?: number;
  /**
   * Longest ticket lifetime accepted (`expiresAt − issuedAt`); a ticket issued longer ago than this
   * plus the skew is refused too. Default MAX_TICKET_LIFETIME_MS (what clients may request).
   */
  maxTicketLifetimeMs?: number;
  /** Network service ids this node admits for (its own network(s)); network tickets for others are refused. */
  networkServiceIds?: Iterable<bigint>;
  /** Service ids accepted for service tickets; default any service the cache says this node hosts. */
  serviceIds?: Iterable<bigint>;
  /** PeerId → address mapping; default secp256k1 PeerIds, cached. */
  peerIdToAddress?: PeerIdToAddress;
  crypto?: TicketCrypto;
  /** Decrypted tickets kept; 0 disables the cache. Default DEFAULT_TICKET_CACHE_ENTRIES. */
  ticketCacheEntries?: number;
  /** Pairwise keys (static-static DH) kept per client identity, LRU. Default DEFAULT_CLIENT_KEY_CACHE_ENTRIES. */
  clientKeyCacheEntries?: number;
}

/** One presentation of a ticket on one connection. */
export interface VerifyInput {
  ticket: Uint8Array;
  authenticator: Uint8Array;
  /** Binary PeerId of the connection's authenticated remote peer. */
  remotePeerId: Uint8Array;
  /** The challenge this verifier sent on the connection; omit or empty for one-shot use. */
  challenge?: Uint8Array;
}

interface OpenedTicket {
  body: TicketBody;
  /** HMAC midstate keyed with the ticket's authenticator key; cloned per authenticator. */
  mac: HmacState;
  clientKey: Uint8Array;
}

interface PairEntry {
  clientKey: Uint8Array;
  pair: PairKey;
}

const EMPTY = new Uint8Array(0);

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

function fail(code: TicketErrorCode, message: string): never {
  throw new TicketError(code, message);
}

function setLimited<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (max <= 0) return;
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

/** Verifies tickets and authenticators for one node. */
export class TicketVerifier {
  readonly peerId: Uint8Array;
  readonly nodeAddress: Address | undefined;
  readonly chainId: number;
  readonly contract: Address;
  readonly maxSkewMs: number;
  readonly maxTicketLifetimeMs: number;
  readonly cache: GrantCache;
  readonly replayCache: ReplayCache;
  #key: X25519Key;
  #now: () => number;
  #networkServiceIds: Set<bigint>;
  #serviceIds: Set<bigint> | undefined;
  #peerIdToAddress: PeerIdToAddress;
  #tickets = new Map<string, OpenedTicket>();
  #ticketCacheEntries: number;
  #pairs = new Map<Address, PairEntry>();
  #pairEntries: number;

  constructor(options: TicketVerifierOptions) {
    const crypto: TicketCrypto = options.crypto ?? defaultTicketCrypto();
    this.#key =
      options.encryptionPrivateKey instanceof Uint8Array
        ? crypto.x25519Key(options.encryptionPrivateKey)
        : options.encryptionPrivateKey;
    if (
      !(options.peerId instanceof Uint8Array) ||
      options.peerId.length < 1 ||
      options.peerId.length > MAX_PEER_ID_BYTES
    ) {
      fail('INVALID_ARGUMENT', `peerId must be this node's binary PeerId (1..${MAX_PEER_ID_BYTES} bytes)`);
    }
    if (!Number.isSafeInteger(options.chainId) || options.chainId < 1) {
      fail('INVALID_ARGUMENT', `chainId ${options.chainId} must be a positive integer`);
    }
    this.peerId = new Uint8Array(options.peerId);
    this.chainId = options.chainId;
    this.contract = normalizeAddress(options.contract);
    this.cache = options.cache;
    this.replayCache = options.replayCache ?? new ReplayCache();
    this.#now = options.now ?? Date.now;
    this.maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    if (!Number.isSafeInteger(this.maxSkewMs) || this.maxSkewMs < 0) {
      fail('INVALID_ARGUMENT', 'maxSkewMs must be a non-negative integer');
    }
    this.maxTicketLifetimeMs = options.maxTicketLifetimeMs ?? MAX_TICKET_LIFETIME_MS;
    if (!Number.isSafeInteger(this.maxTicketLifetimeMs) || this.maxTicketLifetimeMs < 1) {
      fail('INVALID_ARGUMENT', 'maxTicketLifetimeMs must be a positive integer');
    }
    this.#networkServiceIds = new Set(options.networkServiceIds ?? []);
    this.#serviceIds = options.serviceIds ? new Set(options.serviceIds) : undefined;
    this.#peerIdToAddress = options.peerIdToAddress ?? cachedPeerIdToAddress();
    this.nodeAddress = options.nodeAddress
      ? normalizeAddress(options.nodeAddress)
      : this.#peerIdToAddress(this.peerId);
    this.#ticketCacheEntries = options.ticketCacheEntries ?? DEFAULT_TICKET_CACHE_ENTRIES;
    this.#pairEntries = options.clientKeyCacheEntries ?? DEFAULT_CLIENT_KEY_CACHE_ENTRIES;
  }

  /** This node's X25519 public key (what must be registered on chain for it). */
  get encryptionPublicKey(): Uint8Array {
    return this.#key.publicKey;
  }

  /** Checks a ticket and its authenticator; returns the session or throws a TicketError. */
  verify(input: VerifyInput): VerifiedSession {
    const { ticket, authenticator, remotePeerId } = input;
    if (
      !(ticket instanceof Uint8Array) ||
      !(authenticator instanceof Uint8Array) ||
      !(remotePeerId instanceof Uint8Array)
    ) {
      fail('INVALID_ARGUMENT', 'ticket, authenticator and remotePeerId must be Uint8Arrays');
    }
    // Bounds first: neither input is hashed, decoded or decrypted when oversized.
    if (ticket.length > MAX_TICKET_BYTES)
      fail('TOO_LARGE', `ticket is ${ticket.length} bytes, over ${MAX_TICKET_BYTES}`);
    if (authenticator.length > MAX_AUTHENTICATOR_BYTES) {
      fail('TOO_LARGE', `authenticator is ${authenticator.length} bytes, over ${MAX_AUTHENTICATOR_BYTES}`);
    }
    // A view of the chain too old to show a revocation admits nothing (fail closed).
    this.cache.chainView?.check();
    const now = this.#now();
    const ticketHash = sha256(ticket);
    const opened = this.#open(ticket, ticketHash);
    const body = opened.body;
    const grantExpiresAt = this.#checkTicket(body, now);

    const auth = decodeAuthenticator(authenticator);
    if (!equal(auth.ticketHash, ticketHash))
      fail('WRONG_TICKET', 'authenticator was made for another ticket');
    if (!equal(opened.mac.clone().update(auth.macInput).digest(), auth.mac)) {
      fail(
        'TAMPERED',
        "authenticator MAC is wrong: it was altered or made without this ticket's session key",
      );
    }
    if (!equal(auth.clientPeerId, remotePeerId)) {
      fail('WRONG_PEER', 'authenticator names another client peer than the connection it arrived on');
    }
    if (this.#peerIdToAddress(remotePeerId) !== body.clientAddress) {
      fail('WRONG_PEER', `connection peer is not the wallet key of ticket client ${body.clientAddress}`);
    }
    if (!equal(auth.servicePeerId, this.peerId))
      fail('WRONG_NODE', 'authenticator is addressed to another node');
    if (!equal(auth.challenge, input.challenge ?? EMPTY)) {
      fail('WRONG_CHALLENGE', "authenticator does not answer this connection's challenge");
    }
    if (Math.abs(auth.timestamp - now) > this.maxSkewMs) {
      fail(
        'CLOCK_SKEW',
        `authenticator time is more than ${this.maxSkewMs} ms from this node's clock; fix the clock`,
      );
    }
    // Recorded last, so only authenticators that passed everything else take replay-cache space.
    this.replayCache.checkAndAdd(bytesKey(auth.nonce), auth.timestamp + this.maxSkewMs, now);
    return {
      clientAddress: body.clientAddress,
      grantId: body.grantId,
      serviceId: body.serviceId,
      serviceType: body.serviceType,
      kind: body.kind,
      sessionKey: body.sessionKey,
      expiresAt: Math.min(body.expiresAt, grantExpiresAt),
      ticketHash,
      clientPeerId: new Uint8Array(remotePeerId),
    };
  }

  #open(ticket: Uint8Array, ticketHash: Uint8Array): OpenedTicket {
    const cacheKey = bytesKey(ticketHash);
    const cached = this.#tickets.get(cacheKey);
    if (cached) {
      const current = this.cache.encryptionKey(cached.body.clientAddress);
      if (current && equal(current, cached.clientKey)) return cached;
      this.#tickets.delete(cacheKey);
      if (!current)
        fail('UNKNOWN_CLIENT_KEY', `${cached.body.clientAddress} has no registered encryption key`);
      fail(
        'TAMPERED',
        'ticket was made with an encryption key its client has since replaced; make a new ticket',
      );
    }
    const sealed = decodeSealedTicket(ticket);
    const { header } = sealed;
    if (header.chainId !== this.chainId) {
      fail('WRONG_CHAIN', `ticket is for chain ${header.chainId}, this node is on chain ${this.chainId}`);
    }
    const clientKey = this.cache.encryptionKey(header.clientAddress);
    if (!clientKey) {
      fail(
        'UNKNOWN_CLIENT_KEY',
        `${header.clientAddress} has no registered encryption key; register one first`,
      );
    }
    const body = openTicket(sealed, this.#pairKey(header.clientAddress, clientKey));
    if (body.contract !== this.contract) {
      fail('WRONG_CHAIN', `ticket is for AccessGrants ${body.contract}, this node uses ${this.contract}`);
    }
    const opened: OpenedTicket = {
      body,
      mac: authenticatorMacState(deriveAuthenticatorKey(body.sessionKey, ticketHash)),
      clientKey,
    };
    setLimited(this.#tickets, cacheKey, opened, this.#ticketCacheEntries);
    return opened;
  }

  /** The pairwise key with `client`'s registered key: from the LRU, or one X25519 + HKDF-Extract. */
  #pairKey(client: Address, clientKey: Uint8Array): PairKey {
    const pairs = this.#pairs;
    const hit = pairs.get(client);
    if (hit && equal(hit.clientKey, clientKey)) {
      // Re-inserting moves the entry to the young end of the Map's insertion order: least recently used goes first.
      pairs.delete(client);
      pairs.set(client, hit);
      return hit.pair;
    }
    const pair = derivePairKey(this.#key.sharedSecret(clientKey), clientKey, this.#key.publicKey);
    if (hit) pairs.delete(client);
    setLimited(pairs, client, { clientKey, pair }, this.#pairEntries);
    return pair;
  }

  /** Checks the ticket against this node and the cached chain state; returns the grant expiry in ms. */
  #checkTicket(body: TicketBody, now: number): number {
    const { serviceId, grantId } = body;
    if (body.kind === 'network') {
      if (!this.#networkServiceIds.has(serviceId)) {
        fail('WRONG_SERVICE', `network service ${serviceId} is not a network this node admits to`);
      }
    } else if (this.#serviceIds && !this.#serviceIds.has(serviceId)) {
      fail('WRONG_SERVICE', `service ${serviceId} is not served here`);
    }
    const service = this.cache.service(serviceId);
    if (!service) fail('UNKNOWN_SERVICE', `service ${serviceId} is not (yet) known to this node`);
    if (service.serviceType !== body.serviceType) {
      fail(
        'WRONG_TYPE',
        `ticket says service type "${body.serviceType}", service ${serviceId} is "${service.serviceType}"`,
      );
    }
    if ((body.kind === 'network') !== (service.serviceType === NETWORK_SERVICE_TYPE)) {
      fail('WRONG_TYPE', `a ${body.kind} ticket cannot be used for a "${service.serviceType}" service`);
    }
    if (!equal(body.servicePeerId, this.peerId)) fail('WRONG_NODE', 'ticket is bound to another node');
    if (body.kind === 'service' && service.host !== this.nodeAddress) {
      fail('WRONG_NODE', `service ${serviceId} is hosted by ${service.host}, not by this node`);
    }
    if (!service.active) fail('SERVICE_INACTIVE', `service ${serviceId} was retired`);
    const grant = this.cache.grant(grantId);
    if (!grant) fail('UNKNOWN_GRANT', `grant ${grantId} is not (yet) known to this node`);
    if (grant.grantee !== body.clientAddress)
      fail('NOT_GRANTEE', `grant ${grantId} belongs to ${grant.grantee}`);
    if (grant.serviceId !== serviceId)
      fail('EXCEEDS_GRANT', `grant ${grantId} is for service ${grant.serviceId}`);
    if (grant.revoked) fail('REVOKED', `grant ${grantId} was revoked`);
    if (!this.cache.meetsPolicy(serviceId, grant.grantee)) {
      fail(
        'POLICY_UNMET',
        `${grant.grantee} no longer meets the access policy of service ${serviceId} (allowlist, membership or token balance)`,
      );
    }
    const grantExpiresAt = Number(grant.expiresAt) * 1000;
    if (grantExpiresAt <= now) fail('EXPIRED', `grant ${grantId} has expired; request a new grant`);
    if (body.issuedAt > now + this.maxSkewMs) {
      fail(
        'CLOCK_SKEW',
        `ticket was issued more than ${this.maxSkewMs} ms in this node's future; fix the clock`,
      );
    }
    if (body.expiresAt <= now) fail('EXPIRED', 'ticket has expired; make a new one');
    // A client chooses both times: without these bounds a ticket could live as long as its grant.
    if (body.expiresAt - body.issuedAt > this.maxTicketLifetimeMs) {
      fail(
        'LIFETIME_EXCEEDED',
        `ticket lives ${body.expiresAt - body.issuedAt} ms, over the ${this.maxTicketLifetimeMs} ms maximum; make a shorter one`,
      );
    }
    if (now - body.issuedAt > this.maxTicketLifetimeMs + this.maxSkewMs) {
      fail(
        'LIFETIME_EXCEEDED',
        'ticket was issued longer ago than the maximum ticket lifetime; make a new one',
      );
    }
    if (body.expiresAt > grantExpiresAt) fail('EXCEEDS_GRANT', `ticket outlives grant ${grantId}`);
    return grantExpiresAt;
  }
}
