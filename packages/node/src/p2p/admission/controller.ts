/**
 * Admission state of one node and its enforcement: the `/dibs/admission/1.0` handler, a stream gate on
 * every other protocol, a connection gater, admission timeouts, ticket renewal before expiry, expiry and
 * revocation.
 */
import type { BlockList } from 'node:net';
import type {
  Connection,
  ConnectionGater,
  Libp2pEvents,
  PeerId,
  Startable,
  Stream,
  StreamHandler,
  StreamHandlerOptions,
  StreamMiddleware,
  TypedEventTarget,
} from '@libp2p/interface';
import { P2pError } from '../errors.ts';
import { guardFrames } from '../frame-guard.ts';
import type { P2pLogger } from '../log.ts';
import type { AdmissionAuthority, AdmissionGrant } from './authority.ts';
import {
  ADMISSION_PROTOCOL,
  ADMISSION_RENEW_AT_FRACTION,
  ADMISSION_RENEW_BEFORE_MS,
  DEFAULT_ADMISSION_TIMEOUT_MS,
  DEFAULT_MAX_PENDING_PEERS,
  DEFAULT_MESSAGE_TIMEOUT_MS,
  MAX_INBOUND_ADMISSION_STREAMS,
  MIN_RENEW_DELAY_MS,
} from './constants.ts';
import {
  type ExchangeContext,
  type ExchangeOutcome,
  runDialerExchange,
  runListenerExchange,
} from './exchange.ts';
import { InboundLimiter } from './inbound-limit.ts';
import { VerdictCode } from './messages.ts';

/** Configuration of {@link AdmissionController}. */
export interface AdmissionOptions {
  authority: AdmissionAuthority;
  logger: P2pLogger;
  /** A peer not admitted this long after a connection opens is disconnected. */
  admissionTimeoutMs?: number;
  /** Time allowed for each admission message. */
  messageTimeoutMs?: number;
  /** Most peers allowed to sit unadmitted at once; further inbound connections are refused. */
  maxPendingPeers?: number;
  /** Rate of new inbound connections from addresses of no admitted peer (see InboundLimiter). */
  inbound?: { perSecond?: number; burst?: number };
  /**
   * The admission protocol id; default ADMISSION_PROTOCOL. An organization network's host uses its
   * own (`/dibs/org/<label>/admission/1.0`), so its admission carries the organization's label.
   */
  protocol?: string;
}

/** Why a peer's admission ended. */
export type AdmissionEndReason = 'expired' | 'revoked' | 'closed';

/** A peer we admitted and until when. */
/** A failed admission exchange, as refusal listeners see it. */
export interface AdmissionRefusal {
  peer: string;
  /** Who refused: this node, or the remote that refused our ticket. */
  by: 'us' | 'remote';
  renewal: boolean;
  code: string;
  reason: string;
}

export interface AdmittedPeer {
  peerId: PeerId;
  grantId: bigint;
  expiresAt: number;
}

/** The registrar and connection manager surface the controller uses (libp2p's internal components). */
export interface AdmissionComponents {
  registrar: {
    handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>;
    unhandle(protocol: string): Promise<void>;
    getProtocols(): string[];
    use(protocol: string, middleware: StreamMiddleware[]): void;
  };
  connectionManager: {
    getConnections(peerId?: PeerId): Connection[];
    closeConnections(peerId: PeerId): Promise<void>;
  };
  events: TypedEventTarget<Libp2pEvents>;
  /** Entries of peers that only ever dialed in and were never admitted are deleted on their last close. */
  peerStore?: { delete(peerId: PeerId): Promise<void> };
}

interface Admitted extends AdmittedPeer {
  timer: NodeJS.Timeout;
  renewTimer: NodeJS.Timeout | undefined;
}

interface Pending {
  wait: PromiseWithResolvers<boolean>;
  /** Connections to this peer whose admission is still open. */
  connections: Set<string>;
  /** The exchange has begun (we dialed, or the dialer opened its admission stream). */
  started: boolean;
}

/** A direct TCP address (no /ws, no circuit): what a TCP listener with the inbound block list saw. */
const PLAIN_TCP = /^\/ip[46]\/[^/]+\/tcp\/\d+$/;

/** Longest single timer Node.js supports; longer expiries re-arm. */
const MAX_TIMER_MS = 2_147_483_647;

