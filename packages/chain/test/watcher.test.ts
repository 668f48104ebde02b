import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { openStore, type Store } from '@dibs/store';
import { type Address, getAddress } from 'viem';
import type { ChainClients } from '../src/clients.ts';
import { WatcherError } from '../src/errors.ts';
import { type DecodedEvent, EventWatcher, type EventWatcherOptions } from '../src/watcher.ts';
import { deployPing, emitPings, pingAbi } from './fixtures/ping.ts';
import { fundedClients, NODE_BIN, startAnvil, tempDir, waitFor } from './helpers.ts';

const CHILD = join(import.meta.dirname, 'fixtures', 'watcher-child.ts');

async function setup(t: TestContext) {
  const anvil = await startAnvil(t);
  const clients = await fundedClients(anvil.rpcUrl);
  const ping = await deployPing(clients);
  const store = openStore(join(tempDir(t), 'node.db'));
  t.after(() => store.close());
  return { anvil, clients, ping, store };
}

function watcherFor(
  clients: ChainClients,
  store: Store,
  ping: { address: Address; block: bigint },
  overrides: Partial<EventWatcherOptions> & Pick<EventWatcherOptions, 'handler'>,
): EventWatcher {
  return new EventWatcher({
    name: 'pings',
    store,
    publicClient: clients.publicClient,
    contracts: [{ name: 'Ping', address: ping.address, abi: pingAbi }],
    fromBlock: ping.block,
    maxBlockRange: 2n,
    pollIntervalMs: 20,
    ...overrides,
  });
}

const ns = (events: DecodedEvent[]) => events.map((e) => Number(e.args.n as bigint));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('events arrive decoded, in (block, logIndex) order, once; a new instance resumes at the cursor', async (t) => {
  const { clients, ping, store } = await setup(t);
  await emitPings(clients, ping.address, 0, 30, 4);
  const seen: DecodedEvent[] = [];
  const calls: number[] = [];
  const w1 = watcherFor(clients, store, ping, {
    handler: (events) => {
      calls.push(events.length);
      seen.push(...events);
    },
  });
  const head = await clients.publicClient.getBlockNumber({ cacheTime: 0 });
  assert.equal(await w1.pollOnce(), head);
  assert.equal(w1.processedBlock, head);
  assert.equal(w1.lag, 0n);
  assert.deepEqual(ns(seen), range(0, 30));
  assert.ok(calls.length > 1, 'several bounded ranges');
  for (let i = 1; i < seen.length; i++) {
    const a = seen[i - 1]!;
    const b = seen[i]!;
    assert.ok(a.blockNumber < b.blockNumber || (a.blockNumber === b.blockNumber && a.logIndex < b.logIndex));
  }
  assert.ok(
    seen.some((e, i) => i > 0 && e.blockNumber === seen[i - 1]!.blockNumber),
    'several logs per block',
  );
  assert.equal(seen[0]!.contract, 'Ping');
  assert.equal(seen[0]!.eventName, 'Ping');
  assert.equal(seen[0]!.address, getAddress(ping.address));

  const again: DecodedEvent[] = [];
  const w2 = watcherFor(clients, store, ping, { handler: (events) => again.push(...events) });
  assert.equal(w2.processedBlock, head);
  await w2.pollOnce();
  assert.deepEqual(again, []);
  await emitPings(clients, ping.address, 30, 5, 2);
  await w2.pollOnce();
  assert.deepEqual(ns(again), range(30, 35));
});

test('confirmations hold back the newest blocks; background polling reports heads and waits', async (t) => {
  const { clients, ping, store } = await setup(t);
  await emitPings(clients, ping.address, 0, 6, 1);
  const seen: DecodedEvent[] = [];
  const heads: bigint[] = [];
  const w = watcherFor(clients, store, ping, {
    confirmations: 2,
    handler: (events) => seen.push(...events),
    onBlock: (h) => heads.push(h),
  });
  const head = await clients.publicClient.getBlockNumber({ cacheTime: 0 });
  await w.pollOnce();
  assert.equal(w.processedBlock, head - 2n);
  assert.deepEqual(ns(seen), range(0, 4));
  assert.deepEqual(heads, [head]);

  w.start();
  t.after(() => w.stop());
  await emitPings(clients, ping.address, 6, 4, 1);
  const newHead = await clients.publicClient.getBlockNumber({ cacheTime: 0 });
  await w.waitForBlock(newHead - 2n, 30_000);
  assert.deepEqual(ns(seen), range(0, 8));
  await waitFor('the new head to be reported', () => heads.includes(newHead));
  await assert.rejects(w.waitForBlock(newHead + 100n, 50), (err: unknown) => {
    return err instanceof WatcherError && err.code === 'WAIT_TIMEOUT';
  });
  await w.stop();
});

test('a failing or async handler commits nothing: the cursor stays and the range is retried', async (t) => {
  const { clients, ping, store } = await setup(t);
  await emitPings(clients, ping.address, 0, 3, 3);
  store.migrate('test.rows', [(db) => db.exec('CREATE TABLE rows (n INTEGER)')]);
  const start = ping.block - 1n;
  const failing = watcherFor(clients, store, ping, {
    handler: (events) => {
      for (const e of events) store.run('INSERT INTO rows (n) VALUES (?)', e.args.n as bigint);
      throw new Error('handler failed');
    },
  });
  await assert.rejects(failing.pollOnce(), /handler failed/);
  assert.equal(failing.processedBlock, start);
  const asyncOne = watcherFor(clients, store, ping, { handler: (async () => {}) as never });
  await assert.rejects(
    asyncOne.pollOnce(),
    (err: unknown) => err instanceof WatcherError && err.code === 'ASYNC_HANDLER',
  );
  assert.equal(
    (store.db.prepare('SELECT COUNT(*) AS c FROM rows').get() as { c: number }).c,
    0,
    'the handler writes were rolled back with the cursor',
  );
  const ok = watcherFor(clients, store, ping, {
    handler: (events) => {
      for (const e of events) store.run('INSERT INTO rows (n) VALUES (?)', e.args.n as bigint);
    },
  });
  await ok.pollOnce();
  assert.equal((store.db.prepare('SELECT COUNT(*) AS c FROM rows').get() as { c: number }).c, 3);
});

