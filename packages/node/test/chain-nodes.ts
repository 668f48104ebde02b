/** Test and bench support: one real anvil with the DIBS contracts, parties with wallets, running nodes. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AnvilSupervisor,
  type ChainClients,
  createChainClients,
  type Deployment,
  ensureDeployment,
  RegistryWriter,
} from '@dibs/chain';
import { encryptionKeyFromWallet, peerIdFromWallet, TicketVerifier, Wallet } from '@dibs/core';
import { openStore, type Store } from '@dibs/store';
import { AccessClient } from '../src/access/index.ts';
import type { ChainRuntime } from '../src/daemon/chain-runtime.ts';
import { createLogger, type Logger } from '../src/daemon/log.ts';
import { type NetworkRuntime, type P2pSettings, startNetwork } from '../src/daemon/network.ts';

/** A wallet with gas and a registered identity, its chain writer and its own database. */
export interface ChainParty {
  wallet: Wallet;
  clients: ChainClients;
  registry: RegistryWriter;
  store: Store;
  chain: ChainRuntime;
}

/** One chain, its deployment and everything started on it (stopped by `stop`). */
export interface ChainBed {
  dir: string;
  anvil: AnvilSupervisor;
  deployment: Deployment;
  /** The deployer: owns the Registry and the network service, runs the bootstrap node. */
  operator: ChainParty;
  party(name: string, wallet?: Wallet): Promise<ChainParty>;
  startNode(p: ChainParty, settings?: Partial<P2pSettings>): Promise<NetworkRuntime>;
  /** The access client of `p` (requests grants, makes service tickets). */
  access(p: ChainParty): AccessClient;
  /** A service-ticket verifier for the node of `p`, on that node's grant cache (any service it hosts). */
  verifier(p: ChainParty, node: NetworkRuntime): TicketVerifier;
  mine(blocks?: number): Promise<void>;
  /** The log every node of the bed writes to (its ring keeps the newest lines). */
  log: Logger;
  stop(): Promise<void>;
}

const LISTEN = ['/ip4/127.0.0.1/tcp/0'];

/** Starts anvil, deploys, and prepares the operator party. */
export async function startChainBed(prefix = 'dibs-bed-'): Promise<ChainBed> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const anvil = new AnvilSupervisor({ dataDir: dir, silent: true });
  await anvil.start();
  const stores: Store[] = [];
  const nodes: NetworkRuntime[] = [];
  const log = createLogger({ console: null });
  const deployer = Wallet.generate();
  const deployerClients = await createChainClients({
    rpcUrl: anvil.rpcUrl,
    account: deployer.exportPrivateKeyHex(),
  });
  await fund(deployerClients, deployer);
  const deployStore = openStore(join(dir, 'deploy.db'));
  stores.push(deployStore);
  const deployment = await ensureDeployment({ store: deployStore, clients: deployerClients });

  async function party(name: string, wallet = Wallet.generate()): Promise<ChainParty> {
    const clients = await createChainClients({ rpcUrl: anvil.rpcUrl, account: wallet.exportPrivateKeyHex() });
    await fund(clients, wallet);
    const registry = new RegistryWriter(clients, deployment);
    if ((await registry.getIdentity(wallet.address)) === null) {
      await registry.registerIdentity(encryptionKeyFromWallet(wallet).publicKey);
    }
    const store = openStore(join(dir, `${name}.db`));
    stores.push(store);
    const chain: ChainRuntime = {
      clients,
      deployment,
      registry,
      supervisor: undefined,
      deploymentAction: 'configured',
      stop: async () => {},
    };
    return { wallet, clients, registry, store, chain };
  }

  const operator = await party('operator', deployer);
  return {
    dir,
    anvil,
    deployment,
    operator,
    party,
    log,
    async startNode(p, settings = {}) {
      const n = await startNetwork({
        chain: p.chain,
        store: p.store,
        wallet: p.wallet,
        log,
        settings: { listen: LISTEN, operator: p === operator, ...settings },
      });
      nodes.push(n);
      return n;
    },
    access: (p) =>
      new AccessClient({
        store: p.store,
        registry: p.registry,
        wallet: p.wallet,
        chainId: deployment.chainId,
      }),
    verifier: (p, node) =>
      new TicketVerifier({
        encryptionPrivateKey: encryptionKeyFromWallet(p.wallet).privateKey,
        peerId: peerIdFromWallet(p.wallet).toMultihash().bytes,
        chainId: deployment.chainId,
        contract: deployment.accessGrants,
        cache: node.cache,
      }),
    async mine(blocks = 1) {
      for (let i = 0; i < blocks; i++) {
        await operator.clients.publicClient.request({ method: 'evm_mine', params: [] } as never);
      }
    },
    async stop() {
      for (const n of nodes.reverse()) await n.stop().catch(() => {});
      for (const s of stores) s.close();
      await anvil.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function fund(clients: ChainClients, wallet: Wallet): Promise<void> {
  await clients.publicClient.request({
    method: 'anvil_setBalance',
    params: [wallet.address, '0x3635C9ADC5DEA00000'],
  } as never);
}
