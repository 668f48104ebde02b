import {
  AnvilSupervisor,
  type ChainClients,
  createChainClients,
  type Deployment,
  ensureDeployment,
  RegistryReader,
  RegistryWriter,
} from '@dibs/chain';
import { NETWORK_SERVICE_TYPE } from '@dibs/core';
import type { Wallet } from '@dibs/core';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '@dibs/store';
import { DEV_CHAIN_FUNDING_WEI, MAX_NETWORK_SERVICE_PROBES } from './constants.ts';
import { DaemonError } from './errors.ts';
import type { Logger } from './log.ts';

/** How the node reaches its chain. */
export interface ChainSettings {
  mode: 'embedded' | 'rpc';
  rpcUrl?: string | undefined;
  /** More RPC URLs of the same chain, tried in order when `rpcUrl` does not answer at start. */
  rpcUrls?: readonly string[] | undefined;
  /** Embedded chain: the address anvil listens on (default 127.0.0.1; 0.0.0.0 = every interface). */
  host?: string | undefined;
  /** Embedded chain: its port; default the one it had last time (kept in the data dir), else any. */
  port?: number | undefined;
  chainId: number;
  /** Contract addresses on an external chain. */
  contracts?: Record<string, string> | undefined;
}

/** A running connection to the chain: the embedded anvil (when used), clients, and the deployment. */
export interface ChainRuntime {
  clients: ChainClients;
  deployment: Deployment;
  registry: RegistryWriter;
  supervisor: AnvilSupervisor | undefined;
  deploymentAction: string;
  stop(): Promise<void>;
}

/** Enough ether for a dev wallet on the embedded chain to pay for years of transactions. */
const EMBEDDED_FUNDING_WEI = 10n ** 22n;

/** Starts (embedded) or reaches (rpc) the chain, then makes sure the DIBS contracts are there. */
export async function startChain(params: {
  dataDir: string;
  settings: ChainSettings;
  wallet: Wallet;
  store: Store;
  log: Logger;
}): Promise<ChainRuntime> {
  const { settings, wallet, store, log } = params;
  let supervisor: AnvilSupervisor | undefined;
  let rpcUrl = settings.rpcUrl;
  if (settings.mode === 'embedded') {
    const chainLog = log.child('anvil');
    const portFile = join(params.dataDir, CHAIN_PORT_FILE);
    const kept = settings.port ?? readKeptPort(portFile);
    const make = (port: number | undefined) =>
      new AnvilSupervisor({
        dataDir: params.dataDir,
        chainId: settings.chainId,
        ...(settings.host ? { host: settings.host } : {}),
        ...(port ? { port } : {}),
        onEvent: ({ message, ...fields }) => {
          if (fields.state === 'restarting' || fields.state === 'failed') chainLog.warn(message, fields);
          else chainLog.info(message, fields);
        },
      });
    supervisor = make(kept);
    try {
      await supervisor.start();
    } catch (err) {
      // The port it had last time is taken now: any port beats not starting (the bundle says which).
      if (kept === undefined || settings.port !== undefined) throw err;
      chainLog.warn('the chain port of the last run is taken; using another', {
        port: kept,
        error: (err as Error).message,
      });
      supervisor = make(undefined);
      await supervisor.start();
    }
    writeFileSync(portFile, `${supervisor.port}\n`, { mode: 0o644 });
    rpcUrl = supervisor.rpcUrl;
  }
  const urls = [...new Set([...(rpcUrl ? [rpcUrl] : []), ...(supervisor ? [] : (settings.rpcUrls ?? []))])];
  if (urls.length === 0) throw new Error('no RPC URL configured; set chain.rpcUrl or use the embedded chain');
  try {
    const clients = await firstReachable(urls, settings.chainId, wallet, log);
    if (supervisor) {
      // The embedded chain is a dev chain: give the node's own wallet gas money.
      await setDevBalance(clients, wallet.address, EMBEDDED_FUNDING_WEI);
    } else {
      await fundOnDevChain(clients, wallet.address, log);
    }
    const configured = await configuredDeployment(clients, settings.contracts, log);
    const result = await ensureDeployment({
      store,
      clients,
      chainId: settings.chainId,
      ...(configured ? { configured } : {}),
      log: (m) => log.info(m),
    });
    const { action, ...deployment } = result;
    return {
      clients,
      deployment,
      registry: new RegistryWriter(clients, deployment),
      supervisor,
      deploymentAction: action,
      stop: async () => {
        await supervisor?.stop();
      },
    };
  } catch (err) {
    await supervisor?.stop();
    throw err;
  }
}

/** File in the data dir keeping the embedded chain's port, so its RPC URL outlives a restart. */
export const CHAIN_PORT_FILE = 'chain-port';

