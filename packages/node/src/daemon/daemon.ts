import { deploymentContracts } from '@dibs/chain';
import { encryptionKeyFromWallet, formatDid, peerIdFromWallet, type Wallet } from '@dibs/core';
import { createNodeMetrics } from '@dibs/observe';
import { AuditLog, openStore, type Store } from '@dibs/store';
import type { ApiSettings, MountedApi } from './api-mount.ts';
import { auditTrail } from './audit-trail.ts';
import { type ChainRuntime, type ChainSettings, startChain } from './chain-runtime.ts';
import { STATUS_WRITE_INTERVAL_MS } from './constants.ts';
import { LogRing, type Logger } from './log.ts';
import {
  encodeJoinBundle,
  JOIN_BUNDLE_VERSION,
  MAX_BUNDLE_BOOTSTRAP,
  MAX_BUNDLE_RPC_URLS,
  reachableRpcUrls,
} from './join-bundle.ts';
import {
  type NetworkRuntime,
  type NetworkStatus,
  type P2pSettings,
  registrableMultiaddrs,
  startNetwork,
} from './network.ts';
import { type Operations, startOperations } from './operations.ts';
import { ROLE_BOOTSTRAP } from '../p2p/constants.ts';
import { base58btc } from 'multiformats/bases/base58';
import { type RuntimeInfo, runtimeFileUpdater, writeRuntimeInfo } from './runtime-file.ts';

export interface DaemonOptions {
  dataDir: string;
  databasePath: string;
  runtimePath: string;
  chain: ChainSettings;
  wallet: Wallet;
  log: Logger;
  /** Register (or update) the identity's encryption key on chain when it is missing or stale. */
  registerIdentity?: boolean;
  /**
   * Run the p2p node too: chain mirror, network grant, admission-gated libp2p host, Registry node
   * entry, bootstrap join, DHT record, liveness. Off unless given (`dibs up` turns it on). On a chain
   * this node deployed (embedded), `operator` defaults to true: the node approves itself as bootstrap.
   */
  p2p?: P2pSettings | false | undefined;
  /**
   * The management API and web UI on 127.0.0.1 (default on, port 0 = the OS picks); false turns it
   * off. Its token is kept in `<dataDir>/api-token`.
   */
  api?: ApiSettings | false | undefined;
  /** The audit trail: days of records kept (default DEFAULT_AUDIT_RETENTION_DAYS). */
  audit?: { retentionDays?: number | undefined } | undefined;
}

/** What `dibs up` prints and `--json` returns. */
export interface DaemonInfo {
  address: string;
  did: string;
  peerId: string;
  encryptionKey: string;
  chain: {
    chainId: number;
    rpcUrl: string;
    embedded: boolean;
    anvilPid: number | undefined;
    deployment: 'deployed' | 'reused' | 'configured' | string;
    contracts: Record<string, string>;
    networkServiceId: string;
    deployedAtBlock: string;
  };
  identity: { registered: boolean; action: 'registered' | 'updated' | 'unchanged' | 'skipped' };
  /**
   * One line for `dibs join` on another machine: chain id, RPC URLs, contracts, network service id,
   * bootstrap addresses (join-bundle.ts).
   */
  joinBundle?: string | undefined;
  /** The p2p node, when it runs: PeerId, multiaddrs, admitted peers. */
  network?: NetworkStatus | undefined;
  /** The management API and UI; `uiUrl` carries the token in its fragment (print it, never log it). */
  api?: { url: string; uiUrl: string } | undefined;
  dataDir: string;
}

export interface Daemon {
  readonly info: DaemonInfo;
  readonly chain: ChainRuntime;
  readonly store: Store;
  /** The network part, when started with `p2p`. */
  readonly network: NetworkRuntime | undefined;
  /** The management API, unless started with `api: false`. */
  readonly api: MountedApi | undefined;
  stop(): Promise<void>;
}