test('a chain that goes back under the cursor is detected: onRewind, then the new events', async (t) => {
  const { clients, ping, store } = await setup(t);
  await emitPings(clients, ping.address, 0, 4, 1);
  let seen: DecodedEvent[] = [];
  const rewinds: bigint[] = [];
  const errors: Error[] = [];
  const w = watcherFor(clients, store, ping, {
    maxBlockRange: 1n,
    handler: (events) => seen.push(...events),
    onRewind: (last) => {
      rewinds.push(last);
      seen = seen.filter((e) => e.blockNumber <= last);
    },
    onError: (err) => errors.push(err),
  });
  await w.pollOnce();
  const forkPoint = w.processedBlock;
  const snapshot = (await clients.publicClient.request({ method: 'evm_snapshot' as never })) as string;
  await emitPings(clients, ping.address, 100, 3, 1);
  await w.pollOnce();
  assert.deepEqual(ns(seen), [0, 1, 2, 3, 100, 101, 102]);
  await clients.publicClient.request({ method: 'evm_revert' as never, params: [snapshot] as never });
  await emitPings(clients, ping.address, 200, 5, 1);
  await w.pollOnce();
  assert.deepEqual(rewinds, [forkPoint]);
  assert.deepEqual(ns(seen), [0, 1, 2, 3, 200, 201, 202, 203, 204]);
  assert.ok(errors.some((e) => e instanceof WatcherError && e.code === 'CHAIN_REWOUND'));
});

test('exactly once across kill -9: a child recording events is killed mid-way and restarted', async (t) => {
  const { anvil, clients, ping } = await setup(t);
  const dbPath = join(tempDir(t), 'child.db');
  const total = 240;
  await emitPings(clients, ping.address, 0, 160, 3);

  const children: ChildProcess[] = [];
  t.after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  const startChild = () => {
    const child = spawn(NODE_BIN, [CHILD, dbPath, anvil.rpcUrl, ping.address, ping.block.toString(), '15'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return child;
  };
  const reader = openStore(dbPath);
  t.after(() => reader.close());
  const count = () => {
    try {
      return (reader.db.prepare('SELECT COUNT(*) AS c FROM pings').get() as { c: number }).c;
    } catch {
      return 0; // the child has not created the table yet
    }
  };
  const killWhenPast = async (child: ChildProcess, rows: number) => {
    await waitFor(`the child to record more than ${rows} events`, () => count() > rows, 60_000, 5);
    child.kill('SIGKILL');
    await waitFor('the child to die', () => child.signalCode !== null);
  };

  await killWhenPast(startChild(), 0);
  const afterFirstKill = count();
  assert.ok(afterFirstKill < 160, `killed mid-way (${afterFirstKill} of 160 recorded)`);

  const second = startChild();
  await emitPings(clients, ping.address, 160, total - 160, 4); // more events while it runs
  await killWhenPast(second, afterFirstKill);
  assert.ok(count() < total, 'second kill also lands mid-way');

  const third = startChild();
  await waitFor('every event to be recorded', () => count() >= total, 120_000, 20);
  third.kill('SIGTERM');
  await waitFor('the child to stop', () => third.exitCode !== null || third.signalCode !== null);

  const rows = reader.db.prepare('SELECT n, block, log_index FROM pings ORDER BY block, log_index').all() as {
    n: number;
    block: number;
    log_index: number;
  }[];
  assert.equal(rows.length, total, 'no event doubled');
  assert.deepEqual(
    rows.map((r) => r.n),
    range(0, total),
    'no event missed, and recorded in chain order',
  );
});

test('fuzz: logs that do not decode against the ABI are skipped, the rest still arrive', async (t) => {
  const { clients, ping, store } = await setup(t);
  const wallet = clients.walletClient!;
  const lengths = [0, 1, 5, 31, 33, 64, 100, 257];
  const expected: bigint[] = [];
  for (const [i, len] of lengths.entries()) {
    const bytes = new Uint8Array(len).map((_, j) => (i * 31 + j * 7) & 0xff);
    // Too short for a uint256: skipped. Longer: the ABI decoder reads the first word.
    if (len >= 32) expected.push(BigInt(`0x${Buffer.from(bytes.subarray(0, 32)).toString('hex')}`));
    await clients.publicClient.waitForTransactionReceipt({
      hash: await wallet.sendTransaction({
        to: ping.address,
        data: `0x${Buffer.from(bytes).toString('hex')}`,
      }),
    });
  }
  await emitPings(clients, ping.address, 7, 2, 1);
  const seen: DecodedEvent[] = [];
  const w = watcherFor(clients, store, ping, { handler: (events) => seen.push(...events) });
  await w.pollOnce();
  assert.deepEqual(
    seen.map((e) => e.args.n),
    [...expected, 7n, 8n],
  );
});
