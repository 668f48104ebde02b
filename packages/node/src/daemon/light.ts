/**
 * Wiring of @dibs/light into the daemon. A full node (one that runs its chain, or is told it fully
 * trusts it) signs checkpoints of it and serves them with node-set proofs on /dibs/checkpoint/1.0.
 * A light node pins a genesis checkpoint, follows the checkpoints its trusted full nodes sign, and
 * feeds the access cache only with state proven against the newest accepted one; the chain mirror's
 * events are hints.
 */
import {
  buildNodeSetProof,
  CHECKPOINT_RECORD_INTERVAL_MS,
  CHECKPOINT_RECORD_TIMEOUT_MS,
  checkpointRecordKey,
  decodeCheckpointRecord,
  encodeCheckpointRecord,
  type SignedCheckpoint,
  type Checkpoint,
  CheckpointSigner,
  type CheckpointSource,
  CheckpointStore,
  checkpointToJson,
  LightClient,
  ProvenStateFeeder,
  type RefusedAnswer,
  VerifiedReader,
} from '@dibs/light';
import type { GrantCache, Wallet } from '@dibs/core';
import { peerIdFromString } from '@libp2p/peer-id';
import { type Address, getAddress } from 'viem';
import { cachedPeerIdToAddress } from '@dibs/core';
import { requestCheckpoint, requestNodeSetProof, serveCheckpoints } from '../p2p/checkpoint-protocol.ts';
import type { DibsHost } from '../p2p/host.ts';
import type { ChainRuntime } from './chain-runtime.ts';
import { DaemonError } from './errors.ts';
import type { Logger } from './log.ts';

/** Light mode (config `node.light`, `dibs up --light`, `DIBS_LIGHT=1`). */
export interface LightSettings {
  enabled: boolean;
  /** The pinned genesis checkpoint (config `node.light.checkpoint`; a join bundle can carry it). */
  checkpoint?: Checkpoint | undefined;
  /** The full nodes trusted at that checkpoint (addresses). */
  signers?: readonly string[] | undefined;
  /** Share of the trusted set that must be exceeded; default 0.5 (more than half). */
  threshold?: number | undefined;
  /** RPC URLs proofs are read from, tried in turn; default the chain's RPC URL. */
  rpcUrls?: readonly string[] | undefined;
}

/** What status shows about how this node trusts its chain. */
export interface ChainTrustStatus {
  mode: 'full' | 'light';
  /** Light: the newest accepted checkpoint; full: the newest one this node signed. */
  checkpoint: { chainId: number; number: string; blockHash: string; stateRoot: string } | undefined;
  /** Light: the trusted signers that carried it; full: this node. */
  signers: string[];
  /** Light: the full-node set trusted now, and how many must sign. */
  nodeSet?: string[] | undefined;
  required?: number | undefined;
  acceptedAt?: string | undefined;
  /** Light: the last checkpoint refused, and why. */
  lastRefusal?: string | undefined;
  /** Light: RPC answers refused (newest last). */
  refusedAnswers: RefusedAnswer[];
  refusedCount: number;
  provenItems: number;
}

/** The light side of a daemon. */
export interface LightChain {
  readonly client: LightClient;
  readonly feeder: ProvenStateFeeder;
  hint(touched: { grants?: bigint[]; services?: bigint[]; accounts?: string[] }): void;
  /** Starts following checkpoints over `host`'s connections to the trusted full nodes. */
  follow(host: DibsHost): void;
  status(): ChainTrustStatus;
  stop(): Promise<void>;
}

