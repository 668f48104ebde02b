import {
  AnvilSupervisor,
  type ChainClients,
  createChainClients,
  type Deployment,
  ensureDeployment,
  RegistryWriter,
} from '@dibs/chain';
import type { Wallet } from '@dibs/core';
import type { Store } from '@dibs/store';
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
      await clients.publicClient.request({
        method: 'anvil_setBalance' as 'eth_chainId',
        params: [wallet.address, `0x${EMBEDDED_FUNDING_WEI.toString(16)}`] as unknown as undefined,
      });
    }
    const configured = configuredDeployment(settings.contracts);
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

function configuredDeployment(contracts: Record<string, string> | undefined) {
  if (!contracts) return undefined;
  const need = ['token', 'registry', 'services', 'accessGrants', 'organizations', 'networkServiceId'];
  const missing = need.filter((k) => contracts[k] === undefined);
  if (missing.length > 0) {
    throw new Error(`chain.contracts in the config lacks ${missing.join(', ')}; list every contract address`);
  }
  return {
    token: contracts.token as `0x${string}`,
    registry: contracts.registry as `0x${string}`,
    services: contracts.services as `0x${string}`,
    accessGrants: contracts.accessGrants as `0x${string}`,
    organizations: contracts.organizations as `0x${string}`,
    networkServiceId: BigInt(contracts.networkServiceId!),
  };
}
