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
import type { Store } from '@dibs/store';
import { DEV_CHAIN_FUNDING_WEI, MAX_NETWORK_SERVICE_PROBES } from './constants.ts';
import { DaemonError } from './errors.ts';
import type { Logger } from './log.ts';

/** How the node reaches its chain. */
export interface ChainSettings {
  mode: 'embedded' | 'rpc';
  rpcUrl?: string | undefined;
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
    supervisor = new AnvilSupervisor({
      dataDir: params.dataDir,
      chainId: settings.chainId,
      onEvent: ({ message, ...fields }) => {
        if (fields.state === 'restarting' || fields.state === 'failed') chainLog.warn(message, fields);
        else chainLog.info(message, fields);
      },
    });
    await supervisor.start();
    rpcUrl = supervisor.rpcUrl;
  }
  if (!rpcUrl) throw new Error('no RPC URL configured; set chain.rpcUrl or use the embedded chain');
  try {
    const clients = await createChainClients({
      rpcUrl,
      chainId: settings.chainId,
      account: wallet.exportPrivateKeyHex(),
    });
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