/** Holds who is admitted and enforces it on every connection and stream of one libp2p node. */
export class AdmissionController {
  readonly admissionTimeoutMs: number;
  readonly messageTimeoutMs: number;
  readonly maxPendingPeers: number;
  /** The admission protocol id of this node (the organization's own on an organization host). */
  readonly protocol: string;
  readonly #authority: AdmissionAuthority;
  readonly #log: P2pLogger;
  readonly #admitted = new Map<string, Admitted>();
  readonly #pending = new Map<string, Pending>();
  readonly #blocked = new Set<string>();
  /** Peers that told us they admit us, on a connection still open. */
  readonly #admittedBy = new Set<string>();
  readonly #revokedGrants = new Set<bigint>();
  readonly #gated = new Set<string>();
  /** Frame bounds for gated protocols whose handlers read length-prefixed frames without one. */
  readonly #frameLimits = new Map<string, number>();
  /** Connections whose admission exchange completed; a further exchange on one is a renewal. */
  readonly #exchanged = new Set<string>();
  /** Peers with a renewal exchange under way (one at a time per peer from our side). */
  readonly #renewing = new Set<string>();
  readonly #admittedListeners: Array<(peer: AdmittedPeer, connection: Connection) => void> = [];
  readonly #endedListeners: Array<(peerId: PeerId, reason: AdmissionEndReason) => void> = [];
  readonly #refusedListeners: Array<(refusal: AdmissionRefusal) => void> = [];
  #components?: AdmissionComponents;
  #running = false;
  readonly #inbound: InboundLimiter;
  /** TCP listeners apply the inbound limit themselves (inboundBlockList). */
  #tcpLimited = false;
  /** Remote IPs of admitted peers' open direct connections, with how many. */
  readonly #admittedIps = new Map<string, number>();
  /** The counted IP of each such connection. */
  readonly #addressOf = new Map<string, string>();

