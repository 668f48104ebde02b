/**
 * The daemon's network part: the chain mirror feeding the grant cache, our network grant, the
 * admission-gated libp2p host with ticket-backed admission, the node's Registry entry, joining
 * through the configured and on-chain bootstrap nodes, the DHT node record and liveness.
 */
import { FleetConfig } from '@dibs/chain';
import type { Address } from 'viem';
import { CHECKPOINT_RECORD_NAMESPACE, checkpointRecordRules } from '@dibs/light';
import {
  ChainView,
  type ChainViewBounds,
  GrantCache,
  peerIdFromWallet,
  SessionRegistry,
  type TicketGrant,
  type Wallet,
} from '@dibs/core';
import type { Store } from '@dibs/store';
import { base58btc } from 'multiformats/bases/base58';
import { ChainHeadMonitor, ChainMirror, lagFields } from '../access/index.ts';
import { joinNetwork } from '../p2p/bootstrap.ts';
import {
  LOOPBACK_LISTEN,
  ROLE_BOOTSTRAP,
  ROLE_MASK,
  ROLE_RELAY,
  ROLE_SERVICE_HOST,
} from '../p2p/constants.ts';
import { createDibsHost, type DibsHost } from '../p2p/host.ts';
import { Liveness, type LivenessOptions } from '../p2p/liveness.ts';
import { publishNodeRecord } from '../p2p/records.ts';
import { createTicketAuthority, type TicketAuthority } from '../p2p/ticket-authority.ts';
import {
  ORG_ADDRESS_NAMESPACE,
  type OrgNetworkStatus,
  OrgNetworks,
  orgAddressRecordRules,
} from '../orgs/index.ts';
import { type RunningServices, startServices } from '../services/runtime.ts';
import { setBusyPollWindow, TunnelRelay } from '../tunnel/index.ts';
import type { ChainRuntime } from './chain-runtime.ts';
import {
  BOOTSTRAP_TIMEOUT_MS,
  MAX_REGISTERED_MULTIADDR_BYTES,
  MAX_REGISTERED_MULTIADDRS,
  RECORD_REPUBLISH_INTERVAL_MS,
  RELAY_LIST_CACHE_MS,
  RECORD_RETRY_INTERVAL_MS,
} from './constants.ts';
import { DaemonError } from './errors.ts';
import {
  type ChainTrustStatus,
  createLightChain,
  type LightSettings,
  startCheckpointSigning,
} from './light.ts';
import type { Logger } from './log.ts';
import { networkGrantProvider } from './network-grant.ts';
import { wireOrgServices } from './org-services.ts';

