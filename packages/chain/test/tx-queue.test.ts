import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { deployContracts } from '@dibs/contracts';
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { AnvilOptions } from '../src/anvil.ts';
import { createChainClients } from '../src/clients.ts';
import { RegistryWriter } from '../src/registry-writer.ts';
import { transactionQueueFor } from '../src/tx-queue.ts';
import { fundedKey, startAnvil } from './helpers.ts';

/** A chain with the contracts, and two writers signing with one key through separate clients. */
async function setup(t: TestContext, options: Partial<AnvilOptions> = {}) {
  const anvil = await startAnvil(t, options);
  const key: Hex = await fundedKey(anvil.rpcUrl);
  const first = await createChainClients({ rpcUrl: anvil.rpcUrl, account: key });
  const addresses = await transactionQueueFor(first).exclusive(() =>
    deployContracts({ walletClient: first.walletClient!, publicClient: first.publicClient }),
  );
  const second = await createChainClients({ rpcUrl: anvil.rpcUrl, account: key });
  return {
    anvil,
    key,
    a: new RegistryWriter(first, addresses),
    b: new RegistryWriter(second, addresses),
    queue: transactionQueueFor(first),
  };
}

const publish = (w: RegistryWriter, i: number) =>
  w.publishService({ serviceType: 'tcp', name: `svc-${i}`, grantDuration: 3600n });

test('one wallet, two writers, eleven concurrent writes: one queue, every write lands once', async (t) => {
  const { a, b, queue } = await setup(t);
  assert.equal(transactionQueueFor(b.clients), queue, 'clients of the same wallet and chain share the queue');
  await a.registerNode({
    peerId: new Uint8Array(38).fill(1),
    roles: 1,
    multiaddrs: ['/ip4/127.0.0.1/tcp/1'],
  });
  const before = await a.serviceCount();
  const sentBefore = queue.sent;
  let peakDepth = 0;
  const sampler = setInterval(() => {
    peakDepth = Math.max(peakDepth, queue.depth);
  }, 1);
  const publishes = Array.from({ length: 10 }, (_, i) => publish(i % 2 === 0 ? a : b, i));
  const roleUpdate = b.updateNode({ roles: 3, multiaddrs: ['/ip4/127.0.0.1/tcp/2'] });
  const [ids] = await Promise.all([Promise.all(publishes), roleUpdate]).finally(() => clearInterval(sampler));
  assert.equal(new Set(ids).size, 10, 'ten distinct services');
  assert.equal(await a.serviceCount(), before + 10n);
  assert.deepEqual(
    new Set((await Promise.all(ids.map((id) => a.getService(id)))).map((s) => s?.name)),
    new Set(Array.from({ length: 10 }, (_, i) => `svc-${i}`)),
  );
  assert.equal((await a.getNode(a.address))?.roles, 3, 'the role update landed among the publishes');
  assert.equal(queue.sent - sentBefore, 11);
  assert.ok(peakDepth > 1, `writes waited in the queue while one was sent (peak depth ${peakDepth})`);
  assert.equal(queue.depth, 0);
  assert.equal(queue.inFlight, 0);
});

test('a chain mining every second: writes pipelined with pending nonces all land', async (t) => {
  const { a, queue } = await setup(t, { blockTimeSeconds: 1 });
  const ids = await Promise.all(Array.from({ length: 5 }, (_, i) => publish(a, i)));
  assert.equal(new Set(ids).size, 5);
  assert.equal(queue.depth, 0);
});

test('another process taking the nonce this queue picked: the send reads the nonce again and lands', async (t) => {
  const { a, key, anvil, queue } = await setup(t);
  const other = await createChainClients({ rpcUrl: anvil.rpcUrl, account: key });
  const to = privateKeyToAccount(generatePrivateKey()).address;
  const nonces: number[] = [];
  const hash = await queue.send(a.clients, async (nonce) => {
    nonces.push(nonce);
    if (nonces.length === 1) {
      // Between the queue's nonce pick and its send, another process of this wallet spends it.
      const taken = await other.walletClient!.sendTransaction({ to, value: 1n, nonce });
      await other.publicClient.waitForTransactionReceipt({ hash: taken });
    }
    return a.clients.walletClient!.sendTransaction({ to, value: 2n, nonce });
  });
  assert.equal((await a.clients.publicClient.waitForTransactionReceipt({ hash })).status, 'success');
  assert.deepEqual(nonces, [nonces[0], nonces[0]! + 1], 'the refused nonce was read again from the chain');
  assert.equal(await a.clients.publicClient.getBalance({ address: to }), 3n);
});