/** Sets up a light node's checkpoint store, verified reader and proven-state feeder (before the mirror starts). */
export function createLightChain(params: {
  chain: ChainRuntime;
  settings: LightSettings;
  cache: GrantCache;
  wallet: Wallet;
  log: Logger;
}): LightChain {
  const { chain, settings, cache, wallet } = params;
  const log = params.log.child('light');
  const d = chain.deployment;
  if (!settings.checkpoint || !settings.signers || settings.signers.length === 0) {
    throw new DaemonError(
      'BAD_P2P_CONFIG',
      'light mode needs a pinned checkpoint and the full nodes that sign checkpoints',
      'set node.light.checkpoint ({chainId, number, blockHash, stateRoot}) and node.light.signers from a full node of this network (its status shows both)',
    );
  }
  if (settings.checkpoint.chainId !== d.chainId) {
    throw new DaemonError(
      'BAD_P2P_CONFIG',
      `the pinned checkpoint is for chain ${settings.checkpoint.chainId}, the node is on ${d.chainId}`,
      'pin a checkpoint of this chain',
    );
  }
  const store = new CheckpointStore({
    genesis: settings.checkpoint,
    signers: settings.signers,
    registry: d.registry,
    ...(settings.threshold !== undefined ? { threshold: settings.threshold } : {}),
  });
  const rpcUrls =
    settings.rpcUrls && settings.rpcUrls.length > 0 ? [...settings.rpcUrls] : [chain.clients.rpcUrl];
  const reader = new VerifiedReader({
    rpcUrls,
    deployment: d,
    checkpoint: () => store.latest().checkpoint,
    onRefused: (r) =>
      log.warn('refused an RPC answer that does not verify', {
        url: r.url,
        read: r.what,
        code: r.code,
        reason: r.reason,
      }),
  });
  const own = getAddress(wallet.address);
  const feeder = new ProvenStateFeeder({
    reader,
    target: cache,
    relevant: (s) => s.serviceId === d.networkServiceId || s.host === own,
    onError: (err) =>
      log.warn('proving chain state failed; retrying at the next checkpoint', { error: err.message }),
  });
  let host: DibsHost | undefined;
  const toAddress = cachedPeerIdToAddress();
  /** `signer`'s newest checkpoint from the DHT (`/dibs-checkpoint/<address>`), verified like any answer. */
  const fromDht = async (h: DibsHost, signer: Address): Promise<SignedCheckpoint | undefined> => {
    const key = checkpointRecordKey(signer);
    let best: SignedCheckpoint | undefined;
    for await (const event of h.dht.get(key, { signal: AbortSignal.timeout(CHECKPOINT_RECORD_TIMEOUT_MS) })) {
      if (event.name !== 'PEER_RESPONSE' || !event.record) continue;
      const s = await decodeCheckpointRecord(key, event.record.value, d.registry).catch((err: Error) => {
        log.debug('checkpoint record refused', { signer, error: err.message });
        return undefined;
      });
      if (s && s.signer === signer && (!best || s.checkpoint.number > best.checkpoint.number)) best = s;
    }
    return best;
  };
  const dhtFetch = (h: DibsHost, signer: Address) => async (n?: bigint) => {
    const s = await fromDht(h, signer);
    return n === undefined || s?.checkpoint.number === n ? s : undefined;
  };
  const sources = (): CheckpointSource[] => {
    if (!host) return [];
    const h = host;
    const out = new Map<string, CheckpointSource>();
    const trusted = store.trusted();
    const trustedSet = new Set<string>(trusted);
    for (const c of h.libp2p.getConnections()) {
      const key = c.remotePeer.toString();
      const address = toAddress(c.remotePeer.toMultihash().bytes);
      if (!address || out.has(key)) continue;
      const peer = peerIdFromString(key);
      const a = getAddress(address) as Address;
      // A trusted full node that does not answer /dibs/checkpoint/1.0: its DHT record instead.
      const viaDht = trustedSet.has(a) ? dhtFetch(h, a) : undefined;
      out.set(key, {
        address: a,
        fetch: (n?: bigint) =>
          viaDht ? requestCheckpoint(h, peer, n).catch(() => viaDht(n)) : requestCheckpoint(h, peer, n),
        nodeSetProof: (n: bigint) => requestNodeSetProof(h, peer, n),
      });
    }
    // Trusted full nodes not connected: their newest checkpoint from the DHT (verified by the store).
    const connected = new Set([...out.values()].map((x) => x.address));
    // Only when too few trusted full nodes are connected: a DHT lookup per signer costs queries.
    const reachable = trusted.filter((a) => connected.has(a)).length;
    for (const signer of reachable >= store.required() ? [] : trusted) {
      if (connected.has(signer)) continue;
      out.set(signer, { address: signer, fetch: dhtFetch(h, signer) });
    }
    return [...out.values()];
  };
  const client = new LightClient({
    store,
    reader,
    sources,
    onAccepted: (a) => {
      log.info('checkpoint accepted', {
        number: a.checkpoint.number.toString(),
        signers: a.signers.length,
        nodeSet: a.nodeSet.length,
      });
      void feeder.refreshAll();
    },
    onRefused: (err) => log.warn('checkpoint refused', { code: err.code, reason: err.message }),
  });
  let flushTimer: NodeJS.Timeout | undefined;
  return {
    client,
    feeder,
    hint(touched) {
      feeder.hint(touched);
      // Events arrive in bursts: prove them together.
      flushTimer ??= setTimeout(() => {
        flushTimer = undefined;
        void feeder.flush();
      }, 0);
    },
    follow(h) {
      host = h;
      client.start();
    },
    status() {
      const latest = store.latest();
      return {
        mode: 'light',
        checkpoint: checkpointToJson(latest.checkpoint),
        signers: latest.signers,
        nodeSet: latest.nodeSet,
        required: store.required(),
        acceptedAt: new Date(latest.acceptedAt).toISOString(),
        lastRefusal: client.lastError?.message,
        refusedAnswers: reader.refusals().slice(-10),
        refusedCount: reader.refusedCount,
        provenItems: feeder.proven,
      };
    },
    async stop() {
      clearTimeout(flushTimer);
      await client.stop();
    },
  };
}