/** Network settings of the daemon (config `node.*`). */
export interface P2pSettings {
  /** Listen multiaddrs; default loopback TCP + WebSockets on ports the OS picks. */
  listen?: readonly string[];
  /** Addresses to announce instead of the listen addresses (a public address, a port forward). */
  announce?: readonly string[];
  /**
   * Relays to hold reservations on (multiaddrs with `/p2p/<relay>`), before the chain's relay list.
   * Given relays, or `reachability: 'private'`, make the node keep `relayCount` reservations.
   */
  relays?: readonly string[];
  /** Relay reservations held at once by a node that cannot be reached directly; default 2. */
  relayCount?: number;
  /**
   * 'private': not reachable directly, keep relay reservations (from `relays`, then the chain's relay
   * list); 'public': never; 'auto' (default): only when relays are given. Organization networks
   * follow: reservations there are held on the organization's own relays (orgs/org-relays.ts).
   */
  reachability?: 'auto' | 'public' | 'private';
  /** Bootstrap multiaddrs (with `/p2p/<peerId>`) besides the Registry's bootstrap list. */
  bootstrap?: readonly string[];
  /**
   * Role bits to register (1 bootstrap, 2 relay, 4 service host); relay runs a circuit-relay server.
   * The service-host bit is also set while the node hosts an active service, and cleared when it
   * hosts none (unless configured here).
   */
  roles?: number;
  /** On relay nodes, run the tunnel's relayed data channel (/dibs/tunnel-relay); default true. */
  tunnelRelay?: boolean;
  /** Approve this node as a bootstrap node on chain (network operator = Registry owner only). */
  operator?: boolean;
  /** A peer not admitted this long after connecting is dropped. */
  admissionTimeoutMs?: number;
  liveness?: LivenessOptions;
  /** Blocks the chain mirror stays behind the head. */
  confirmations?: number;
  /**
   * How far the chain view may lag before new tickets are refused and, further, live sessions are
   * closed (blocks or ms, whichever is passed first); defaults in ChainView.
   */
  chainView?: Partial<ChainViewBounds>;
  /** Longest busy-polling window after a small tunnel read, µs (0 = off); default BUSY_POLL_WINDOW_US. */
  busyPollUs?: number;
  /** Light mode: admit only on chain state proven against checkpoints signed by trusted full nodes. */
  light?: LightSettings | undefined;
  /** Sign and serve checkpoints of the chain (a full node); default: when this node runs the embedded chain. */
  signCheckpoints?: boolean | undefined;
  /** How often a signing node puts its newest checkpoint into the DHT, ms; default CHECKPOINT_RECORD_INTERVAL_MS. */
  checkpointRecordIntervalMs?: number | undefined;
  /** Organization networks to join besides the public one (`dibs up --org`), by organization id. */
  orgs?: readonly bigint[] | undefined;
}

/** One neighbour in the status. */
export interface PeerStatus {
  peerId: string;
  /** We admitted it (its network ticket checked out). */
  admitted: boolean;
  /** It admitted us. */
  admittedBy: boolean;
  /** Median ping RTT, ms, once measured. */
  rttMs?: number | undefined;
  /** Remote addresses of the open connections (a `/p2p-circuit` one runs through that relay). */
  remoteAddrs: string[];
}

/** What `dibs node status` shows, written to the runtime file. */
export interface NetworkStatus {
  peerId: string;
  multiaddrs: string[];
  roles: number;
  networkServiceId: string;
  grantId: string | undefined;
  /** Connected peers we admitted. */
  admitted: number;
  peers: PeerStatus[];
  bootstrap: { admitted: string[]; failed: Array<{ addr: string; error: string }> };
  recordPublishedAt: string | undefined;
  /** Relay reservations: how many are wanted (0 = the node does not keep any) and the ones held. */
  relays: { target: number; held: Array<{ peerId: string; addrs: string[]; since: string }> };
  /** How far this node's chain view lags the head, and whether it still accepts tickets. */
  chainView: ReturnType<typeof lagFields> & { reason: string | undefined };
  /** Set once this node's own network grant was revoked on chain: it has left the network. */
  leftNetwork?: string | undefined;
  /** How this node trusts its chain: full, or light with its accepted checkpoint and refused RPC answers. */
  chainTrust?: ChainTrustStatus | undefined;
  /** The organization networks this node runs besides the public one. */
  orgs: OrgNetworkStatus[];
  /** Organization networks this node left because the chain removed it from them, with why. */
  orgsLeft?: Array<{ orgId: string; reason: string }> | undefined;
  updatedAt: string;
}

/** The running network part of a daemon. */
export interface NetworkRuntime {
  readonly host: DibsHost;
  readonly authority: TicketAuthority;
  readonly cache: GrantCache;
  readonly sessions: SessionRegistry;
  readonly mirror: ChainMirror;
  /**
   * Fleet configuration of every organization this node is a member node of, kept current from the
   * chain's change events; organization networks apply their entries (preferred relays).
   */
  readonly fleet: FleetConfig;
  /** The lag of the mirror behind the chain head (fail-closed bounds). */
  readonly chainView: ChainView;
  readonly liveness: Liveness;
  /** Role bits as registered on chain (the service-host bit follows the hosted services). */
  readonly roles: number;
  /** Hosted services, connections, SOCKS5 proxies and tunnel sessions. */
  readonly services: RunningServices;
  /** The organization networks this node runs (each with its own host, admission and DHT). */
  readonly orgs: OrgNetworks;
  /** Our current network grant (requested or renewed on chain when needed). */
  grant(): Promise<TicketGrant>;
  status(): NetworkStatus;
  stop(): Promise<void>;
}