function readKeptPort(path: string): number | undefined {
  try {
    const port = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(port) && port > 0 && port <= 65535 ? port : undefined;
  } catch {
    return undefined;
  }
}

/** Clients on the first of `urls` that answers with the right chain id; says which failed and why. */
async function firstReachable(urls: string[], chainId: number, wallet: Wallet, log: Logger) {
  const errors: string[] = [];
  for (const url of urls) {
    try {
      const clients = await createChainClients({
        rpcUrl: url,
        chainId,
        account: wallet.exportPrivateKeyHex(),
      });
      if (errors.length > 0) log.warn('using a fallback RPC URL', { rpcUrl: url, failed: errors.join('; ') });
      return clients;
    } catch (err) {
      if (urls.length === 1) throw err;
      errors.push(`${url}: ${(err as Error).message}`);
    }
  }
  throw new DaemonError(
    'CHAIN_UNREACHABLE',
    `none of the chain's RPC URLs answered: ${errors.join('; ')}`,
    'check the chain node is running and reachable from here, or give another URL with --rpc-url',
  );
}

async function setDevBalance(clients: ChainClients, address: string, wei: bigint): Promise<void> {
  await clients.publicClient.request({
    method: 'anvil_setBalance' as 'eth_chainId',
    params: [address, `0x${wei.toString(16)}`] as unknown as undefined,
  });
}

/**
 * A node joining a development chain (anvil, e.g. another node's embedded chain) over RPC with an
 * empty wallet funds itself there, so joining stays one command. Real chains are left alone: the
 * first transaction then fails with the chain's own "insufficient funds".
 */
async function fundOnDevChain(clients: ChainClients, address: string, log: Logger): Promise<void> {
  const balance = await clients.publicClient.getBalance({ address: address as `0x${string}` });
  if (balance > 0n) return;
  let version = '';
  try {
    version = String(await clients.publicClient.request({ method: 'web3_clientVersion' }));
  } catch {}
  if (!/^anvil\//i.test(version)) {
    log.warn('this wallet holds no ether on the chain; fund it before the node can register', { address });
    return;
  }
  await setDevBalance(clients, address, DEV_CHAIN_FUNDING_WEI);
  log.info('funded this wallet on the development chain', { address, client: version });
}

const CONTRACT_NAMES = ['token', 'registry', 'services', 'accessGrants', 'organizations'] as const;

async function configuredDeployment(
  clients: ChainClients,
  contracts: Record<string, string> | undefined,
  log: Logger,
) {
  if (!contracts) return undefined;
  const missing = CONTRACT_NAMES.filter((k) => contracts[k] === undefined);
  if (missing.length > 0) {
    throw new DaemonError(
      'BAD_CONTRACTS',
      `the configured contracts lack ${missing.join(', ')}`,
      'list every contract address (chain.contracts in the config, or DIBS_CONTRACTS)',
    );
  }
  const addresses = {
    token: contracts.token as `0x${string}`,
    registry: contracts.registry as `0x${string}`,
    services: contracts.services as `0x${string}`,
    accessGrants: contracts.accessGrants as `0x${string}`,
    organizations: contracts.organizations as `0x${string}`,
  };
  const networkServiceId =
    contracts.networkServiceId !== undefined
      ? parseServiceId(contracts.networkServiceId)
      : await findNetworkService(clients, addresses, log);
  return { ...addresses, networkServiceId };
}

function parseServiceId(text: string): bigint {
  if (!/^[1-9][0-9]{0,76}$/.test(text)) {
    throw new DaemonError(
      'BAD_CONTRACTS',
      `networkServiceId "${text}" is not a positive integer`,
      'give the id of the network service as a decimal number',
    );
  }
  return BigInt(text);
}

/**
 * The network service of a deployment when only the addresses are configured: the first active
 * "network" service, which the deployer publishes right after deploying the contracts.
 */
async function findNetworkService(
  clients: ChainClients,
  addresses: ConstructorParameters<typeof RegistryReader>[1],
  log: Logger,
): Promise<bigint> {
  const reader = new RegistryReader(clients, addresses);
  const count = await reader.serviceCount();
  const last = count < BigInt(MAX_NETWORK_SERVICE_PROBES) ? count : BigInt(MAX_NETWORK_SERVICE_PROBES);
  for (let id = 1n; id <= last; id++) {
    const s = await reader.getService(id);
    if (s?.active && s.serviceType === NETWORK_SERVICE_TYPE) {
      log.info('found the network service on chain', { networkServiceId: id.toString() });
      return id;
    }
  }
  throw new DaemonError(
    'NO_NETWORK_SERVICE',
    `no active "network" service among the first ${last} services of ${addresses.services}`,
    'set chain.contracts.networkServiceId (or networkServiceId in DIBS_CONTRACTS) to the network to join',
  );
}