/** Starts a DIBS node: chain (embedded or external), contracts, identity registration. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { wallet, log } = opts;
  const startedAt = Date.now();
  const store = openStore(opts.databasePath);
  let chain: ChainRuntime | undefined;
  let network: NetworkRuntime | undefined;
  let api: MountedApi | undefined;
  let operations: Operations | undefined;
  let trail: ReturnType<typeof auditTrail> | undefined;
  try {
    chain = await startChain({ dataDir: opts.dataDir, settings: opts.chain, wallet, store, log });
    const encryption = encryptionKeyFromWallet(wallet);
    const encryptionKeyHex = `0x${Buffer.from(encryption.publicKey).toString('hex')}`;
    let action: DaemonInfo['identity']['action'] = 'skipped';
    if (opts.registerIdentity !== false)
      action = await ensureIdentity(chain, wallet, encryption.publicKey, log);
    const registered = action !== 'skipped' || (await chain.registry.getIdentity(wallet.address)) !== null;
    const d = chain.deployment;
    if (opts.p2p) {
      const operator = opts.p2p.operator ?? (chain.supervisor !== undefined && d.source === 'deployed');
      network = await startNetwork({ chain, store, wallet, log, settings: { ...opts.p2p, operator } });
    }
    const did = formatDid(wallet.address, d.chainId);
    const metrics = createNodeMetrics();
    const audit = new AuditLog(store, { retentionDays: opts.audit?.retentionDays });
    trail = auditTrail(audit, store, log.child('audit'));
    operations = startOperations({ chain, network, log, sinks: { metrics, record: trail.record } });
    trail.backfill();
    const ops = { metrics, ready: operations.ready };
    if (opts.api !== false) {
      const net = network;
      // Loaded only when the API is on: Fastify and the route schemas stay out of a --no-api node.
      const { mountApi } = await import('./api-mount.ts');
      api = await mountApi({
        dataDir: opts.dataDir,
        settings: opts.api ?? {},
        log,
        deps: {
          wallet,
          did,
          chain,
          store,
          network: net,
          services: () => net?.services,
          logs: log.ring ?? new LogRing(),
          startedAt,
          operations: ops,
          audit,
        },
      });
    }
    const info: DaemonInfo = {
      address: wallet.address,
      did,
      peerId: peerIdFromWallet(wallet).toString(),
      encryptionKey: encryptionKeyHex,
      chain: {
        chainId: d.chainId,
        rpcUrl: chain.clients.rpcUrl,
        embedded: chain.supervisor !== undefined,
        anvilPid: chain.supervisor?.pid,
        deployment: chain.deploymentAction,
        contracts: deploymentContracts(d),
        networkServiceId: d.networkServiceId.toString(),
        deployedAtBlock: d.deployedAtBlock.toString(),
      },
      identity: { registered, action },
      network: network?.status(),
      joinBundle: await joinBundleOf(chain, opts.chain, network).catch((err: Error) => {
        log.warn('could not make the join bundle', { error: err.message });
        return undefined;
      }),
      api: api ? { url: api.url, uiUrl: api.uiUrl } : undefined,
      dataDir: opts.dataDir,
    };
    const runtime: RuntimeInfo = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      address: wallet.address,
      chainId: d.chainId,
      rpcUrl: chain.clients.rpcUrl,
      embeddedChain: chain.supervisor !== undefined,
      anvilPid: chain.supervisor?.pid,
      api: api ? { url: api.url, tokenFile: api.tokenFile } : undefined,
    };
    const net = network;
    const mounted = api;
    const runningOps = operations;
    const current = (): RuntimeInfo => (net ? { ...runtime, p2p: net.status() } : runtime);
    const first = current();
    try {
      writeRuntimeInfo(opts.runtimePath, first);
    } catch (err) {
      log.warn('could not write the runtime file', { error: err as Error });
    }
    const runtimeFile = runtimeFileUpdater(opts.runtimePath, first);
    const statusTimer = net
      ? setInterval(() => runtimeFile.update(current()), STATUS_WRITE_INTERVAL_MS)
      : undefined;
    statusTimer?.unref();
    const running = chain;
    let stopped = false;
    return {
      info,
      chain: running,
      store,
      network: net,
      api: mounted,
      async stop() {
        if (stopped) return;
        stopped = true;
        clearInterval(statusTimer);
        await runtimeFile.remove();
        await mounted?.close();
        runningOps.stop();
        trail?.stop();
        await net?.stop();
        await running.stop();
        store.close();
        log.info('stopped');
      },
    };
  } catch (err) {
    await api?.close();
    operations?.stop();
    trail?.stop();
    await network?.stop();
    await chain?.stop();
    store.close();
    throw err;
  }
}

/** The join bundle of this node's network, as other machines can use it. */
async function joinBundleOf(
  chain: ChainRuntime,
  settings: ChainSettings,
  network: NetworkRuntime | undefined,
): Promise<string> {
  const d = chain.deployment;
  const sup = chain.supervisor;
  const rpc = sup
    ? reachableRpcUrls(sup.host, sup.port)
    : [...new Set([chain.clients.rpcUrl, ...(settings.rpcUrls ?? [])])];
  const bootstrap: string[] = [];
  const add = (a: string, peerId: string) => {
    const full = a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`;
    if (!bootstrap.includes(full) && !a.includes('/p2p-circuit')) bootstrap.push(full);
  };
  if (network && (network.roles & ROLE_BOOTSTRAP) !== 0) {
    for (const a of registrableMultiaddrs(network.host)) add(a, network.host.peerId.toString());
  }
  for (const n of await chain.registry.getBootstrapList()) {
    for (const a of n.multiaddrs) add(a, base58btc.baseEncode(n.peerId));
  }
  // Loopback addresses only help on this machine: list them last.
  const local = (a: string) => /\/ip4\/127\.|\/ip6\/::1\//.test(a);
  bootstrap.sort((a, b) => Number(local(a)) - Number(local(b)));
  return encodeJoinBundle({
    v: JOIN_BUNDLE_VERSION,
    chainId: d.chainId,
    rpc: rpc.slice(0, MAX_BUNDLE_RPC_URLS),
    contracts: deploymentContracts(d),
    bootstrap: bootstrap.slice(0, MAX_BUNDLE_BOOTSTRAP),
  });
}

/** Registers the identity's encryption key, or updates it when the chain holds another one. */
async function ensureIdentity(
  chain: ChainRuntime,
  wallet: Wallet,
  encryptionKey: Uint8Array,
  log: Logger,
): Promise<'registered' | 'updated' | 'unchanged'> {
  const current = await chain.registry.getIdentity(wallet.address);
  if (current === null) {
    await chain.registry.registerIdentity(encryptionKey);
    log.info('identity registered', { address: wallet.address });
    return 'registered';
  }
  if (Buffer.compare(Buffer.from(current.encryptionKey), Buffer.from(encryptionKey)) !== 0) {
    await chain.registry.updateEncryptionKey(encryptionKey);
    log.info('encryption key updated', { address: wallet.address });
    return 'updated';
  }
  return 'unchanged';
}
