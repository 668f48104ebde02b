import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { deployContracts } from '@dibs/contracts';
import { openStore } from '@dibs/store';
import { zeroAddress } from 'viem';
import { createChainClients } from '../src/clients.ts';
import { NETWORK_GRANT_DURATION_SECONDS } from '../src/constants.ts';
import { ensureDeployment, loadDeployment } from '../src/deployer.ts';
import { DeploymentError, NoAccountError } from '../src/errors.ts';
import { RegistryReader } from '../src/registry-reader.ts';
import { RegistryWriter } from '../src/registry-writer.ts';
import { fundedKey, startAnvil, tempDir } from './helpers.ts';

test('first call deploys and publishes the network service; later calls reuse, also after an anvil restart', async (t) => {
  const dataDir = tempDir(t);
  const anvil = await startAnvil(t, { dataDir });
  const key = await fundedKey(anvil.rpcUrl);
  const clients = await createChainClients({ rpcUrl: anvil.rpcUrl, account: key });
  const dbPath = join(dataDir, 'node.db');
  let store = openStore(dbPath);
  t.after(() => store.close());
  const logs: string[] = [];
  const first = await ensureDeployment({ store, clients, chainId: 31337, log: (m) => logs.push(m) });
  assert.equal(first.action, 'deployed');
  assert.equal(first.source, 'deployed');
  assert.ok(first.networkServiceId > 0n);
  const service = await new RegistryReader(clients, first).getService(first.networkServiceId);
  assert.ok(service);
  assert.equal(service.serviceType, 'network');
  assert.equal(service.name, 'network');
  assert.equal(service.host, zeroAddress);
  assert.equal(service.price, 0n);
  assert.equal(service.policy, 0);
  assert.equal(service.grantDuration, NETWORK_GRANT_DURATION_SECONDS);
  assert.equal(service.owner, clients.account!.address);

  const blockBefore = await clients.publicClient.getBlockNumber();
  const second = await ensureDeployment({ store, clients, chainId: 31337 });
  assert.equal(second.action, 'reused');
  assert.deepEqual({ ...second, action: 'deployed' }, first);
  assert.equal(await clients.publicClient.getBlockNumber(), blockBefore, 'no transaction on reuse');

  // the record lives in the database, and the contracts in anvil's persisted state
  store.close();
  await anvil.stop();
  await anvil.start();
  store = openStore(dbPath);
  const { action: _action, ...recorded } = first;
  assert.deepEqual(loadDeployment(store, 31337), recorded);
  const afterRestart = await ensureDeployment({ store, clients, chainId: 31337 });
  assert.equal(afterRestart.action, 'reused');
  assert.equal(afterRestart.registry, first.registry);
  assert.equal(afterRestart.networkServiceId, first.networkServiceId);
});

test('a reset chain is detected (even when the same addresses hold code again) and redeployed', async (t) => {
  const anvilA = await startAnvil(t);
  const key = await fundedKey(anvilA.rpcUrl);
  const store = openStore(join(tempDir(t), 'node.db'));
  t.after(() => store.close());
  const a = await ensureDeployment({
    store,
    clients: await createChainClients({ rpcUrl: anvilA.rpcUrl, account: key }),
  });
  await anvilA.stop();

  // a fresh chain, same deployer key: nonce 0 again, so the contracts land at the same addresses
  const anvilB = await startAnvil(t);
  const rpcUrl = anvilB.rpcUrl;
  const fund = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'anvil_setBalance',
      params: [(await createChainClients({ rpcUrl, account: key })).account!.address, '0x3635c9adc5dea00000'],
    }),
  });
  assert.equal(fund.ok, true);
  const clientsB = await createChainClients({ rpcUrl, account: key });
  await clientsB.publicClient.request({ method: 'evm_mine' as never });
  const other = await deployContracts({
    walletClient: clientsB.walletClient!,
    publicClient: clientsB.publicClient,
  });
  assert.equal(other.registry, a.registry, 'same deployer and nonce give the same addresses');

  const logs: string[] = [];
  const b = await ensureDeployment({ store, clients: clientsB, log: (m) => logs.push(m) });
  assert.equal(b.action, 'redeployed');
  assert.notEqual(b.registry, a.registry);
  assert.ok(
    logs.some((m) => /was reset: block \d+ has hash/.test(m)),
    logs.join('\n'),
  );
  assert.equal((await ensureDeployment({ store, clients: clientsB })).action, 'reused');
});

test('a chain without the recorded code says so and redeploys', async (t) => {
  const anvilA = await startAnvil(t);
  const store = openStore(join(tempDir(t), 'node.db'));
  t.after(() => store.close());
  await ensureDeployment({
    store,
    clients: await createChainClients({ rpcUrl: anvilA.rpcUrl, account: await fundedKey(anvilA.rpcUrl) }),
  });
  const anvilB = await startAnvil(t);
  const logs: string[] = [];
  const clientsB = await createChainClients({
    rpcUrl: anvilB.rpcUrl,
    account: await fundedKey(anvilB.rpcUrl),
  });
  const b = await ensureDeployment({ store, clients: clientsB, log: (m) => logs.push(m) });
  assert.equal(b.action, 'redeployed');
  assert.ok(
    logs.some((m) => m.includes('was reset: no contract code at token')),
    logs.join('\n'),
  );
});

test('configured addresses are verified and used; wrong ones fail clearly; no account cannot deploy', async (t) => {
  const anvil = await startAnvil(t);
  const clients = await createChainClients({ rpcUrl: anvil.rpcUrl, account: await fundedKey(anvil.rpcUrl) });
  const deployed = await deployContracts({
    walletClient: clients.walletClient!,
    publicClient: clients.publicClient,
  });
  const writer = new RegistryWriter(clients, deployed);
  const networkServiceId = await writer.publishService({
    serviceType: 'network',
    name: 'network',
    grantDuration: 3600n,
  });
  const tcpId = await writer.publishService({ serviceType: 'tcp', name: 'ssh', grantDuration: 3600n });

  const readOnly = await createChainClients({ rpcUrl: anvil.rpcUrl });
  const store = openStore(join(tempDir(t), 'node.db'));
  t.after(() => store.close());
  const used = await ensureDeployment({
    store,
    clients: readOnly,
    configured: { ...deployed, networkServiceId },
  });
  assert.equal(used.action, 'configured');
  assert.equal(used.registry, deployed.registry);
  assert.equal(loadDeployment(store, 31337)?.networkServiceId, networkServiceId);

  await assert.rejects(
    ensureDeployment({ store, clients: readOnly, configured: { ...deployed, networkServiceId: tcpId } }),
    (err: unknown) =>
      err instanceof DeploymentError &&
      err.code === 'CONFIGURED_NETWORK_SERVICE_INVALID' &&
      /"tcp"/.test(err.message),
  );
  await assert.rejects(
    ensureDeployment({
      store,
      clients: readOnly,
      configured: {
        ...deployed,
        registry: readOnly.account?.address ?? '0x000000000000000000000000000000000000dEaD',
        networkServiceId,
      },
    }),
    (err: unknown) =>
      err instanceof DeploymentError &&
      err.code === 'CONFIGURED_CONTRACTS_MISSING' &&
      err.message.includes('registry 0x'),
  );
  const empty = openStore(join(tempDir(t), 'empty.db'));
  t.after(() => empty.close());
  await assert.rejects(ensureDeployment({ store: empty, clients: readOnly }), NoAccountError);
});
