/**
 * The chain mirror's memory and disk against a real anvil: expired grants are pruned from both on
 * the mirror's timer, and a chain that goes back (evm_snapshot / evm_revert, as a reorganization)
 * clears both and rebuilds them from events; a live session on a grant that is gone closes.
 */
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
import { Policy } from '@dibs/contracts';
import { encryptionKeyFromWallet, GrantCache, SessionRegistry, type TicketError, Wallet } from '@dibs/core';
import { openStore, type Store } from '@dibs/store';
import { ChainMirror } from '../src/access/index.ts';
import { createLogger } from '../src/daemon/log.ts';
import { waitFor } from './helpers.ts';

const log = createLogger({ console: null });

describe('chain mirror memory and disk', () => {
  let dir: string;
  let anvil: AnvilSupervisor;
  let deployment: Deployment;
  let writer: RegistryWriter;
  let rpc: (method: string, params?: unknown[]) => Promise<unknown>;
  const stores: Store[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dibs-mirror-'));
    anvil = new AnvilSupervisor({ dataDir: dir, silent: true });
    await anvil.start();
    const wallet = Wallet.generate();
    const clients = await createChainClients({ rpcUrl: anvil.rpcUrl, account: wallet.exportPrivateKeyHex() });
    rpc = (method, params = []) => clients.publicClient.request({ method, params } as never);
    await rpc('anvil_setBalance', [wallet.address, '0x3635C9ADC5DEA00000']);
    const store = openStore(join(dir, 'deploy.db'));
    deployment = await ensureDeployment({ store, clients });
    store.close();
    writer = new RegistryWriter(clients, deployment);
    await writer.registerIdentity(encryptionKeyFromWallet(wallet).publicKey);
  });

  after(async () => {
    for (const s of stores) s.close();
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function mirror(name: string, options: { now?: () => number; pruneIntervalMs?: number } = {}) {
    const store = openStore(join(dir, `${name}.db`));
    stores.push(store);
    const cache = new GrantCache();
    const clients = writer.clients;
    const m = new ChainMirror({ store, clients, deployment, cache, log, pollIntervalMs: 50, ...options });
    const rows = () =>
      (store.db.prepare('SELECT grant_id FROM mirror_grants').all() as Array<{ grant_id: string }>).map((r) =>
        BigInt(r.grant_id),
      );
    return { store, cache, mirror: m, rows };
  }

  const publish = (name: string, grantDuration: bigint) =>
    writer.publishService({
      serviceType: 'tcp',
      name,
      grantDuration,
      host: writer.clients.walletClient!.account!.address,
      policy: Policy.Public,
    });

  test('expired grants leave memory and disk on the mirror timer', async () => {
    const serviceId = await publish('short', 3600n);
    const grants: bigint[] = [];
    for (let i = 0; i < 3; i++) grants.push((await writer.requestAccess(serviceId)).grantId);
    // A clock two hours ahead: every one-hour grant is past expiry and the pruning grace.
    const m = mirror('prune', { now: () => Date.now() + 2 * 3600_000, pruneIntervalMs: 100 });
    await m.mirror.start();
    try {
      const gone = await waitFor(
        () => grants.every((g) => m.cache.grant(g) === undefined) && m.rows().length === 0,
        10_000,
      );
      assert.ok(gone, `left in memory ${m.cache.size.grants}, on disk ${m.rows().length}`);
    } finally {
      await m.mirror.stop();
    }
  });

  test('a rewound chain (evm_snapshot/evm_revert) clears memory and disk; the mirror rebuilds, its live session on a vanished grant closes', async () => {
    const serviceId = await publish('rewound', 3600n);
    const kept = (await writer.requestAccess(serviceId)).grantId;
    const m = mirror('rewind');
    await m.mirror.start();
    await m.mirror.stop();
    const snapshot = await rpc('evm_snapshot');
    const vanished = (await writer.requestAccess(serviceId)).grantId;
    await m.mirror.syncOnce();
    assert.ok(m.cache.grant(kept) && m.cache.grant(vanished), 'both grants mirrored');
    assert.ok(m.rows().includes(kept) && m.rows().includes(vanished), 'both grants on disk');
    const sessions = new SessionRegistry({ cache: m.cache });
    let closedWith: TicketError | undefined;
    sessions.register(
      {
        clientAddress: m.cache.grant(vanished)!.grantee,
        grantId: vanished,
        serviceId,
        serviceType: 'tcp',
        kind: 'service',
        sessionKey: new Uint8Array(32),
        expiresAt: Date.now() + 3600_000,
        ticketHash: new Uint8Array(32),
        clientPeerId: new Uint8Array(39),
      },
      (reason) => {
        closedWith = reason;
      },
    );

    assert.equal(await rpc('evm_revert', [snapshot]), true);
    await rpc('evm_mine');
    await m.mirror.syncOnce();
    assert.equal(m.cache.grant(vanished), undefined, 'the reverted grant is gone from memory');
    assert.ok(!m.rows().includes(vanished), 'and from disk');
    assert.ok(m.cache.grant(kept), 'the grant before the snapshot is rebuilt in memory');
    assert.ok(m.rows().includes(kept), 'and on disk');
    assert.ok(m.cache.service(serviceId)?.active, 'services are rebuilt too');
    assert.equal(closedWith?.code, 'UNKNOWN_GRANT');
    sessions.dispose();

    // A restart loads what is on disk: the same view.
    const again = new GrantCache();
    const reopened = new ChainMirror({
      store: m.store,
      clients: writer.clients,
      deployment,
      cache: again,
      log,
    });
    await reopened.start();
    await reopened.stop();
    assert.ok(again.grant(kept));
    assert.equal(again.grant(vanished), undefined);
  });
});
