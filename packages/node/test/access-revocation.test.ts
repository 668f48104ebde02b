import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AnvilSupervisor,
  createChainClients,
  type Deployment,
  ensureDeployment,
  RegistryWriter,
} from '@dibs/chain';
import { Policy, Role } from '@dibs/contracts';
import {
  ChainView,
  createAuthenticator,
  encryptionKeyFromWallet,
  GrantCache,
  peerIdFromWallet,
  SessionRegistry,
  TicketError,
  TicketVerifier,
  Wallet,
} from '@dibs/core';
import { openStore, type Store } from '@dibs/store';
import { AccessClient, ChainHeadMonitor, ChainMirror } from '../src/access/index.ts';
import { createLogger } from '../src/daemon/log.ts';

const REVOCATION_MAX_BLOCKS = 2;
const log = createLogger({ console: null });

function peerBytes(wallet: Wallet): Uint8Array {
  return peerIdFromWallet(wallet).toMultihash().bytes;
}

/** One party: its wallet, a chain writer acting as it, and its own database. */
async function party(rpcUrl: string, deployment: Deployment, dir: string, name: string) {
  const wallet = Wallet.generate();
  const clients = await createChainClients({ rpcUrl, account: wallet.exportPrivateKeyHex() });
  await clients.publicClient.request({
    method: 'anvil_setBalance',
    params: [wallet.address, '0x3635C9ADC5DEA00000'],
  } as never);
  const registry = new RegistryWriter(clients, deployment);
  await registry.registerIdentity(encryptionKeyFromWallet(wallet).publicKey);
  const store = openStore(join(dir, `${name}.db`));
  return { wallet, clients, registry, store };
}

type Party = Awaited<ReturnType<typeof party>>;

/** A service host's verifier, fed only by its chain mirror (and, with `chainView`, held to its lag bounds). */
function hostVerifier(host: Party, deployment: Deployment, serviceIds: bigint[], chainView?: ChainView) {
  const cache = new GrantCache({
    revocationMaxBlocks: REVOCATION_MAX_BLOCKS,
    ...(chainView ? { chainView } : {}),
  });
  const mirror = new ChainMirror({ store: host.store, clients: host.clients, deployment, cache, log });
  const verifier = new TicketVerifier({
    encryptionPrivateKey: encryptionKeyFromWallet(host.wallet).privateKey,
    peerId: peerBytes(host.wallet),
    chainId: deployment.chainId,
    contract: deployment.accessGrants,
    cache,
    serviceIds,
  });
  const sessions = new SessionRegistry({ cache });
  return { cache, mirror, verifier, sessions };
}

