/**
 * A DIBS node inside the application's own process: the wallet's libp2p host on the admission-gated
 * network, its chain view, its access client and its services. The client SDK opens tunnels through
 * it; the server SDK accepts tunnels with it (a service without a separate node process).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createChainClients, type Deployment, RegistryWriter } from '@dibs/chain';
import { encryptionKeyFromWallet, type Wallet } from '@dibs/core';
import {
  AccessClient,
  type ChainRuntime,
  createLogger,
  type NetworkRuntime,
  type P2pSettings,
  startNetwork,
} from '@dibs/node';
import { openStore, type Store } from '@dibs/store';

/** Options of {@link startEmbeddedNode}. */
export interface EmbeddedNodeOptions {
  wallet: Wallet;
  /** JSON-RPC URL of the chain the DIBS contracts live on. */
  rpcUrl: string;
  deployment: Deployment;
  /** Where the node keeps its database; default a temporary directory removed on stop. */
  dataDir?: string;
  /** libp2p settings (listen addresses, bootstrap peers…); default loopback TCP on a free port. */
  p2p?: P2pSettings;
}

/** An in-process node: its chain access at once, its network part once joined. */
export interface EmbeddedNode {
  readonly wallet: Wallet;
  readonly deployment: Deployment;
  readonly access: AccessClient;
  readonly registry: RegistryWriter;
  readonly store: Store;
  /** The network part, started by the first call (joins the admission-gated network). */
  network(): Promise<NetworkRuntime>;
  stop(): Promise<void>;
}

/** Prepares a node for `wallet`: its database, chain clients and identity on chain (registered if needed). */
export async function startEmbeddedNode(o: EmbeddedNodeOptions): Promise<EmbeddedNode> {
  const temporary = o.dataDir === undefined;
  const dir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'dibs-sdk-'));
  const store = openStore(join(dir, 'node.db'));
  const cleanup = () => {
    store.close();
    if (temporary) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const clients = await createChainClients({ rpcUrl: o.rpcUrl, account: o.wallet.exportPrivateKeyHex() });
    const registry = new RegistryWriter(clients, o.deployment);
    const key = encryptionKeyFromWallet(o.wallet).publicKey;
    const identity = await registry.getIdentity(o.wallet.address);
    if (identity === null) await registry.registerIdentity(key);
    else if (Buffer.compare(Buffer.from(identity.encryptionKey), Buffer.from(key)) !== 0) {
      await registry.updateEncryptionKey(key);
    }
    const chain: ChainRuntime = {
      clients,
      deployment: o.deployment,
      registry,
      supervisor: undefined,
      deploymentAction: 'configured',
      stop: async () => {},
    };
    const access = new AccessClient({ store, registry, wallet: o.wallet, chainId: o.deployment.chainId });
    let network: Promise<NetworkRuntime> | undefined;
    return {
      wallet: o.wallet,
      deployment: o.deployment,
      access,
      registry,
      store,
      network() {
        network ??= startNetwork({
          chain,
          store,
          wallet: o.wallet,
          log: createLogger({ console: null }),
          settings: { listen: ['/ip4/127.0.0.1/tcp/0'], ...o.p2p },
        });
        return network;
      },
      async stop() {
        if (network) await (await network.catch(() => undefined))?.stop();
        cleanup();
      },
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}
