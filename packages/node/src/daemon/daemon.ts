import { encryptionKeyFromWallet, formatDid, peerIdFromWallet, type Wallet } from '@dibs/core';
import { openStore, type Store } from '@dibs/store';
import { type ChainRuntime, type ChainSettings, startChain } from './chain-runtime.ts';
import type { Logger } from './log.ts';
import { removeRuntimeInfo, writeRuntimeInfo } from './runtime-file.ts';

export interface DaemonOptions {
  dataDir: string;
  databasePath: string;
  runtimePath: string;
  chain: ChainSettings;
  wallet: Wallet;
  log: Logger;
  /** Register (or update) the identity's encryption key on chain when it is missing or stale. */
  registerIdentity?: boolean;
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
  dataDir: string;
}

export interface Daemon {
  readonly info: DaemonInfo;
  readonly chain: ChainRuntime;
  readonly store: Store;
  stop(): Promise<void>;
}

/** Starts a DIBS node: chain (embedded or external), contracts, identity registration. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { wallet, log } = opts;
  const store = openStore(opts.databasePath);
  let chain: ChainRuntime | undefined;
  try {
    chain = await startChain({ dataDir: opts.dataDir, settings: opts.chain, wallet, store, log });
    const encryption = encryptionKeyFromWallet(wallet);
    const encryptionKeyHex = `0x${Buffer.from(encryption.publicKey).toString('hex')}`;
    let action: DaemonInfo['identity']['action'] = 'skipped';
    if (opts.registerIdentity !== false)
      action = await ensureIdentity(chain, wallet, encryption.publicKey, log);
    const registered = action !== 'skipped' || (await chain.registry.getIdentity(wallet.address)) !== null;
    const d = chain.deployment;
    const info: DaemonInfo = {
      address: wallet.address,
      did: formatDid(wallet.address, d.chainId),
      peerId: peerIdFromWallet(wallet).toString(),
      encryptionKey: encryptionKeyHex,
      chain: {
        chainId: d.chainId,
        rpcUrl: chain.clients.rpcUrl,
        embedded: chain.supervisor !== undefined,
        anvilPid: chain.supervisor?.pid,
        deployment: chain.deploymentAction,
        contracts: {
          token: d.token,
          registry: d.registry,
          services: d.services,
          accessGrants: d.accessGrants,
          organizations: d.organizations,
        },
        networkServiceId: d.networkServiceId.toString(),
        deployedAtBlock: d.deployedAtBlock.toString(),
      },
      identity: { registered, action },
      dataDir: opts.dataDir,
    };
    writeRuntimeInfo(opts.runtimePath, {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      address: wallet.address,
      chainId: d.chainId,
      rpcUrl: chain.clients.rpcUrl,
      embeddedChain: chain.supervisor !== undefined,
      anvilPid: chain.supervisor?.pid,
    });
    const running = chain;
    let stopped = false;
    return {
      info,
      chain: running,
      store,
      async stop() {
        if (stopped) return;
        stopped = true;
        removeRuntimeInfo(opts.runtimePath);
        await running.stop();
        store.close();
        log.info('stopped');
      },
    };
  } catch (err) {
    await chain?.stop();
    store.close();
    throw err;
  }
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