/** A full node's checkpoint signing and serving; returns its status and a stop function. */
export async function startCheckpointSigning(params: {
  chain: ChainRuntime;
  wallet: Wallet;
  host: DibsHost;
  log: Logger;
  /** How often the newest checkpoint is put into the DHT, ms; default CHECKPOINT_RECORD_INTERVAL_MS. */
  recordIntervalMs?: number | undefined;
}): Promise<{ status(): ChainTrustStatus; stop(): void }> {
  const { chain, wallet, host } = params;
  const log = params.log.child('checkpoints');
  const d = chain.deployment;
  const signer = new CheckpointSigner({
    key: wallet,
    chainId: d.chainId,
    registry: d.registry,
    readBlock: async (at) => {
      const b = await chain.clients.publicClient.getBlock(
        at === 'latest' ? { blockTag: 'latest' } : { blockNumber: at },
      );
      return b.hash ? { number: b.number, hash: b.hash, stateRoot: b.stateRoot } : null;
    },
    onError: (err) => log.debug('signing a checkpoint failed', { error: err.message }),
  });
  await serveCheckpoints(host, {
    signer,
    nodeSetProof: (n) => buildNodeSetProof(chain.clients.rpcUrl, d.registry, n),
    logger: log,
  });
  signer.start();
  // The newest signed checkpoint also goes into the DHT, for light nodes not connected to this node.
  const putRecord = async () => {
    const latest = signer.latest();
    if (!latest || host.admission.admittedPeers().length === 0) return;
    for await (const _ of host.dht.put(checkpointRecordKey(latest.signer), encodeCheckpointRecord(latest), {
      signal: AbortSignal.timeout(CHECKPOINT_RECORD_TIMEOUT_MS * 6),
    })) {
      // drain the query
    }
  };
  const recordTimer = setInterval(
    () =>
      void putRecord().catch((err: Error) =>
        log.debug('checkpoint record put failed', { error: err.message }),
      ),
    params.recordIntervalMs ?? CHECKPOINT_RECORD_INTERVAL_MS,
  );
  recordTimer.unref();
  return {
    status() {
      const latest = signer.latest();
      return {
        mode: 'full',
        checkpoint: latest ? checkpointToJson(latest.checkpoint) : undefined,
        signers: [wallet.address],
        refusedAnswers: [],
        refusedCount: 0,
        provenItems: 0,
      };
    },
    stop: () => {
      clearInterval(recordTimer);
      signer.stop();
    },
  };
}
