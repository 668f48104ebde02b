/** The DIBS libp2p host: wallet-key identity, TCP+WebSockets, Noise/TLS, Yamux, private Kad-DHT, relay, gossipsub. */
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import type {
  ConnectionEncrypter,
  Libp2p,
  PeerId,
  PrivateKey,
  StreamHandler,
  StreamHandlerOptions,
} from '@libp2p/interface';
import { type KadDHT, kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht';
import { noise } from '@libp2p/noise';
import { ping } from '@libp2p/ping';
import { type TCPSocketOptions, tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { yamux } from '@libp2p/yamux';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type ServiceFactoryMap } from 'libp2p';
import type { AdmissionAuthority } from './admission/authority.ts';
import { AdmissionController } from './admission/controller.ts';
import {
  DEFAULT_LISTEN,
  DHT_ALPHA,
  DHT_DISJOINT_PATHS,
  DHT_K_BUCKET_SIZE,
  DHT_MAX_MESSAGE_BYTES,
  DHT_MESSAGE_TIMEOUT_MS,
  DHT_PROTOCOL,
  DHT_QUERY_SELF_INTERVAL_MS,
  INBOUND_CONNECTION_THRESHOLD,
  MAX_CONNECTIONS,
  MAX_INCOMING_PENDING_CONNECTIONS,
  PROTOCOL_PREFIX,
  RELAY_HOP_TIMEOUT_MS,
  RELAY_MAX_RESERVATIONS,
  RELAY_RESERVATION_CONCURRENCY,
  TLS_PROTOCOL,
} from './constants.ts';
import { P2pError } from './errors.ts';
import { RelayKeeper, type ReservationStoreHandle } from './relays.ts';
import { type P2pLogger, stderrLogger } from './log.ts';
import { NODE_RECORD_NAMESPACE, selectNodeRecord, validateNodeRecord } from './records.ts';

/** Relay server settings for nodes with the RELAY role. Only admitted peers may reserve or be relayed. */
export interface RelayServerOptions {
  maxReservations?: number;
  /** Per relayed connection; unset = no limit (admitted peers only get here). */
  durationLimitMs?: number;
  /** Per relayed connection, bytes; unset = no limit. */
  dataLimitBytes?: bigint;
}

/** Kad-DHT tuning; each field defaults to its `DHT_*` constant. */
export interface DhtTuning {
  alpha?: number;
  disjointPaths?: number;
  kBucketSize?: number;
  querySelfIntervalMs?: number;
  /** Per-message time on inbound DHT streams. */
  messageTimeoutMs?: number;
}

/** Options of {@link createDibsHost}. */
export interface DibsHostOptions {
  /** The wallet's raw 32-byte secp256k1 private key; the PeerId and Ethereum address derive from it. */
  privateKey: Uint8Array;
  /** Issues our network-ticket proofs and verifies peers'. */
  authority: AdmissionAuthority;
  /** Listen multiaddrs (TCP, `/ws`, or `<relay>/p2p-circuit` to listen through a relay). */
  listen?: readonly string[];
  /** More DHT record namespaces besides node records, each with its validator and selector. */
  records?: Record<
    string,
    {
      validate(key: Uint8Array, value: Uint8Array): Promise<void>;
      select(key: Uint8Array, values: Uint8Array[]): Promise<number>;
    }
  >;
  /** Addresses to announce instead of the listen addresses (public address behind a port forward). */
  announce?: readonly string[];
  /**
   * Relay reservations to keep (relays.ts): given relays, a candidate provider, how many at once.
   * `<relay>/p2p-circuit` listen addresses are given relays too; with neither, no reservations.
   */
  relays?: { relays?: readonly string[]; provider?: () => Promise<readonly string[]>; target?: number };
  /** Run a circuit-relay-v2 server (RELAY role). */
  relay?: boolean | RelayServerOptions;
  /** Keep private and loopback addresses in DHT peer info (LAN, devnets, tests). Default true. */
  privateAddresses?: boolean;
  /** A peer not admitted this long after connecting is disconnected. */
  admissionTimeoutMs?: number;
  /** Time allowed per admission message. */
  messageTimeoutMs?: number;
  /** Start gossipsub. Default false: nothing in DIBS publishes yet, and an idle router costs memory. */
  pubsub?: boolean;
  /** Kad-DHT lookup parameters (defaults in constants.ts). */
  dht?: DhtTuning;
  /**
   * Protocol namespace of this host: identify, ping, the DHT and admission run under `/<prefix>/…`.
   * Default PROTOCOL_PREFIX (the public network: `/dibs/kad/1.0.0`, `/dibs/admission/1.0`); an
   * organization network's host uses `dibs/org/<label>/<id>`, so every stream it opens or accepts
   * names its organization and a peer of another network cannot negotiate any of them.
   */
  protocolPrefix?: string;
  logger?: P2pLogger;
}

/** The DIBS host: the libp2p node plus its admission controller. */
export interface DibsHost {
  readonly libp2p: Libp2p;
  readonly peerId: PeerId;
  readonly admission: AdmissionController;
  readonly dht: KadDHT;
  /** Starts listening (if created with `start: false`). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Reservations on relays, for a node that cannot be reached directly (started by its owner). */
  readonly relays: RelayKeeper;
  /** Current listen multiaddrs including `/p2p/<peerId>`, circuit addresses through held relays too. */
  multiaddrs(): Multiaddr[];
  /** Registers a protocol handler behind the admission gate. */
  handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>;
  /** Signs `data` with the wallet key (libp2p secp256k1: SHA-256 + ECDSA, DER). */
  sign(data: Uint8Array): Promise<Uint8Array>;
  /** Dials `addr` and resolves once we admitted the remote (so it admitted us first); throws otherwise. */
  connect(addr: Multiaddr | Multiaddr[] | PeerId, timeoutMs?: number): Promise<PeerId>;
}

interface DhtRpcHandle {
  rpc?: { incomingMessageTimeout?: number };
}

interface RoutingTableHandle {
  routingTable?: { remove(peer: PeerId): Promise<void> };
}

/** Creates (and by default starts) a DIBS libp2p host whose PeerId is the wallet key. */
export async function createDibsHost(options: DibsHostOptions & { start?: boolean }): Promise<DibsHost> {
  const key = walletKey(options.privateKey);
  const logger = options.logger ?? stderrLogger;
  const prefix = options.protocolPrefix ?? PROTOCOL_PREFIX;
  const own = prefix !== PROTOCOL_PREFIX;
  const dhtProtocol = own ? `/${prefix}/kad/1.0.0` : DHT_PROTOCOL;
  const storeTag = own ? prefix.replace(/[^a-zA-Z0-9]+/g, '-') : '';
  const admission = new AdmissionController({
    ...(own ? { protocol: `/${prefix}/admission/1.0` } : {}),
    authority: options.authority,
    logger,
    admissionTimeoutMs: options.admissionTimeoutMs,
    messageTimeoutMs: options.messageTimeoutMs,
  });
  const relay = options.relay === true ? {} : options.relay || undefined;
  const services: Record<string, unknown> = {
    admission: admission.service(),
    identify: identify({ protocolPrefix: prefix, runOnConnectionOpen: false }),
    ping: ping({ protocolPrefix: prefix, maxOutboundStreams: 4, maxInboundStreams: 8 }),
    dht: kadDHT({
      protocol: dhtProtocol,
      clientMode: false,
      alpha: options.dht?.alpha ?? DHT_ALPHA,
      disjointPaths: options.dht?.disjointPaths ?? DHT_DISJOINT_PATHS,
      kBucketSize: options.dht?.kBucketSize ?? DHT_K_BUCKET_SIZE,
      querySelfInterval: options.dht?.querySelfIntervalMs ?? DHT_QUERY_SELF_INTERVAL_MS,
      peerInfoMapper: options.privateAddresses === false ? removePrivateAddressesMapper : passthroughMapper,
      logPrefix: own ? `dibs:kad:${storeTag}` : 'dibs:kad',
      datastorePrefix: own ? `/dibs-kad-${storeTag}` : '/dibs-kad',
      metricsPrefix: own ? `dibs_kad_${storeTag.replace(/-/g, '_')}` : 'dibs_kad',
      validators: {
        ...Object.fromEntries(Object.entries(options.records ?? {}).map(([ns, r]) => [ns, r.validate])),
        [NODE_RECORD_NAMESPACE]: validateNodeRecord,
      },
      selectors: {
        ...Object.fromEntries(Object.entries(options.records ?? {}).map(([ns, r]) => [ns, r.select])),
        [NODE_RECORD_NAMESPACE]: selectNodeRecord,
      },
    }),
  };
  if (options.pubsub === true) {
    // Loaded only when wanted, so nodes without pubsub do not carry its code.
    const { gossipsub } = await import('@libp2p/gossipsub');
    services.pubsub = gossipsub({ allowPublishToZeroTopicPeers: true });
  }
  if (relay) {
    services.relay = circuitRelayServer({
      hopTimeout: RELAY_HOP_TIMEOUT_MS,
      reservations: {
        maxReservations: relay.maxReservations ?? RELAY_MAX_RESERVATIONS,
        applyDefaultLimit: relay.durationLimitMs !== undefined || relay.dataLimitBytes !== undefined,
        defaultDurationLimit: relay.durationLimitMs,
        defaultDataLimit: relay.dataLimitBytes,
      },
    });
  }
  let reservationStore: ReservationStoreHandle | undefined;
  const libp2p = await createLibp2p({
    privateKey: key,
    start: false,
    addresses: {
      // `<relay>/p2p-circuit` addresses go to the relay keeper (relays.ts), not to libp2p's listeners.
      listen: (options.listen ?? DEFAULT_LISTEN).filter((a) => !a.includes('/p2p-circuit')),
      announce: options.announce ? [...options.announce] : undefined,
    },
    transports: [
      // The listeners pass every accepted connection's address to the inbound limit before Node.js
      // makes a socket of it (@libp2p/tcp hands listenOpts to net.createServer).
      tcp({ listenOpts: { blockList: admission.inboundBlockList() } as TCPSocketOptions }),
      webSockets(),
      (components: unknown) => {
        const t = circuitRelayTransport({ reservationConcurrency: RELAY_RESERVATION_CONCURRENCY })(
          components as never,
        );
        reservationStore = (t as unknown as { reservationStore: ReservationStoreHandle }).reservationStore;
        return t;
      },
    ],
    connectionEncrypters: [noise(), lazyTls()],
    streamMuxers: [yamux()],
    connectionGater: admission.gater(),
    connectionManager: {
      maxConnections: MAX_CONNECTIONS,
      inboundConnectionThreshold: INBOUND_CONNECTION_THRESHOLD,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
    },
    // Liveness pings admitted neighbours itself (p2p/liveness.ts); libp2p's monitor would ping unadmitted ones too.
    connectionMonitor: { enabled: false },
    services: services as ServiceFactoryMap,
  });
  const svc = libp2p.services as Record<string, unknown>;
  const dht = svc.dht as KadDHT & RoutingTableHandle & DhtRpcHandle;
  // @libp2p/kad-dht 16.4 declares `incomingMessageTimeout` but never hands it to its RPC handler.
  if (dht.rpc && typeof dht.rpc.incomingMessageTimeout === 'number') {
    dht.rpc.incomingMessageTimeout = options.dht?.messageTimeoutMs ?? DHT_MESSAGE_TIMEOUT_MS;
  }
  admission.limitFrames(dhtProtocol, DHT_MAX_MESSAGE_BYTES);
  const ident = svc.identify as { identify(c: unknown, o?: { signal?: AbortSignal }): Promise<unknown> };

  admission.onAdmitted((peer, connection) => {
    // identify waits for admission so unadmitted peers learn nothing (not even our protocol list).
    ident
      .identify(connection, { signal: AbortSignal.timeout(admission.messageTimeoutMs) })
      .catch((err: Error) => {
        logger.debug('identify after admission failed', { peer: peer.peerId.toString(), error: err.message });
      });
  });
  admission.onEnded((peerId) => {
    dht.routingTable?.remove(peerId).catch(() => {});
  });

  if (!reservationStore) throw new P2pError('INVALID_CONFIG', 'the circuit-relay transport did not start');
  const relays = new RelayKeeper({
    store: reservationStore,
    ownPeerId: libp2p.peerId,
    logger,
    connect: (addr, timeoutMs) => host.connect(addr, timeoutMs),
  });
  const host: DibsHost = {
    libp2p,
    peerId: libp2p.peerId,
    admission,
    dht,
    start: async () => {
      await libp2p.start();
    },
    stop: async () => {
      relays.stop();
      await libp2p.stop();
    },
    relays,
    multiaddrs: () => {
      const own = libp2p.getMultiaddrs();
      const seen = new Set(own.map((a) => a.toString()));
      const self = libp2p.peerId.toString();
      for (const a of relays.addresses()) {
        const full = `${a}/p2p/${self}`;
        if (!seen.has(full)) own.push(multiaddr(full));
        seen.add(full);
      }
      return own;
    },
    sign: async (data) => key.sign(data),
    async handle(protocol, handler, handlerOptions) {
      await libp2p.handle(protocol, handler, handlerOptions);
      admission.gate(protocol);
    },
    async connect(addr, timeoutMs = admission.admissionTimeoutMs) {
      const connection = await libp2p.dial(addr, { signal: AbortSignal.timeout(timeoutMs) });
      const peer = connection.remotePeer;
      if (!(await admission.waitForAdmission(peer, timeoutMs))) {
        throw new P2pError(
          'ADMISSION_REFUSED',
          `admission with ${peer} did not complete within ${timeoutMs} ms; check both nodes hold valid network tickets`,
        );
      }
      return peer;
    },
  };
  if (options.start !== false) await libp2p.start();
  const circuits = (options.listen ?? []).filter((a) => a.includes('/p2p-circuit'));
  if (circuits.length > 0 || options.relays) {
    relays.start({ ...options.relays, relays: [...circuits, ...(options.relays?.relays ?? [])] });
  }
  return host;
}

type EncrypterFactory = (components: unknown) => ConnectionEncrypter;

/**
 * TLS, offered to every peer as before, but its module (X.509/ASN.1 code, ~12 MiB resident) is only
 * loaded when a peer actually negotiates TLS; DIBS peers all pick Noise first.
 */
function lazyTls(): EncrypterFactory {
  return (components) => {
    let inner: Promise<ConnectionEncrypter> | undefined;
    const load = () => {
      inner ??= import('@libp2p/tls').then(({ tls }) => tls()(components as never) as ConnectionEncrypter);
      return inner;
    };
    return {
      protocol: TLS_PROTOCOL,
      secureInbound: async (connection, opts) => (await load()).secureInbound(connection, opts),
      secureOutbound: async (connection, opts) => (await load()).secureOutbound(connection, opts),
    };
  };
}

function walletKey(raw: Uint8Array): PrivateKey {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) {
    throw new P2pError('INVALID_KEY', 'the host key must be the 32-byte secp256k1 wallet private key');
  }
  try {
    return privateKeyFromRaw(raw);
  } catch (err) {
    throw new P2pError('INVALID_KEY', 'the wallet private key is not a valid secp256k1 key', { cause: err });
  }
}