/** Starts the network part of a node on an already running chain runtime. */
export async function startNetwork(params: {
  chain: ChainRuntime;
  store: Store;
  wallet: Wallet;
  log: Logger;
  settings: P2pSettings;
}): Promise<NetworkRuntime> {
  const { chain, store, wallet, settings } = params;
  const log = params.log.child('p2p');
  const d = chain.deployment;
  // The operator is a bootstrap node, and a relay too unless its roles are given.
  const configuredRoles = settings.operator
    ? (settings.roles ?? ROLE_RELAY) | ROLE_BOOTSTRAP
    : (settings.roles ?? 0);
  if ((configuredRoles & ~ROLE_MASK) !== 0) {
    throw new DaemonError(
      'BAD_P2P_CONFIG',
      `node roles ${configuredRoles} has unknown bits`,
      'use 1 bootstrap, 2 relay, 4 service host',
    );
  }
  if (settings.busyPollUs !== undefined) {
    try {
      setBusyPollWindow(settings.busyPollUs);
    } catch (err) {
      throw new DaemonError('BAD_P2P_CONFIG', (err as Error).message, 'set node.busyPollUs to 0 … 10000');
    }
  }
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  };
  try {
    let chainView: ChainView;
    try {
      // A light node's proven state moves once per accepted checkpoint, many blocks at a time on a fast
      // chain, so a block count says nothing of its freshness: it is bounded by time only, unless set.
      const lightBounds = settings.light?.enabled
        ? { refuseAfterBlocks: Number.MAX_SAFE_INTEGER, closeAfterBlocks: Number.MAX_SAFE_INTEGER }
        : {};
      chainView = new ChainView({ ...lightBounds, ...settings.chainView });
    } catch (err) {
      throw new DaemonError(
        'BAD_P2P_CONFIG',
        (err as Error).message,
        'set node.chainView bounds to positive whole numbers, the close bounds no shorter than the refuse bounds',
      );
    }
    const cache = new GrantCache({ chainView });
    // A light node's mirror fills a cache of its own: its events only hint at what to prove.
    const light = settings.light?.enabled
      ? createLightChain({ chain, settings: settings.light, cache, wallet, log })
      : undefined;
    if (light) cleanups.push(() => light.stop());
    const mirror = new ChainMirror({
      store,
      clients: chain.clients,
      deployment: d,
      cache: light ? new GrantCache() : cache,
      ...(light ? { hints: (touched: Parameters<typeof light.hint>[0]) => light.hint(touched) } : {}),
      log: log.child('mirror'),
      ...(settings.confirmations !== undefined ? { confirmations: settings.confirmations } : {}),
    });
    await mirror.start();
    cleanups.push(() => mirror.stop());
    const fleetLog = log.child('fleet');
    // Changes before the organization networks run are applied when they start.
    const fleetEnv = new Map<bigint, ReadonlyMap<string, string>>();
    let orgNetworks: OrgNetworks | undefined;
    const fleet = new FleetConfig({
      store,
      clients: chain.clients,
      deployment: d,
      node: wallet.address,
      ...(settings.confirmations !== undefined ? { confirmations: settings.confirmations } : {}),
      onChange: (orgId, env) => {
        fleetLog.info('fleet configuration', { orgId: String(orgId), keys: env.size });
        fleetEnv.set(orgId, env);
        orgNetworks?.applyFleetEnv(orgId, env);
      },
      onError: (err) => fleetLog.warn('fleet configuration poll failed; retrying', { error: err }),
    });
    await fleet.start();
    cleanups.push(() => fleet.stop());
    const sessions = new SessionRegistry({
      cache,
      nodeAddress: wallet.address,
      onCallbackError: (err) => log.error('session close callback failed', { error: err as Error }),
    });
    sessions.start();
    cleanups.push(() => sessions.dispose());
    // The head on its own loop: a stuck mirror cannot vouch for itself.
    const headMonitor = new ChainHeadMonitor({
      publicClient: chain.clients.publicClient,
      view: chainView,
      log: log.child('chain-view'),
      ...(settings.confirmations !== undefined ? { confirmations: settings.confirmations } : {}),
      onState: (s) => {
        if (s.state === 'closing') sessions.sweep();
      },
    });
    headMonitor.start();
    cleanups.push(() => headMonitor.stop());

    const grant = networkGrantProvider({
      store,
      registry: chain.registry,
      networkServiceId: d.networkServiceId,
      cache,
      log,
    });
    const held = await grant();

    const authority = createTicketAuthority({
      wallet,
      deployment: d,
      cache,
      sessions,
      registry: chain.registry,
      networkServiceId: d.networkServiceId,
      networkGrant: grant,
      logger: log,
    });
    cleanups.push(() => authority.close());
    let roles = configuredRoles;
    const listen = settings.listen && settings.listen.length > 0 ? settings.listen : LOOPBACK_LISTEN;
    const givenRelays = [...(settings.relays ?? []), ...listen.filter((a) => a.includes('/p2p-circuit'))];
    const reachability = settings.reachability ?? 'auto';
    const keepRelays =
      (roles & ROLE_RELAY) === 0 &&
      reachability !== 'public' &&
      (reachability === 'private' || givenRelays.length > 0);
    const host = await createDibsHost({
      privateKey: wallet.exportPrivateKey(),
      authority,
      listen: listen.filter((a) => !a.includes('/p2p-circuit')),
      ...(settings.announce && settings.announce.length > 0 ? { announce: settings.announce } : {}),
      relay: (roles & ROLE_RELAY) !== 0,
      records: {
        [CHECKPOINT_RECORD_NAMESPACE]: checkpointRecordRules(d.registry),
        [ORG_ADDRESS_NAMESPACE]: orgAddressRecordRules,
      },
      logger: log,
      ...(settings.admissionTimeoutMs !== undefined
        ? { admissionTimeoutMs: settings.admissionTimeoutMs }
        : {}),
    });
    authority.attach(host);
    cleanups.push(() => host.stop());
    let chainTrust: (() => ChainTrustStatus) | undefined;
    if (light) {
      light.follow(host);
      chainTrust = () => light.status();
    } else if (settings.signCheckpoints ?? chain.supervisor !== undefined) {
      const signing = await startCheckpointSigning({
        chain,
        wallet,
        host,
        log,
        recordIntervalMs: settings.checkpointRecordIntervalMs,
      });
      cleanups.push(() => signing.stop());
      chainTrust = () => signing.status();
    }
    if ((roles & ROLE_RELAY) !== 0 && settings.tunnelRelay !== false) {
      // The tunnel's relayed data channel: NATed pairs splice sealed records through this node
      // instead of carrying bulk data on the circuit-relay stream.
      const tunnelRelay = await TunnelRelay.start({ host, logger: log.child('tunnel-relay') });
      cleanups.push(() => tunnelRelay.stop());
    }

    if (keepRelays) {
      host.relays.start({
        relays: givenRelays,
        provider: chainRelayProvider(chain, wallet.address),
        ...(settings.relayCount !== undefined ? { target: settings.relayCount } : {}),
      });
      cleanups.push(() => host.relays.stop());
    }

    // The service-host bit as the chain has it until the hosted services are known (below): a restart
    // of a node that hosts services does not clear it and set it again.
    roles = await registerNode(chain, wallet, host, roles, log, ROLE_SERVICE_HOST);
    if (settings.operator) await approveBootstrap(chain, wallet.address as Address, log);

    const own = host.peerId.toString();
    const joined = await joinNetwork(host, {
      peers: settings.bootstrap ?? [],
      provider: async () => {
        const list = await chain.registry.getBootstrapList();
        return list
          .filter((n) => n.address.toLowerCase() !== wallet.address.toLowerCase())
          .flatMap((n) => n.multiaddrs);
      },
      timeoutMs: BOOTSTRAP_TIMEOUT_MS,
    }).catch((err: Error) => {
      // Not fatal: peers may still dial us, and the record loop retries.
      log.warn('could not join through any bootstrap node', { error: err.message });
      return { admitted: [], failed: [{ addr: '(all)', error: err.message }], routingTableSize: 0 };
    });
    const bootstrap = {
      admitted: joined.admitted.map((p) => p.toString()),
      failed: joined.failed.filter((f) => !f.addr.includes(own)),
    };
    log.info('network joined', {
      peerId: own,
      bootstrapAdmitted: bootstrap.admitted.length,
      routingTable: joined.routingTableSize,
    });

    // Our own grant revoked on chain: every peer refuses us now, so leave instead of redialing them.
    let leftNetwork: string | undefined;
    let ownGrant = held.grantId;
    const unwatch = cache.subscribe((event) => {
      if (event.type !== 'grantRevoked' || event.grantId !== ownGrant || leftNetwork) return;
      leftNetwork = `network grant ${ownGrant} revoked on chain`;
      log.error('this node left the network: its network grant was revoked on chain', {
        grantId: ownGrant.toString(),
        hint: `ask the network operator, then run: dibs access request ${d.networkServiceId}`,
      });
      void host
        .stop()
        .catch((err: Error) => log.warn('stopping the p2p host failed', { error: err.message }));
    });
    cleanups.push(unwatch);

    const liveness = new Liveness(host, { logger: log, ...settings.liveness });
    liveness.start();
    cleanups.push(() => liveness.stop());

    let recordPublishedAt: string | undefined;
    let recordTimer: NodeJS.Timeout | undefined;
    let stopped = false;
    let publishing = false;
    let publishAgain = false;
    /** The number of hosted services, once the services runtime runs. */
    let hostedCount: (() => number) | undefined;
    /** Sets or clears the service-host role bit on chain to match the hosted services, one update at a time. */
    let roleUpdate: Promise<void> = Promise.resolve();
    const syncServiceHostRole = (): Promise<void> => {
      roleUpdate = roleUpdate.then(async () => {
        if (stopped || hostedCount === undefined) return;
        const hosting = hostedCount() > 0;
        const wanted = hosting || (configuredRoles & ROLE_SERVICE_HOST) !== 0;
        const next = wanted ? roles | ROLE_SERVICE_HOST : roles & ~ROLE_SERVICE_HOST;
        if (next === roles) return;
        try {
          roles = await registerNode(chain, wallet, host, next, log);
        } catch (err) {
          log.warn('could not update the service-host role on chain; retrying with the next record publish', {
            error: (err as Error).message,
          });
        }
      });
      return roleUpdate;
    };
    const services = await startServices({
      host,
      wallet,
      store,
      registry: chain.registry,
      deployment: d,
      cache,
      sessions,
      log: log.child('services'),
      catchUp: async () => {
        await mirror.syncOnce();
      },
      // The hosted set changed: advertise it now rather than at the next periodic republish.
      onHostedChanged: () => {
        if (stopped) return;
        void syncServiceHostRole();
        republish();
      },
    });
    cleanups.push(() => services.stop());
    hostedCount = () => services.hostedIds().length;
    // Our relays changed: the record must list the circuit addresses clients can use now.
    const republish = () => {
      if (stopped) return;
      if (publishing) {
        publishAgain = true;
        return;
      }
      clearTimeout(recordTimer);
      void publish();
    };
    cleanups.push(host.relays.onChange(republish));
    await syncServiceHostRole();
    const publish = async (): Promise<void> => {
      let next = RECORD_REPUBLISH_INTERVAL_MS;
      publishing = true;
      // A role update that failed (chain unreachable) is retried with every republish.
      void syncServiceHostRole();
      try {
        const peers = host.admission.admittedPeers().length;
        // Services of organizations are listed in their own networks, not in the public record.
        await publishNodeRecord(host, { roles, services: services.advertisedIds() });
        recordPublishedAt = new Date().toISOString();
        // Published with no peer, the record sits only here: try again once the network is there.
        if (peers === 0) next = RECORD_RETRY_INTERVAL_MS;
      } catch (err) {
        next = RECORD_RETRY_INTERVAL_MS;
        log.debug('node record publish failed; retrying', { error: (err as Error).message });
      }
      publishing = false;
      if (publishAgain && !stopped) {
        publishAgain = false;
        return publish();
      }
      if (!stopped) {
        recordTimer = setTimeout(() => void publish(), next);
        recordTimer.unref();
      }
    };
    // With no admitted peer (the first node of a network) a DHT put only waits for its query to time
    // out and stores the record here: publish in the background and retry once peers exist.
    if (host.admission.admittedPeers().length > 0) await publish();
    else void publish();
    cleanups.push(() => {
      stopped = true;
      clearTimeout(recordTimer);
    });

    const orgs = new OrgNetworks({
      wallet,
      store,
      chain,
      cache,
      sessions,
      publicHost: host,
      log,
      listen: listen.filter((a) => !a.includes('/p2p-circuit')),
      roles,
      // A node kept off the public network's direct paths is kept off them in its organizations too:
      // it holds reservations there on the organization's own relays (or on those its fleet
      // configuration prefers, in `auto`).
      relayKeeping:
        (roles & ROLE_RELAY) !== 0 || reachability === 'public'
          ? undefined
          : { always: keepRelays, target: settings.relayCount },
      admissionTimeoutMs: settings.admissionTimeoutMs,
    });
    orgNetworks = orgs;
    for (const [orgId, env] of fleetEnv) orgs.applyFleetEnv(orgId, env);
    cleanups.push(() => orgs.stop());
    cleanups.push(
      wireOrgServices({
        orgs,
        services,
        publicHost: host,
        tunnelRelay: (roles & ROLE_RELAY) !== 0 && settings.tunnelRelay !== false,
        log,
      }),
    );
    await orgs.startAll(settings.orgs ?? []);

    return {
      host,
      authority,
      cache,
      sessions,
      mirror,
      fleet,
      chainView,
      liveness,
      get roles() {
        return roles;
      },
      services,
      orgs,
      grant: async () => {
        const g = await grant();
        ownGrant = g.grantId;
        return g;
      },
      status() {
        const peers = new Map<string, PeerStatus>();
        for (const c of host.libp2p.getConnections()) {
          const id = c.remotePeer;
          const key = id.toString();
          if (peers.has(key)) continue;
          peers.set(key, {
            peerId: key,
            admitted: host.admission.isAdmitted(id),
            admittedBy: host.admission.isAdmittedBy(id),
            rttMs: liveness.rtt(id),
            remoteAddrs: host.libp2p
              .getConnections(id)
              .filter((x) => x.status === 'open')
              .map((x) => x.remoteAddr.toString()),
          });
        }
        const list = [...peers.values()];
        return {
          peerId: own,
          multiaddrs: host.multiaddrs().map((a) => a.toString()),
          roles,
          networkServiceId: d.networkServiceId.toString(),
          grantId: ownGrant.toString(),
          admitted: list.filter((p) => p.admitted).length,
          peers: list,
          bootstrap,
          recordPublishedAt,
          relays: { target: keepRelays ? host.relays.target : 0, held: host.relays.held() },
          chainView: { ...lagFields(chainView.status()), reason: chainView.status().reason },
          leftNetwork,
          chainTrust: chainTrust?.() ?? {
            mode: 'full',
            checkpoint: undefined,
            signers: [],
            refusedAnswers: [],
            refusedCount: 0,
            provenItems: 0,
          },
          orgs: orgs.list(),
          orgsLeft: orgs.left(),
          updatedAt: new Date().toISOString(),
        };
      },
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * The relays on chain (Registry entries with the relay role, newest first, not this node), as
 * multiaddrs with `/p2p/<relay>`; read at most every RELAY_LIST_CACHE_MS.
 */
function chainRelayProvider(chain: ChainRuntime, own: string): () => Promise<string[]> {
  let cached: { at: number; addrs: string[] } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < RELAY_LIST_CACHE_MS) return cached.addrs;
    const list = await chain.registry.getRelayList(chain.deployment.deployedAtBlock);
    const addrs = list
      .filter((n) => n.address.toLowerCase() !== own.toLowerCase() && n.peerId.length > 0)
      .flatMap((n) => {
        const id = base58btc.baseEncode(n.peerId);
        return n.multiaddrs.map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${id}`));
      });
    cached = { at: Date.now(), addrs };
    return addrs;
  };
}

/** The multiaddrs worth putting on chain: concrete (not 0.0.0.0), TCP first, within the Registry's limits. */
export function registrableMultiaddrs(host: DibsHost): string[] {
  return host
    .multiaddrs()
    .map((a) => a.toString())
    .filter((a) => !a.includes('/ip4/0.0.0.0/') && !a.includes('/p2p-circuit'))
    .filter((a) => new TextEncoder().encode(a).length <= MAX_REGISTERED_MULTIADDR_BYTES)
    .sort((a, b) => Number(a.includes('/ws')) - Number(b.includes('/ws')) || a.localeCompare(b))
    .slice(0, MAX_REGISTERED_MULTIADDRS);
}

/**
 * Registers the node with its PeerId, roles and multiaddrs, or updates the entry when they changed;
 * the role bits in `keep` stay as the chain has them. Returns the roles registered.
 */
async function registerNode(
  chain: ChainRuntime,
  wallet: Wallet,
  host: DibsHost,
  wantedRoles: number,
  log: Logger,
  keep = 0,
): Promise<number> {
  const multiaddrs = registrableMultiaddrs(host);
  const current = await chain.registry.getNode(wallet.address as Address);
  const roles = current?.active ? (wantedRoles & ~keep) | (current.roles & keep) : wantedRoles;
  if (!current?.active) {
    await chain.registry.registerNode({
      peerId: peerIdFromWallet(wallet).toMultihash().bytes,
      roles,
      multiaddrs,
    });
    log.info('node registered on chain', { roles, multiaddrs: multiaddrs.length });
    return roles;
  }
  const same =
    current.roles === roles &&
    current.multiaddrs.length === multiaddrs.length &&
    current.multiaddrs.every((m, i) => m === multiaddrs[i]);
  if (!same) {
    await chain.registry.updateNode({ roles, multiaddrs });
    log.info('node entry updated on chain', { roles, multiaddrs: multiaddrs.length });
    if (current.roles !== roles)
      log.info('roles changed', { roles: roleList(roles), previous: roleList(current.roles) });
  }
  return roles;
}

/** Role bits as names, e.g. `bootstrap,relay` (or `none`), for log lines. */
function roleList(bits: number): string {
  const names = [
    [ROLE_BOOTSTRAP, 'bootstrap'],
    [ROLE_RELAY, 'relay'],
    [ROLE_SERVICE_HOST, 'service-host'],
  ] as const;
  return (
    names
      .filter(([bit]) => (bits & bit) !== 0)
      .map(([, n]) => n)
      .join(',') || 'none'
  );
}

/** The network operator (Registry owner) approves its own node as a bootstrap node. */
async function approveBootstrap(chain: ChainRuntime, address: Address, log: Logger): Promise<void> {
  const listed = await chain.registry.getBootstrapNodes();
  if (listed.some((a) => a.toLowerCase() === address.toLowerCase())) return;
  await chain.registry.setBootstrap(address, true);
  log.info('approved this node as a bootstrap node', { address });
}
