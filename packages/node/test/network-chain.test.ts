import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AnvilSupervisor,
  type ChainClients,
  createChainClients,
  type Deployment,
  ensureDeployment,
  RegistryWriter,
} from '@dibs/chain';
import { Policy } from '@dibs/contracts';
import {
  addressFromPeerId,
  encryptionKeyFromWallet,
  GrantCache,
  NETWORK_SERVICE_TYPE,
  SessionRegistry,
  Wallet,
} from '@dibs/core';
import { openStore, type Store } from '@dibs/store';
import type { ChainRuntime } from '../src/daemon/chain-runtime.ts';
import { createLogger } from '../src/daemon/log.ts';
import { type NetworkRuntime, startNetwork } from '../src/daemon/network.ts';
import { createDibsHost, type DibsHost } from '../src/p2p/host.ts';
import { findNodeRecord } from '../src/p2p/records.ts';
import { createTicketAuthority } from '../src/p2p/ticket-authority.ts';
import { ECHO, echoHandler, memoryLogger, waitFor } from './helpers.ts';

const NODES = 5;
const log = createLogger({ console: null });
const LISTEN = ['/ip4/127.0.0.1/tcp/0'];

interface Party {
  wallet: Wallet;
  clients: ChainClients;
  registry: RegistryWriter;
  store: Store;
  chain: ChainRuntime;
}

function admittedBothWays(a: DibsHost, b: DibsHost): boolean {
  return a.admission.isAdmitted(b.peerId) && b.admission.isAdmitted(a.peerId);
}

