/**
 * Real-chain test nodes in one process: anvil with the DIBS contracts, funded wallets with registered
 * identities, and DIBS hosts whose admission runs on real network tickets (ChainMirror → GrantCache →
 * TicketVerifier), with the ticket lifetime under the test's control.
 */
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
import { encryptionKeyFromWallet, GrantCache, SessionRegistry, Wallet } from '@dibs/core';
import { openStore, type Store } from '@dibs/store';
import { ChainMirror } from '../../src/access/index.ts';
import { createLogger } from '../../src/daemon/log.ts';
import { networkGrantProvider } from '../../src/daemon/network-grant.ts';
import { createDibsHost, type DibsHost, type DibsHostOptions } from '../../src/p2p/host.ts';
import type { P2pLogger } from '../../src/p2p/log.ts';
import { createTicketAuthority, type TicketAuthority } from '../../src/p2p/ticket-authority.ts';

/** Plenty of test ether (1000 ETH). */
const FUNDING = '0x3635C9ADC5DEA00000';

/** A wallet on the test chain: funded, identity registered, its own database. */
export interface ChainParty {
  wallet: Wallet;
  clients: ChainClients;
  registry: RegistryWriter;
  store: Store;
}

/** A host admitted by real tickets, with what it runs on. */
export interface TicketNode {
  host: DibsHost;
  authority: TicketAuthority;
  cache: GrantCache;
  mirror: ChainMirror;
  stop(): Promise<void>;
}

/** Anvil plus the DIBS contracts, deployed by `deployer` (the network operator). */
export class TestChain {
  readonly dir: string;
  readonly anvil: AnvilSupervisor;
  readonly deployer = Wallet.generate();
  deployment!: Deployment;
  readonly #stores: Store[] = [];
  readonly #stops: Array<() => Promise<void>> = [];

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'dibs-chainparty-'));
    this.anvil = new AnvilSupervisor({ dataDir: this.dir, silent: true });
  }

  /** Starts anvil and deploys the contracts. */
  async start(): Promise<this> {
    await this.anvil.start();
    const clients = await this.#fundedClients(this.deployer);
    const store = this.#store('deploy');
    this.deployment = await ensureDeployment({ store, clients });
    return this;
  }

  /** A funded wallet with its identity registered (the deployer's when `wallet` is it). */
  async party(name: string, wallet = Wallet.generate()): Promise<ChainParty> {
    const clients = await this.#fundedClients(wallet);
    const registry = new RegistryWriter(clients, this.deployment);
    if ((await registry.getIdentity(wallet.address)) === null) {
      await registry.registerIdentity(encryptionKeyFromWallet(wallet).publicKey);
    }
    return { wallet, clients, registry, store: this.#store(name) };
  }

  /** A started host for `p` whose network tickets live `ticketLifetimeMs`; stopped by {@link stop}. */
  async node(
    p: ChainParty,
    options: { ticketLifetimeMs?: number; logger: P2pLogger } & Partial<DibsHostOptions>,
  ): Promise<TicketNode> {
    const log = createLogger({ console: null });
    const cache = new GrantCache();
    const mirror = new ChainMirror({
      store: p.store,
      clients: p.clients,
      deployment: this.deployment,
      cache,
      log,
      pollIntervalMs: 200,
    });
    await mirror.start();
    const sessions = new SessionRegistry({ cache, nodeAddress: p.wallet.address });
    sessions.start();
    const grant = networkGrantProvider({
      store: p.store,
      registry: p.registry,
      networkServiceId: this.deployment.networkServiceId,
      cache,
      log,
    });
    await grant();
    const authority = createTicketAuthority({
      wallet: p.wallet,
      deployment: this.deployment,
      cache,
      sessions,
      registry: p.registry,
      networkServiceId: this.deployment.networkServiceId,
      networkGrant: grant,
      logger: options.logger,
      ...(options.ticketLifetimeMs !== undefined ? { ticketLifetimeMs: options.ticketLifetimeMs } : {}),
    });
    const host = await createDibsHost({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      pubsub: false,
      ...options,
      privateKey: p.wallet.exportPrivateKey(),
      authority,
    });
    authority.attach(host);
    const stop = async () => {
      await host.stop().catch(() => {});
      authority.close();
      sessions.dispose();
      await mirror.stop();
    };
    this.#stops.push(stop);
    return { host, authority, cache, mirror, stop };
  }

  /** Stops every node, closes every database, stops anvil and removes the temp dir. */
  async stop(): Promise<void> {
    for (const s of this.#stops.reverse()) await s().catch(() => {});
    for (const s of this.#stores) s.close();
    await this.anvil.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #fundedClients(wallet: Wallet): Promise<ChainClients> {
    const clients = await createChainClients({
      rpcUrl: this.anvil.rpcUrl,
      account: wallet.exportPrivateKeyHex(),
    });
    await clients.publicClient.request({
      method: 'anvil_setBalance',
      params: [wallet.address, FUNDING],
    } as never);
    return clients;
  }

  #store(name: string): Store {
    const s = openStore(join(this.dir, `${name}.db`));
    this.#stores.push(s);
    return s;
  }
}
