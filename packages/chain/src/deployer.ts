import { accessGrantsAbi, deployContracts } from '@dibs/contracts';
import type { Store } from '@dibs/store';
import { type Address, getAddress, type Hex, parseEventLogs } from 'viem';
import type { ChainClients } from './clients.ts';
import {
  DEPLOYMENT_STORE_NAMESPACE,
  NETWORK_GRANT_DURATION_SECONDS,
  NETWORK_SERVICE_NAME,
  NETWORK_SERVICE_TYPE,
} from './constants.ts';
import { ChainIdMismatchError, DeploymentError, NoAccountError } from './errors.ts';
import { RegistryReader } from './registry-reader.ts';
import { RegistryWriter } from './registry-writer.ts';
import { transactionQueueFor } from './tx-queue.ts';

/** Addresses of the DIBS contracts (`services` and `accessGrants` may be the same contract). */
export interface DeploymentAddresses {
  token: Address;
  registry: Address;
  services: Address;
  accessGrants: Address;
  organizations: Address;
}

/** A deployment on one chain, as recorded in the node's database. */
export interface Deployment extends DeploymentAddresses {
  chainId: number;
  /** First block of the deployment: event scans start here. */
  deployedAtBlock: bigint;
  /** Hash of that block; a different hash later means the chain was reset. */
  deployedAtBlockHash: Hex | undefined;
  /** The "network" service every admitted node serves; network tickets are grants on it. */
  networkServiceId: bigint;
  /** Whether this node deployed the contracts or was configured with them. */
  source: 'deployed' | 'configured';
}

/**
 * The contract addresses and the network service id (decimal) of a deployment, as `--json` prints
 * them and `chain.contracts` in a config takes them.
 */
export function deploymentContracts(d: DeploymentAddresses & { networkServiceId: bigint }): {
  token: Address;
  registry: Address;
  services: Address;
  accessGrants: Address;
  organizations: Address;
  networkServiceId: string;
} {
  return {
    token: d.token,
    registry: d.registry,
    services: d.services,
    accessGrants: d.accessGrants,
    organizations: d.organizations,
    networkServiceId: d.networkServiceId.toString(),
  };
}

/** Addresses given by configuration for an external chain. */
export interface ConfiguredDeployment extends DeploymentAddresses {
  networkServiceId: bigint;
  deployedAtBlock?: bigint;
}

/** What `ensureDeployment` did. */
export type DeploymentAction = 'reused' | 'deployed' | 'redeployed' | 'configured';

/** Options of `ensureDeployment`. */
export interface EnsureDeploymentOptions {
  store: Store;
  clients: ChainClients;
  /** Chain the deployment belongs to; must match the endpoint. Default: the clients' chain id. */
  chainId?: number;
  /** Use and verify these addresses instead of deploying (external chains). */
  configured?: ConfiguredDeployment;
  /** Grant duration of the network service published on a fresh deployment. */
  networkGrantDuration?: bigint;
  /** Receives one line per notable decision (reuse, deploy, reset detected). */
  log?: (message: string) => void;
}

interface Row {
  chain_id: number;
  token: string;
  registry: string;
  services: string;
  access_grants: string;
  organizations: string;
  deployed_at_block: string;
  deployed_at_block_hash: string | null;
  network_service_id: string | null;
  source: string;
}