describe('tickets against the chain', () => {
  let dir: string;
  let anvil: AnvilSupervisor;
  let deployment: Deployment;
  let owner: Party;
  let host: Party;
  let client: Party;
  let serviceId: bigint;
  let stores: Store[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dibs-access-'));
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
    deployment = await ensureDeployment({ store: deployStore, clients });
    deployStore.close();
    owner = await party(anvil.rpcUrl, deployment, dir, 'owner');
    host = await party(anvil.rpcUrl, deployment, dir, 'host');
    client = await party(anvil.rpcUrl, deployment, dir, 'client');
    stores = [owner.store, host.store, client.store];
    await host.registry.registerNode({
      peerId: peerBytes(host.wallet),
      roles: Role.ServiceHost,
      multiaddrs: [],
    });
    serviceId = await owner.registry.publishService({
      serviceType: 'tcp',
      name: 'db',
      grantDuration: 3600n,
      host: host.wallet.address,
      policy: Policy.Public,
    });
  });

  after(async () => {
    for (const s of stores) s.close();
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('revoked on chain: rejected within N blocks and the live session is closed', async () => {
    const access = new AccessClient({
      store: client.store,
      registry: client.registry,
      wallet: client.wallet,
      chainId: deployment.chainId,
    });
    const held = await access.request(serviceId);
    assert.equal(held.hasTicket, true);
    const { ticket, sessionKey } = await access.ticket(held.grantId);

    const h = hostVerifier(host, deployment, [serviceId]);
    await h.mirror.start();
    try {
      const challenge = crypto.getRandomValues(new Uint8Array(32));
      const present = () =>
        h.verifier.verify({
          ticket,
          authenticator: createAuthenticator({
            ticket,
            sessionKey,
            clientPeerId: peerBytes(client.wallet),
            servicePeerId: peerBytes(host.wallet),
            challenge,
          }),
          remotePeerId: peerBytes(client.wallet),
          challenge,
        });
      const session = present();
      assert.equal(session.grantId, held.grantId);
      let closedWith: TicketError | undefined;
      h.sessions.register(session, (reason) => {
        closedWith = reason;
      });

      const receipt = await owner.registry.revokeGrant(held.grantId);
      const revokedAt = receipt.blockNumber;
      let head = revokedAt;
      for (let i = 0; i <= REVOCATION_MAX_BLOCKS && closedWith === undefined; i++) {
        await h.mirror.syncOnce();
        if (closedWith !== undefined) break;
        await owner.clients.publicClient.request({ method: 'evm_mine', params: [] } as never);
        head = await owner.clients.publicClient.getBlockNumber({ cacheTime: 0 });
      }
      assert.ok(closedWith, 'the live session was closed');
      assert.equal(closedWith.code, 'REVOKED');
      assert.ok(
        head - revokedAt <= BigInt(REVOCATION_MAX_BLOCKS),
        `closed ${head - revokedAt} blocks after the revocation`,
      );
      assert.throws(present, (err: unknown) => err instanceof TicketError && err.code === 'REVOKED');
      await access.refresh(held.grantId);
      assert.equal(access.get(held.grantId)?.revoked, true);
    } finally {
      await h.mirror.stop();
    }
  });

  test('the hot path makes no chain round trip, yet a stopped mirror fails closed: CHAIN_STALE past the bound, sessions closed past the second', async () => {
    const access = new AccessClient({
      store: client.store,
      registry: client.registry,
      wallet: client.wallet,
      chainId: deployment.chainId,
    });
    const held = await access.request(serviceId);
    const { ticket, sessionKey } = await access.ticket(held.grantId);
    // The view's clock is ours to move; blocks and the RPC endpoint are real.
    let now = Date.now();
    const bounds = {
      refuseAfterBlocks: 2,
      refuseAfterMs: 10_000,
      closeAfterBlocks: 50,
      closeAfterMs: 40_000,
    };
    const view = new ChainView({ ...bounds, now: () => now });
    const h = hostVerifier(host, deployment, [serviceId], view);
    const monitor = new ChainHeadMonitor({
      publicClient: host.clients.publicClient,
      view,
      log,
      timeoutMs: 1_000,
    });
    const present = () => {
      const challenge = crypto.getRandomValues(new Uint8Array(32));
      return h.verifier.verify({
        ticket,
        authenticator: createAuthenticator({
          ticket,
          sessionKey,
          clientPeerId: peerBytes(client.wallet),
          servicePeerId: peerBytes(host.wallet),
          challenge,
        }),
        remotePeerId: peerBytes(client.wallet),
        challenge,
      });
    };
    const stale = (fn: () => unknown) =>
      assert.throws(fn, (err: unknown) => err instanceof TicketError && err.code === 'CHAIN_STALE');
    const mine = (n: number) =>
      owner.clients.publicClient.request({ method: 'anvil_mine', params: [`0x${n.toString(16)}`] } as never);

    await h.mirror.start();
    await monitor.pollOnce();
    let closedWith: TicketError | undefined;
    h.sessions.register(present(), (reason) => {
      closedWith = reason;
    });
    // The watcher stops (stuck); verification still needs no chain round trip.
    await h.mirror.stop();
    assert.equal(present().grantId, held.grantId);

    // Blocks the mirror does not apply: up to the bound they are tolerated, one more is refused.
    await mine(2);
    await monitor.pollOnce();
    assert.equal(view.status().lagBlocks, 2);
    assert.ok(present(), 'at the bound: still accepted');
    await mine(1);
    await monitor.pollOnce();
    assert.equal(view.status().state, 'stale');
    stale(present);
    assert.equal(h.sessions.sweep(), 0, 'past the first bound only new tickets are refused');
    assert.equal(closedWith, undefined);

    // The mirror catches up: accepted again.
    await h.mirror.syncOnce();
    await monitor.pollOnce();
    assert.equal(view.status().state, 'fresh');
    assert.ok(present());

    // The RPC endpoint goes away (mirror and head poll both fail): time bounds apply.
    await anvil.stop();
    try {
      await monitor.pollOnce();
      assert.ok(present(), 'a just-failed head poll is within the time bound');
      now += bounds.refuseAfterMs + 1;
      await monitor.pollOnce();
      assert.equal(view.status().state, 'stale');
      stale(present);
      assert.equal(h.sessions.sweep(), 0);
      now += bounds.closeAfterMs - bounds.refuseAfterMs;
      await monitor.pollOnce();
      assert.equal(view.status().state, 'closing');
      assert.equal(h.sessions.sweep(), 1, 'past the second bound the live session is closed');
      assert.equal((closedWith as TicketError | undefined)?.code, 'CHAIN_STALE');
      stale(present);
    } finally {
      await anvil.start();
    }
    // Back: the mirror applies what it missed and the view is fresh again.
    await h.mirror.syncOnce();
    now = Date.now();
    await monitor.pollOnce();
    assert.equal(view.status().state, 'fresh', view.status().reason);
    assert.ok(present());
  });

  test('a grant of organization A never admits to a service of organization B', async () => {
    const orgA = await owner.registry.createOrganization({ name: 'Org A', networkLabel: 'org-a' });
    const orgB = await owner.registry.createOrganization({ name: 'Org B', networkLabel: 'org-b' });
    await owner.registry.addMember(orgA, client.wallet.address);
    const hostB = await party(anvil.rpcUrl, deployment, dir, 'hostB');
    stores.push(hostB.store);
    await hostB.registry.registerNode({
      peerId: peerBytes(hostB.wallet),
      roles: Role.ServiceHost,
      multiaddrs: [],
    });
    const serviceA = await owner.registry.publishService({
      serviceType: 'tcp',
      name: 'a-db',
      grantDuration: 3600n,
      host: host.wallet.address,
      policy: Policy.OrgMembers,
      policyRef: orgA,
    });
    const serviceB = await owner.registry.publishService({
      serviceType: 'tcp',
      name: 'b-db',
      grantDuration: 3600n,
      host: hostB.wallet.address,
      policy: Policy.OrgMembers,
      policyRef: orgB,
    });
    const access = new AccessClient({
      store: client.store,
      registry: client.registry,
      wallet: client.wallet,
      chainId: deployment.chainId,
    });
    await assert.rejects(access.request(serviceB), /NotAllowed/, 'the contract refuses a non-member');
    const held = await access.request(serviceA);
    const { ticket, sessionKey } = await access.ticket(held.grantId);
    const b = hostVerifier(hostB, deployment, [serviceB]);
    await b.mirror.start();
    try {
      assert.throws(
        () =>
          b.verifier.verify({
            ticket,
            authenticator: createAuthenticator({
              ticket,
              sessionKey,
              clientPeerId: peerBytes(client.wallet),
              servicePeerId: peerBytes(hostB.wallet),
            }),
            remotePeerId: peerBytes(client.wallet),
          }),
        (err: unknown) => err instanceof TicketError,
      );
    } finally {
      await b.mirror.stop();
    }
  });
});