  constructor(options: AdmissionOptions) {
    this.#authority = options.authority;
    this.#log = options.logger;
    this.protocol = options.protocol ?? ADMISSION_PROTOCOL;
    this.admissionTimeoutMs = positive(
      options.admissionTimeoutMs ?? DEFAULT_ADMISSION_TIMEOUT_MS,
      'admissionTimeoutMs',
    );
    this.messageTimeoutMs = positive(
      options.messageTimeoutMs ?? DEFAULT_MESSAGE_TIMEOUT_MS,
      'messageTimeoutMs',
    );
    this.maxPendingPeers = positive(options.maxPendingPeers ?? DEFAULT_MAX_PENDING_PEERS, 'maxPendingPeers');
    this.#inbound = new InboundLimiter({
      ...options.inbound,
      isKnownAddress: (ip) => this.#admittedAddress(ip),
      onRefused: (count) =>
        this.#log.warn('refusing inbound connections from unknown addresses: over the new-connection rate', {
          refused: count,
          perSecond: this.#inbound.perSecond,
        }),
    });
  }

  /** Whether an admitted peer has a connection from `ip` now. */
  #admittedAddress(ip: string): boolean {
    return this.#admittedIps.has(ip);
  }

  /** Counts `connection`'s remote address as an admitted peer's until the connection closes. */
  #countAddress(connection: Connection): void {
    if (this.#addressOf.has(connection.id) || connection.status !== 'open') return;
    const ip = /^\/ip[46]\/([^/]+)/.exec(connection.remoteAddr.toString())?.[1];
    // A relayed connection comes from the relay's address, which the relay's own connection counts.
    if (ip === undefined || connection.remoteAddr.toString().includes('/p2p-circuit')) return;
    this.#addressOf.set(connection.id, ip);
    this.#admittedIps.set(ip, (this.#admittedIps.get(ip) ?? 0) + 1);
  }

  #uncountAddress(connection: Connection): void {
    const ip = this.#addressOf.get(connection.id);
    if (ip === undefined) return;
    this.#addressOf.delete(connection.id);
    const n = (this.#admittedIps.get(ip) ?? 1) - 1;
    if (n > 0) this.#admittedIps.set(ip, n);
    else this.#admittedIps.delete(ip);
  }

  /**
   * The inbound limit as a `net.BlockList` for TCP listeners (`net.createServer({ blockList })`): a
   * connection over the limit is closed before Node.js makes a socket of it, and the connection gater
   * does not count plain TCP connections a second time.
   */
  inboundBlockList(): BlockList {
    this.#tcpLimited = true;
    return this.#inbound.blockList();
  }

  /** Addresses the inbound limit tracks a rate for now (bounded). */
  inboundTrackedAddresses(): number {
    return this.#inbound.trackedAddresses;
  }

  /** Whether we currently admit `peerId` (valid, unexpired, not revoked). */
  isAdmitted(peerId: PeerId): boolean {
    const entry = this.#admitted.get(peerId.toString());
    return entry !== undefined && entry.expiresAt > Date.now();
  }

  /** Whether `peerId` told us it admits us (on a connection that is still open). */
  isAdmittedBy(peerId: PeerId): boolean {
    return this.#admittedBy.has(peerId.toString());
  }

  /** Resolves true once admission holds both ways with `peerId`, false after `timeoutMs` without it. */
  async waitForAdmission(peerId: PeerId, timeoutMs: number): Promise<boolean> {
    const both = () => this.isAdmitted(peerId) && this.isAdmittedBy(peerId);
    if (both()) return true;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const pending = this.#pending.get(peerId.toString());
      const rest = deadline - Date.now();
      if (!pending && (this.#components?.connectionManager.getConnections(peerId).length ?? 0) === 0)
        return false;
      if (pending) await withTimeout(pending.wait.promise, rest);
      else await new Promise((r) => setTimeout(r, Math.min(50, rest)));
      if (both()) return true;
    }
    return both();
  }

  /** Peers with a connection still awaiting admission. */
  pendingCount(): number {
    return this.#pending.size;
  }

  /** Peers we currently admit. */
  admittedPeers(): AdmittedPeer[] {
    return [...this.#admitted.values()].map(({ peerId, grantId, expiresAt }) => ({
      peerId,
      grantId,
      expiresAt,
    }));
  }

  /** Peers we admit that have a connection open now (an admission outlives its connections until it expires). */
  connectedPeers(): AdmittedPeer[] {
    const cm = this.#components?.connectionManager;
    return this.admittedPeers().filter((p) =>
      (cm?.getConnections(p.peerId) ?? []).some((c) => c.status === 'open'),
    );
  }

  /** Protocols whose streams go through the admission gate. */
  gatedProtocols(): string[] {
    return [...this.#gated].sort();
  }

  /** Called after we admit a peer on a connection (the host runs identify then). */
  onAdmitted(listener: (peer: AdmittedPeer, connection: Connection) => void): void {
    this.#admittedListeners.push(listener);
  }

  /** Called when an admission exchange fails, refused by us or by the remote (metrics, audit). */
  onRefused(listener: (refusal: AdmissionRefusal) => void): void {
    this.#refusedListeners.push(listener);
  }

  /** Called when a peer's admission ends (expiry, revocation). */
  onEnded(listener: (peerId: PeerId, reason: AdmissionEndReason) => void): void {
    this.#endedListeners.push(listener);
  }

  /**
   * Ends the admission of every peer holding `grantId`, closes their connections and refuses the grant
   * from now on (the SessionRegistry close callback calls this).
   */
  async revokeGrant(grantId: bigint): Promise<void> {
    this.#revokedGrants.add(grantId);
    const hit = [...this.#admitted.values()].filter((a) => a.grantId === grantId);
    await Promise.all(hit.map((a) => this.revokePeer(a.peerId)));
  }

  /** Ends `peerId`'s admission, disconnects it and stops dialing it until it proves a valid ticket again. */
  async revokePeer(peerId: PeerId): Promise<void> {
    this.#blocked.add(peerId.toString());
    await this.#end(peerId, 'revoked');
  }

  /**
   * Runs the admission exchange again on an open connection to an admitted peer: both sides present
   * fresh network tickets, so both admissions move to the new tickets' expiry. Resolves true when the
   * exchange admitted both ways; a failed renewal leaves the current admission in place until it ends.
   */
  async renew(peerId: PeerId): Promise<boolean> {
    const key = peerId.toString();
    if (!this.#admitted.has(key) || this.#renewing.has(key)) return false;
    const connection = this.#components?.connectionManager
      .getConnections(peerId)
      .filter((c) => c.status === 'open')
      // A direct connection first: a relayed one may hit the relay's limits.
      .sort((a, b) => Number(a.limits !== undefined) - Number(b.limits !== undefined))[0];
    if (!connection) return false;
    this.#renewing.add(key);
    try {
      const outcome = await this.#dial(connection);
      return outcome.admitted && this.isAdmittedBy(peerId);
    } finally {
      this.#renewing.delete(key);
    }
  }

  /** Whether we refuse to dial `peerId` (revoked and not yet re-admitted). */
  isBlocked(peerId: PeerId): boolean {
    return this.#blocked.has(peerId.toString());
  }

  /** Puts `protocol` behind the admission gate (host.handle does this for every handler it registers). */
  gate(protocol: string): void {
    if (protocol === this.protocol || this.#gated.has(protocol) || !this.#components) return;
    // libp2p 3.3 appends the protocol handler to the stored middleware array on every inbound stream
    // and runs that array for outbound streams too (js-libp2p#3534). The gate therefore takes this
    // stream's handler off the array and calls it itself, leaving the array as [gate]; on a libp2p
    // that copies the array first, the array is always [gate] and `next` reaches the handler as usual.
    const chain: StreamMiddleware[] = [];
    const gate: StreamMiddleware = (stream, connection, next) => {
      const handler =
        chain.length > 1 && stream.direction === 'inbound' ? chain[chain.length - 1] : undefined;
      chain.length = 1;
      return this.#pass(stream, connection, (s, c) => (handler ? handler(s, c, next) : next(s, c)));
    };
    chain.push(gate);
    this.#components.registrar.use(protocol, chain);
    this.#gated.add(protocol);
  }

  /**
   * Bounds every length-prefixed frame an admitted peer sends on inbound `protocol` streams; a bigger
   * announced frame resets the stream before its body is read.
   */
  limitFrames(protocol: string, maxFrameBytes: number): void {
    this.#frameLimits.set(protocol, positive(maxFrameBytes, 'maxFrameBytes'));
  }

  /** The connection gater enforcing admission on dials and relays. */
  gater(): ConnectionGater {
    return {
      denyDialPeer: (peerId) => this.#blocked.has(peerId.toString()),
      // Before any cryptography: a flood of new dialers is refused at accept (inbound-limit.ts).
      denyInboundConnection: (maConn) => {
        const addr = maConn.remoteAddr.toString();
        // Plain TCP was limited in the listener already (inboundBlockList).
        if (this.#tcpLimited && PLAIN_TCP.test(addr)) return false;
        return !this.#inbound.allow(addr);
      },
      denyInboundEncryptedConnection: (peerId) => {
        if (this.isAdmitted(peerId) || this.#pending.has(peerId.toString())) return false;
        if (this.#pending.size >= this.maxPendingPeers) {
          this.#log.warn('refusing inbound connection: too many peers awaiting admission', {
            peer: peerId.toString(),
            pending: this.#pending.size,
          });
          return true;
        }
        return false;
      },
      denyInboundRelayReservation: (source) => {
        const deny = !this.isAdmitted(source);
        if (deny) this.#log.warn('relay reservation refused: peer not admitted', { peer: source.toString() });
        return deny;
      },
      denyOutboundRelayedConnection: (source, destination) => {
        const deny = !this.isAdmitted(source) || !this.isAdmitted(destination);
        if (deny) {
          this.#log.warn('relayed connection refused: an end is not admitted', {
            source: source.toString(),
            destination: destination.toString(),
          });
        }
        return deny;
      },
      // A relayed connection is only accepted through a relay we admitted; its far end then runs admission itself.
      denyInboundRelayedConnection: (relay) => !this.isAdmitted(relay),
    };
  }

  /** The libp2p service factory; pass it as `services.admission`. */
  service(): (components: AdmissionComponents) => Startable {
    return (components) => {
      this.#components = components;
      return {
        start: async () => {
          await components.registrar.handle(
            this.protocol,
            (stream, connection) => this.#onStream(stream, connection),
            {
              maxInboundStreams: MAX_INBOUND_ADMISSION_STREAMS,
              maxOutboundStreams: MAX_INBOUND_ADMISSION_STREAMS,
              runOnLimitedConnection: true,
            },
          );
          components.events.addEventListener('connection:open', this.#onConnectionOpen);
          components.events.addEventListener('connection:close', this.#onConnectionClose);
          this.#running = true;
        },
        // Transports start listening in afterStart too; this runs synchronously before any stream can arrive.
        afterStart: () => {
          for (const p of components.registrar.getProtocols()) this.gate(p);
        },
        stop: async () => {
          this.#running = false;
          components.events.removeEventListener('connection:open', this.#onConnectionOpen);
          components.events.removeEventListener('connection:close', this.#onConnectionClose);
          for (const a of this.#admitted.values()) {
            clearTimeout(a.timer);
            clearTimeout(a.renewTimer);
          }
          this.#admitted.clear();
          this.#admittedBy.clear();
          this.#exchanged.clear();
          this.#admittedIps.clear();
          this.#addressOf.clear();
          for (const p of this.#pending.values()) p.wait.resolve(false);
          this.#pending.clear();
          await components.registrar.unhandle(this.protocol).catch(() => {});
        },
      };
    };
  }

  #onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    const connection = evt.detail;
    const components = this.#components;
    if (!components || !this.#running) return;
    // Handlers registered after start are gated as soon as the next connection shows up.
    for (const p of components.registrar.getProtocols()) this.gate(p);
    const key = connection.remotePeer.toString();
    if (!this.isAdmitted(connection.remotePeer)) {
      let pending = this.#pending.get(key);
      if (!pending) {
        pending = { wait: Promise.withResolvers<boolean>(), connections: new Set(), started: false };
        this.#pending.set(key, pending);
      }
      pending.connections.add(connection.id);
      if (connection.direction === 'outbound') pending.started = true;
      const timer = setTimeout(() => {
        if (this.isAdmitted(connection.remotePeer) || connection.status !== 'open') return;
        this.#log.warn('closing connection: peer not admitted in time', {
          peer: key,
          timeoutMs: this.admissionTimeoutMs,
        });
        this.#settle(connection, false);
        connection.abort(
          new P2pError('ADMISSION_TIMEOUT', `not admitted within ${this.admissionTimeoutMs} ms`),
        );
      }, this.admissionTimeoutMs);
      timer.unref();
      connection.addEventListener('close', () => clearTimeout(timer), { once: true });
    }
    if (connection.direction === 'outbound') void this.#dial(connection);
  };

  #onConnectionClose = (evt: CustomEvent<Connection>): void => {
    const connection = evt.detail;
    this.#uncountAddress(connection);
    this.#exchanged.delete(connection.id);
    this.#settle(connection, false);
    const open = this.#components?.connectionManager
      .getConnections(connection.remotePeer)
      .filter((c) => c.id !== connection.id && c.status === 'open');
    if (open?.length) return;
    this.#admittedBy.delete(connection.remotePeer.toString());
    // A peer that dialed in and was never admitted leaves nothing behind: libp2p keeps a peer store
    // entry (addresses, protocols, metadata) for every remote it met, and a flood of fresh identities
    // would grow it without bound. Peers we dialed (bootstrap, DHT) keep theirs for the next dial.
    if (connection.direction === 'inbound' && !this.#admitted.has(connection.remotePeer.toString())) {
      this.#components?.peerStore?.delete(connection.remotePeer).catch((err: Error) =>
        this.#log.debug('could not forget a refused peer', {
          peer: connection.remotePeer.toString(),
          error: err.message,
        }),
      );
    }
  };

  async #dial(connection: Connection): Promise<ExchangeOutcome> {
    const renewal = this.#exchanged.has(connection.id);
    let outcome: ExchangeOutcome;
    try {
      const stream = await connection.newStream(this.protocol, {
        runOnLimitedConnection: true,
        signal: AbortSignal.timeout(this.messageTimeoutMs),
      });
      outcome = await runDialerExchange(stream, this.#context(connection));
    } catch (err) {
      outcome = failure(err);
    }
    this.#finish(connection, outcome, 'dialer', renewal);
    return outcome;
  }

  async #onStream(stream: Stream, connection: Connection): Promise<void> {
    const pending = this.#pending.get(connection.remotePeer.toString());
    if (pending) pending.started = true;
    const renewal = this.#exchanged.has(connection.id);
    let outcome: ExchangeOutcome;
    try {
      outcome = await runListenerExchange(stream, this.#context(connection));
    } catch (err) {
      outcome = failure(err);
      if (stream.status === 'open') stream.abort(err as Error);
    }
    this.#finish(connection, outcome, 'listener', renewal);
  }

  #context(connection: Connection): ExchangeContext {
    return {
      authority: this.#authority,
      remotePeer: connection.remotePeer,
      messageTimeoutMs: this.messageTimeoutMs,
      check: (grant) =>
        this.#revokedGrants.has(grant.grantId)
          ? { code: VerdictCode.REVOKED, reason: `grant ${grant.grantId} has been revoked` }
          : undefined,
      onAdmitted: (grant) => this.#admit(connection, grant),
      onRemoteAdmitted: () => this.#admittedBy.add(connection.remotePeer.toString()),
    };
  }

  #finish(
    connection: Connection,
    outcome: ExchangeOutcome,
    role: 'dialer' | 'listener',
    renewal: boolean,
  ): void {
    const peer = connection.remotePeer.toString();
    if (outcome.admitted) {
      if (connection.status === 'open') this.#exchanged.add(connection.id);
      const fields = { peer, role, grantId: outcome.grant.grantId.toString() };
      if (renewal) {
        // Same peer, fresh ticket: nothing new to announce (identify already ran).
        this.#log.debug('admission renewed', { ...fields, expiresAt: outcome.grant.expiresAt });
        return;
      }
      this.#log.info('peer admitted', fields);
      for (const l of this.#admittedListeners) {
        try {
          l({ peerId: connection.remotePeer, ...outcome.grant }, connection);
        } catch (err) {
          this.#log.error('admission listener failed', { error: (err as Error).message });
        }
      }
      return;
    }
    const refusedByUs = outcome.by === 'us';
    if (!refusedByUs) this.#admittedBy.delete(peer);
    this.#log.warn(refusedByUs ? 'admission refused' : 'admission refused by remote', {
      peer,
      role,
      renewal,
      code: outcome.code,
      reason: outcome.reason,
    });
    for (const l of this.#refusedListeners) {
      try {
        l({
          peer,
          by: refusedByUs ? 'us' : 'remote',
          renewal,
          code: verdictName(outcome.code),
          reason: outcome.reason,
        });
      } catch (err) {
        this.#log.error('refusal listener failed', { error: (err as Error).message });
      }
    }
    this.#settle(connection, false);
    // Admitted through another connection: a failed extra exchange resets only its own stream.
    if (!this.isAdmitted(connection.remotePeer)) {
      connection.abort(
        new P2pError('ADMISSION_REFUSED', `admission failed (code ${outcome.code}): ${outcome.reason}`),
      );
    }
  }

  #admit(connection: Connection, grant: AdmissionGrant): void {
    const peerId = connection.remotePeer;
    const key = peerId.toString();
    const previous = this.#admitted.get(key);
    if (previous) {
      clearTimeout(previous.timer);
      clearTimeout(previous.renewTimer);
    }
    this.#blocked.delete(key);
    const entry: Admitted = {
      peerId,
      grantId: grant.grantId,
      expiresAt: grant.expiresAt,
      timer: this.#expiryTimer(peerId, grant.expiresAt),
      renewTimer: undefined,
    };
    entry.renewTimer = this.#renewTimer(entry, renewDelay(grant.expiresAt - Date.now()));
    this.#admitted.set(key, entry);
    this.#countAddress(connection);
    this.#settle(connection, true);
  }

  #expiryTimer(peerId: PeerId, expiresAt: number): NodeJS.Timeout {
    const delay = Math.max(0, expiresAt - Date.now());
    const timer = setTimeout(
      () => {
        const entry = this.#admitted.get(peerId.toString());
        if (!entry || entry.expiresAt !== expiresAt) return;
        if (delay >= MAX_TIMER_MS) {
          entry.timer = this.#expiryTimer(peerId, expiresAt);
          return;
        }
        this.#log.info('admission expired', { peer: peerId.toString() });
        void this.#end(peerId, 'expired');
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    timer.unref();
    return timer;
  }

  /** Arms the renewal of `entry` after `delay`; a failed renewal retries at half the time left, bounded by MIN_RENEW_DELAY_MS. */
  #renewTimer(entry: Admitted, delay: number | undefined): NodeJS.Timeout | undefined {
    if (delay === undefined) return undefined;
    const timer = setTimeout(
      () => {
        const key = entry.peerId.toString();
        if (this.#admitted.get(key) !== entry) return;
        if (delay > MAX_TIMER_MS) {
          entry.renewTimer = this.#renewTimer(entry, renewDelay(entry.expiresAt - Date.now()));
          return;
        }
        void this.renew(entry.peerId).then((renewed) => {
          // A successful renewal replaced the entry and armed its own timer.
          if (renewed || this.#admitted.get(key) !== entry) return;
          const left = entry.expiresAt - Date.now();
          this.#log.warn('admission renewal failed; retrying before the ticket ends', {
            peer: key,
            msLeft: left,
          });
          entry.renewTimer = this.#renewTimer(entry, left >= 2 * MIN_RENEW_DELAY_MS ? left / 2 : undefined);
        });
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    timer.unref();
    return timer;
  }

  /** Resolves waiters of this peer: true when admitted; false once no connection is left in admission. */
  #settle(connection: Connection, admitted: boolean): void {
    const key = connection.remotePeer.toString();
    const pending = this.#pending.get(key);
    if (!pending) return;
    if (admitted) {
      this.#pending.delete(key);
      pending.wait.resolve(true);
      return;
    }
    pending.connections.delete(connection.id);
    if (pending.connections.size === 0) {
      this.#pending.delete(key);
      pending.wait.resolve(false);
    }
  }

  async #end(peerId: PeerId, reason: AdmissionEndReason): Promise<void> {
    const key = peerId.toString();
    const entry = this.#admitted.get(key);
    if (entry) {
      clearTimeout(entry.timer);
      clearTimeout(entry.renewTimer);
    }
    this.#admitted.delete(key);
    this.#log.info('admission ended; disconnecting peer', { peer: key, reason });
    for (const l of this.#endedListeners) {
      try {
        l(peerId, reason);
      } catch (err) {
        this.#log.error('admission listener failed', { error: (err as Error).message });
      }
    }
    const connections = this.#components?.connectionManager.getConnections(peerId) ?? [];
    for (const c of connections) c.abort(new P2pError('NOT_ADMITTED', `admission ${reason}`));
  }

  async #pass(
    stream: Stream,
    connection: Connection,
    next: (s: Stream, c: Connection) => void | Promise<void>,
  ): Promise<void> {
    const peer = connection.remotePeer;
    const limit = stream.direction === 'inbound' ? this.#frameLimits.get(stream.protocol ?? '') : undefined;
    if (limit !== undefined) {
      guardFrames(stream, limit, (err) =>
        this.#log.warn('stream reset: frame over the bound', { peer: peer.toString(), error: err.message }),
      );
    }
    if (this.isAdmitted(peer)) return next(stream, connection);
    const pending = this.#pending.get(peer.toString());
    // Inbound streams only wait while an exchange is actually under way; otherwise they are reset at once.
    if (pending && (stream.direction === 'outbound' || pending.started)) {
      const admitted = await withTimeout(pending.wait.promise, this.admissionTimeoutMs);
      if (admitted && this.isAdmitted(peer)) return next(stream, connection);
    }
    this.#log.warn('stream reset: peer not admitted', {
      peer: peer.toString(),
      protocol: stream.protocol,
      direction: stream.direction,
    });
    throw new P2pError(
      'NOT_ADMITTED',
      `protocol ${stream.protocol} needs admission first; present a network ticket on ${this.protocol}`,
    );
  }
}