const MIGRATIONS = [
  (db: Store['db']) => {
    db.exec(`CREATE TABLE chain_deployments (
      chain_id INTEGER PRIMARY KEY,
      token TEXT NOT NULL,
      registry TEXT NOT NULL,
      services TEXT NOT NULL,
      access_grants TEXT NOT NULL,
      organizations TEXT NOT NULL,
      deployed_at_block TEXT NOT NULL,
      deployed_at_block_hash TEXT,
      network_service_id TEXT,
      source TEXT NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
  },
];

const CONTRACT_NAMES: (keyof DeploymentAddresses)[] = [
  'token',
  'registry',
  'services',
  'accessGrants',
  'organizations',
];

function readRow(
  store: Store,
  chainId: number,
): (Omit<Deployment, 'networkServiceId'> & { networkServiceId?: bigint }) | undefined {
  store.migrate(DEPLOYMENT_STORE_NAMESPACE, MIGRATIONS);
  const row = store.db.prepare('SELECT * FROM chain_deployments WHERE chain_id = ?').get(chainId) as
    | Row
    | undefined;
  if (!row) return undefined;
  return {
    chainId,
    token: getAddress(row.token),
    registry: getAddress(row.registry),
    services: getAddress(row.services),
    accessGrants: getAddress(row.access_grants),
    organizations: getAddress(row.organizations),
    deployedAtBlock: BigInt(row.deployed_at_block),
    deployedAtBlockHash: (row.deployed_at_block_hash ?? undefined) as Hex | undefined,
    ...(row.network_service_id !== null ? { networkServiceId: BigInt(row.network_service_id) } : {}),
    source: row.source === 'configured' ? 'configured' : 'deployed',
  };
}

function writeRow(
  store: Store,
  d: Omit<Deployment, 'networkServiceId'> & { networkServiceId?: bigint | undefined },
): void {
  store.migrate(DEPLOYMENT_STORE_NAMESPACE, MIGRATIONS);
  store.transaction(() => {
    store.run(
      `INSERT INTO chain_deployments (chain_id, token, registry, services, access_grants, organizations,
         deployed_at_block, deployed_at_block_hash, network_service_id, source, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(chain_id) DO UPDATE SET token = excluded.token, registry = excluded.registry,
         services = excluded.services, access_grants = excluded.access_grants,
         organizations = excluded.organizations, deployed_at_block = excluded.deployed_at_block,
         deployed_at_block_hash = excluded.deployed_at_block_hash,
         network_service_id = excluded.network_service_id, source = excluded.source,
         updated_at = excluded.updated_at`,
      d.chainId,
      d.token,
      d.registry,
      d.services,
      d.accessGrants,
      d.organizations,
      d.deployedAtBlock.toString(),
      d.deployedAtBlockHash ?? null,
      d.networkServiceId?.toString() ?? null,
      d.source,
      Date.now(),
    );
  });
}

/** The deployment recorded for `chainId`, if a complete one exists (no chain access). */
export function loadDeployment(store: Store, chainId: number): Deployment | undefined {
  const row = readRow(store, chainId);
  return row?.networkServiceId !== undefined ? (row as Deployment) : undefined;
}

/** Names the contracts that have no code at their addresses. */
async function missingCode(clients: ChainClients, d: DeploymentAddresses): Promise<string[]> {
  const codes = await Promise.all(
    CONTRACT_NAMES.map((name) => clients.publicClient.getCode({ address: d[name] })),
  );
  return CONTRACT_NAMES.filter((_, i) => !codes[i] || codes[i] === '0x').map((n) => `${n} ${d[n]}`);
}

/** Why a recorded deployment no longer matches the chain, or undefined if it does. */
async function staleReason(
  clients: ChainClients,
  d: Omit<Deployment, 'networkServiceId'>,
): Promise<string | undefined> {
  const missing = await missingCode(clients, d);
  if (missing.length > 0) return `no contract code at ${missing.join(', ')}`;
  if (d.deployedAtBlockHash) {
    const block = await clients.publicClient.getBlock({ blockNumber: d.deployedAtBlock }).catch(() => null);
    if (!block) return `block ${d.deployedAtBlock} of the deployment does not exist`;
    if (block.hash !== d.deployedAtBlockHash) {
      return `block ${d.deployedAtBlock} has hash ${block.hash}, not the recorded ${d.deployedAtBlockHash}`;
    }
  }
  return undefined;
}

/** Finds a network service this account already published on the deployment (resuming after a crash). */
async function findNetworkService(
  clients: ChainClients,
  d: Omit<Deployment, 'networkServiceId'>,
  owner: Address,
): Promise<bigint | undefined> {
  const logs = await clients.publicClient.getLogs({
    address: d.services,
    event: accessGrantsAbi.find((e) => e.type === 'event' && e.name === 'ServicePublished') as Extract<
      (typeof accessGrantsAbi)[number],
      { type: 'event'; name: 'ServicePublished' }
    >,
    args: { owner },
    fromBlock: d.deployedAtBlock,
    toBlock: 'latest',
  });
  const parsed = parseEventLogs({ abi: accessGrantsAbi, logs, eventName: 'ServicePublished' });
  return parsed.find((l) => l.args.serviceType === NETWORK_SERVICE_TYPE)?.args.serviceId;
}

async function publishNetworkService(
  opts: EnsureDeploymentOptions,
  d: Omit<Deployment, 'networkServiceId'>,
): Promise<Deployment> {
  const writer = new RegistryWriter(opts.clients, d);
  const existing = await findNetworkService(opts.clients, d, writer.address);
  const networkServiceId =
    existing ??
    (await writer.publishService({
      serviceType: NETWORK_SERVICE_TYPE,
      name: NETWORK_SERVICE_NAME,
      grantDuration: opts.networkGrantDuration ?? NETWORK_GRANT_DURATION_SECONDS,
    }));
  const full: Deployment = { ...d, networkServiceId };
  writeRow(opts.store, full);
  opts.log?.(`network service ${networkServiceId} published on chain ${d.chainId}`);
  return full;
}

async function deploy(opts: EnsureDeploymentOptions, chainId: number): Promise<Deployment> {
  const { walletClient, publicClient } = opts.clients;
  if (!walletClient) throw new NoAccountError('deploy the DIBS contracts');
  let deployed: Awaited<ReturnType<typeof deployContracts>>;
  try {
    // The deployment numbers its own transactions: nothing else of this wallet may send meanwhile.
    deployed = await transactionQueueFor(opts.clients).exclusive(() =>
      deployContracts({ walletClient, publicClient }),
    );
  } catch (err) {
    throw new DeploymentError(
      'DEPLOY_FAILED',
      `deploying the DIBS contracts on chain ${chainId} failed: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const block = await publicClient.getBlock({ blockNumber: deployed.deployedAtBlock });
  const partial = {
    chainId,
    token: deployed.token,
    registry: deployed.registry,
    services: deployed.services,
    accessGrants: deployed.accessGrants,
    organizations: deployed.organizations,
    deployedAtBlock: deployed.deployedAtBlock,
    deployedAtBlockHash: block.hash,
    source: 'deployed' as const,
  };
  // Recorded before the network service is published, so a crash in between resumes, not redeploys.
  writeRow(opts.store, partial);
  opts.log?.(`DIBS contracts deployed on chain ${chainId} at block ${deployed.deployedAtBlock}`);
  return publishNetworkService(opts, partial);
}

async function useConfigured(
  opts: EnsureDeploymentOptions,
  chainId: number,
  configured: ConfiguredDeployment,
): Promise<Deployment> {
  const missing = await missingCode(opts.clients, configured);
  if (missing.length > 0) {
    throw new DeploymentError(
      'CONFIGURED_CONTRACTS_MISSING',
      `the configured DIBS contracts are not on chain ${chainId} (${opts.clients.rpcUrl}): no code at ${missing.join(', ')}; check the contract addresses and the RPC URL`,
    );
  }
  const service = await new RegistryReader(opts.clients, configured).getService(configured.networkServiceId);
  if (!service || service.serviceType !== NETWORK_SERVICE_TYPE || !service.active) {
    throw new DeploymentError(
      'CONFIGURED_NETWORK_SERVICE_INVALID',
      `service ${configured.networkServiceId} on chain ${chainId} is ${service ? `a ${service.active ? 'active' : 'retired'} "${service.serviceType}" service` : 'missing'}, not an active "network" service; check the configured network service id`,
    );
  }
  const deployment: Deployment = {
    chainId,
    token: getAddress(configured.token),
    registry: getAddress(configured.registry),
    services: getAddress(configured.services),
    accessGrants: getAddress(configured.accessGrants),
    organizations: getAddress(configured.organizations),
    deployedAtBlock: configured.deployedAtBlock ?? 0n,
    deployedAtBlockHash: undefined,
    networkServiceId: configured.networkServiceId,
    source: 'configured',
  };
  writeRow(opts.store, deployment);
  return deployment;
}

/**
 * Makes sure the DIBS contracts exist on the chain and are recorded in the database: reuses a
 * recorded deployment whose code is still there, verifies configured addresses, or deploys (and
 * publishes the network service). A recorded deployment missing from the chain (reset) is redeployed.
 */
export async function ensureDeployment(
  opts: EnsureDeploymentOptions,
): Promise<Deployment & { action: DeploymentAction }> {
  const chainId = opts.chainId ?? opts.clients.chainId;
  if (chainId !== opts.clients.chainId) {
    throw new ChainIdMismatchError(opts.clients.rpcUrl, chainId, opts.clients.chainId);
  }
  if (opts.configured) {
    const d = await useConfigured(opts, chainId, opts.configured);
    opts.log?.(`using the configured DIBS contracts on chain ${chainId}`);
    return { ...d, action: 'configured' };
  }
  const recorded = readRow(opts.store, chainId);
  if (recorded) {
    const reason = await staleReason(opts.clients, recorded);
    if (!reason) {
      const d =
        recorded.networkServiceId !== undefined
          ? (recorded as Deployment)
          : await publishNetworkService(opts, recorded);
      opts.log?.(`reusing the DIBS contracts deployed on chain ${chainId} at block ${d.deployedAtBlock}`);
      return { ...d, action: 'reused' };
    }
    if (recorded.source === 'configured') {
      throw new DeploymentError(
        'CONFIGURED_CONTRACTS_MISSING',
        `the DIBS contracts configured earlier for chain ${chainId} are gone (${reason}); configure the current addresses`,
      );
    }
    opts.log?.(
      `the chain ${chainId} at ${opts.clients.rpcUrl} was reset: ${reason}; the recorded DIBS deployment is lost, deploying the contracts again`,
    );
    return { ...(await deploy(opts, chainId)), action: 'redeployed' };
  }
  return { ...(await deploy(opts, chainId)), action: 'deployed' };
}