describe('the p2p network on one real chain with real grants and tickets', () => {
  let dir: string;
  let anvil: AnvilSupervisor;
  let deployment: Deployment;
  let operator: Party;
  /** The party of the last node, whose grant gets revoked. */
  let victimParty: Party;
  const stores: Store[] = [];
  const nodes: NetworkRuntime[] = [];
  const extraHosts: DibsHost[] = [];

  /** A wallet with gas, its identity registered, its own database; `wallet` given = the deployer. */
  async function party(name: string, wallet = Wallet.generate()): Promise<Party> {
    const clients = await createChainClients({ rpcUrl: anvil.rpcUrl, account: wallet.exportPrivateKeyHex() });
    await clients.publicClient.request({
      method: 'anvil_setBalance',
      params: [wallet.address, '0x3635C9ADC5DEA00000'],
    } as never);
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

  async function startNode(p: Party, asOperator: boolean): Promise<NetworkRuntime> {
    const n = await startNetwork({
      chain: p.chain,
      store: p.store,
      wallet: p.wallet,
      log,
      settings: { listen: LISTEN, operator: asOperator },
    });
    nodes.push(n);
    return n;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dibs-netchain-'));
    anvil = new AnvilSupervisor({ dataDir: dir, silent: true });
    await anvil.start();
    const deployer = Wallet.generate();
    const clients = await createChainClients({
      rpcUrl: anvil.rpcUrl,
      account: deployer.exportPrivateKeyHex(),
    });
    await clients.publicClient.request({
      method: 'anvil_setBalance',
      params: [deployer.address, '0x3635C9ADC5DEA00000'],
    } as never);
    const deployStore = openStore(join(dir, 'deploy.db'));
    stores.push(deployStore);
    deployment = await ensureDeployment({ store: deployStore, clients });
    // The deployer owns the Registry and the network service: it runs the first (bootstrap) node.
    operator = await party('operator', deployer);
    await startNode(operator, true);
    for (let i = 1; i < NODES; i++) {
      victimParty = await party(`node${i}`);
      await startNode(victimParty, false);
    }
  });

  after(async () => {
    await Promise.all(extraHosts.map((h) => h.stop().catch(() => {})));
    for (const n of nodes.reverse()) await n.stop().catch(() => {});
    for (const s of stores) s.close();
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the operator node is the on-chain bootstrap node, and every node registered itself', async () => {
    const list = await operator.registry.getBootstrapList();
    assert.equal(list.length, 1);
    assert.equal(list[0]!.address.toLowerCase(), operator.wallet.address.toLowerCase());
    assert.ok(list[0]!.multiaddrs.some((a) => a.endsWith(`/p2p/${nodes[0]!.host.peerId}`)));
    for (const n of nodes) {
      const address = peerAddress(n);
      const entry = await operator.registry.getNode(address as `0x${string}`);
      assert.ok(entry?.active);
      assert.deepEqual(entry.peerId, n.host.peerId.toMultihash().bytes);
    }
  });

  it('five nodes with their own wallets and network grants form one network through the bootstrap from chain', async () => {
    const boot = nodes[0]!;
    for (const n of nodes.slice(1)) {
      assert.ok(
        await waitFor(() => admittedBothWays(boot.host, n.host)),
        'admitted by and admitting the bootstrap',
      );
      assert.equal(n.status().bootstrap.admitted[0], boot.host.peerId.toString());
      // every node holds its own real grant on the network service
      const g = await n.grant();
      const onChain = await operator.registry.getGrant(g.grantId);
      assert.equal(onChain?.serviceId, deployment.networkServiceId);
      assert.equal(onChain?.grantee.toLowerCase(), peerAddress(n).toLowerCase());
    }
    const grants = new Set(await Promise.all(nodes.map(async (n) => (await n.grant()).grantId)));
    assert.equal(grants.size, NODES, 'one grant per node');
    // every node reaches every other through the DHT and admission holds on each such connection
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        const info = await from.host.libp2p.peerRouting.findPeer(to.host.peerId, {
          signal: AbortSignal.timeout(15_000),
        });
        assert.equal(info.id.toString(), to.host.peerId.toString());
        await from.host.connect(to.host.peerId, 10_000);
        assert.ok(admittedBothWays(from.host, to.host));
      }
    }
    for (const n of nodes) assert.equal(n.authority.sessionCount() >= NODES - 1, true);
  });

  it('a node record is found by address from every node', async () => {
    for (const target of nodes) {
      const address = peerAddress(target);
      for (const from of nodes) {
        const rec = await findNodeRecord(from.host, address, 15_000);
        assert.equal(rec.peerId, target.host.peerId.toString());
        assert.ok(rec.multiaddrs.length > 0);
      }
    }
  });

  it('a node without a network grant is refused and cannot open any other protocol', async () => {
    for (const n of nodes) await n.host.handle(ECHO, echoHandler);
    const p = await party('grantless');
    // Its ticket names a grant id that does not exist on chain: the ticket is real, the grant is not.
    const count = await p.registry.serviceCount();
    const fake = {
      grantId: 10_000n + count,
      serviceId: deployment.networkServiceId,
      expiresAt: BigInt(Math.floor(Date.now() / 1000) + 3600),
    };
    const logger = memoryLogger();
    const host = await rogueHost(p, async () => fake, logger);
    const boot = nodes[0]!.host;
    await assert.rejects(host.connect(boot.multiaddrs()[0]!, 8_000), /admission|refused|closed|abort/i);
    assert.equal(boot.admission.isAdmitted(host.peerId), false);
    assert.ok(
      await waitFor(() =>
        logger.lines.some((l) => /refused/.test(l.msg) && /grant \d+ is not/.test(String(l.fields?.reason))),
      ),
      'the refusal says the grant is unknown on chain',
    );
    // Before admission nothing but the admission protocol answers it.
    for (const protocol of ['/dibs/kad/1.0.0', '/dibs/ping/1.0.0', ECHO]) {
      let opened = false;
      try {
        const stream = await host.libp2p.dialProtocol(boot.multiaddrs()[0]!, protocol, {
          signal: AbortSignal.timeout(5_000),
        });
        stream.send(Uint8Array.of(0));
        opened = !(await waitFor(() => stream.status !== 'open', 15_000));
      } catch {}
      assert.equal(opened, false, `${protocol} is not served to a node without a grant`);
    }
    assert.ok(await waitFor(() => boot.libp2p.getConnections(host.peerId).length === 0, 8_000));
  });

  it('a real grant on another network service is refused (WRONG_SERVICE)', async () => {
    const outsider = await party('outsider');
    const otherNetwork = await outsider.registry.publishService({
      serviceType: NETWORK_SERVICE_TYPE,
      name: 'another network',
      grantDuration: 3600n,
      policy: Policy.Public,
    });
    const g = await outsider.registry.requestAccess(otherNetwork);
    const logger = memoryLogger();
    const host = await rogueHost(outsider, async () => g, logger, otherNetwork);
    await assert.rejects(host.connect(nodes[1]!.host.multiaddrs()[0]!, 8_000));
    assert.equal(nodes[1]!.host.admission.isAdmitted(host.peerId), false);
    assert.ok(
      await waitFor(() =>
        logger.lines.some((l) => /not a network this node admits to/.test(String(l.fields?.reason))),
      ),
      'the refusal names the wrong network',
    );
  });

  it('a node whose grant is revoked on chain is disconnected by every node within N blocks', async () => {
    const victim = nodes[NODES - 1]!;
    const others = nodes.slice(0, NODES - 1);
    for (const o of others) await o.host.connect(victim.host.peerId, 10_000);
    const { grantId } = await victim.grant();
    const receipt = await operator.registry.revokeGrant(grantId);
    const maxBlocks = nodes[0]!.cache.revocationMaxBlocks;
    // Other traffic moves the chain on; the disconnect must come by the time N more blocks are mirrored.
    for (let i = 0; i < maxBlocks; i++) {
      await operator.clients.publicClient.request({ method: 'evm_mine', params: [] } as never);
    }
    const bound = receipt.blockNumber + BigInt(maxBlocks);
    for (const o of others) {
      assert.ok(
        await waitFor(() => o.cache.syncedBlock >= bound, 10_000),
        'mirror reached N blocks past the revocation',
      );
      assert.ok(
        await waitFor(
          () =>
            !o.host.admission.isAdmitted(victim.host.peerId) &&
            o.host.libp2p.getConnections(victim.host.peerId).length === 0,
          // an attempt the victim started before it saw the revocation lasts at most one admission message timeout
          15_000,
        ),
        `disconnected: ${JSON.stringify({
          admitted: o.host.admission.isAdmitted(victim.host.peerId),
          left: victim.status().leftNetwork,
          victimRunning: victim.host.libp2p.status,
          connections: o.host.libp2p
            .getConnections(victim.host.peerId)
            .map((c) => [c.direction, c.status, Date.now() - c.timeline.open, c.remoteAddr.toString()]),
        })}`,
      );
      assert.ok(o.host.admission.isBlocked(victim.host.peerId));
    }
    // The victim saw its own revocation and left the network instead of redialing.
    assert.ok(await waitFor(() => victim.status().leftNetwork !== undefined));
    // The same wallet presenting the revoked grant with a fresh ticket is refused.
    const logger = memoryLogger();
    const again = await rogueHost(
      victimParty,
      async () => ({
        grantId,
        serviceId: deployment.networkServiceId,
        expiresAt: BigInt(Math.floor(Date.now() / 1000) + 3600),
      }),
      logger,
    );
    await assert.rejects(again.connect(nodes[0]!.host.multiaddrs()[0]!, 8_000));
    assert.equal(nodes[0]!.host.admission.isAdmitted(again.peerId), false);
    assert.ok(await waitFor(() => logger.lines.some((l) => /revoked/.test(String(l.fields?.reason)))));
    // The rest of the network is unaffected.
    assert.ok(admittedBothWays(nodes[0]!.host, nodes[1]!.host));
  });

  /** A host whose ticket authority is real but whose network grant is whatever `grant` returns. */
  async function rogueHost(
    p: Party,
    grant: () => Promise<{ grantId: bigint; serviceId: bigint; expiresAt: bigint }>,
    logger: ReturnType<typeof memoryLogger>,
    networkServiceId = deployment.networkServiceId,
  ): Promise<DibsHost> {
    const cache = new GrantCache();
    // It knows the chain state the honest nodes know (their keys), so only its grant is at fault.
    for (const n of nodes) {
      const address = peerAddress(n);
      const id = await p.registry.getIdentity(address as `0x${string}`);
      if (id) cache.applyIdentity({ account: address, encryptionKey: id.encryptionKey });
    }
    const authority = createTicketAuthority({
      wallet: p.wallet,
      deployment,
      cache,
      sessions: new SessionRegistry({ cache }),
      registry: p.registry,
      networkServiceId,
      networkGrant: grant,
      catchUpMs: 500,
    });
    const host = await createDibsHost({
      privateKey: p.wallet.exportPrivateKey(),
      authority,
      listen: LISTEN,
      logger,
    });
    authority.attach(host);
    extraHosts.push(host);
    return host;
  }
});

function peerAddress(n: NetworkRuntime): string {
  return addressFromPeerId(n.host.peerId);
}