/**
 * When to renew a ticket with `msLeft` to live: ADMISSION_RENEW_BEFORE_MS before its end, or after
 * ADMISSION_RENEW_AT_FRACTION of a shorter lifetime; undefined when too little is left to try.
 */
export function renewDelay(msLeft: number): number | undefined {
  if (!(msLeft > 2 * MIN_RENEW_DELAY_MS)) return undefined;
  return Math.max(
    MIN_RENEW_DELAY_MS,
    msLeft - ADMISSION_RENEW_BEFORE_MS,
    msLeft * ADMISSION_RENEW_AT_FRACTION,
  );
}

function failure(err: unknown): ExchangeOutcome {
  const code =
    err instanceof P2pError && err.code === 'FRAME_TIMEOUT'
      ? VerdictCode.TIMEOUT
      : err instanceof P2pError && err.code === 'CREDENTIAL_UNAVAILABLE'
        ? VerdictCode.INTERNAL
        : VerdictCode.MALFORMED;
  return { admitted: false, by: 'us', code, reason: (err as Error)?.message ?? String(err) };
}

function withTimeout(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0)
    throw new P2pError('INVALID_CONFIG', `${name} must be a positive number, got ${n}`);
  return n;
}

/** The name of a verdict code (e.g. REVOKED), for metrics labels and audit rows. */
function verdictName(code: number): string {
  return Object.entries(VerdictCode).find(([, v]) => v === code)?.[0] ?? `CODE_${code}`;
}
