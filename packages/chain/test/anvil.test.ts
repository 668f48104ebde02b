import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { type AnvilEvent, AnvilSupervisor, probeChainId } from '../src/anvil.ts';
import { createChainClients } from '../src/clients.ts';
import { AnvilStartError } from '../src/errors.ts';
import { fundedClients, isAlive, NODE_BIN, startAnvil, tempDir, waitFor } from './helpers.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'anvil-parent.ts');

function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

test('start: anvil answers RPC with the pinned chain id, its pid is anvil, logs go to the data dir', async (t) => {
  const dataDir = tempDir(t);
  const events: AnvilEvent[] = [];
  const anvil = await startAnvil(t, { dataDir, chainId: 31338, onEvent: (e) => events.push(e) });
  assert.equal(anvil.state, 'running');
  assert.ok(anvil.port > 0);
  assert.equal(await probeChainId(anvil.rpcUrl, 2000), 31338);
  const pid = anvil.pid;
  assert.ok(pid !== undefined && isAlive(pid));
  assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /anvil\0/);
  assert.equal(readFileSync(anvil.pidPath, 'utf8').trim(), String(pid));
  assert.ok(existsSync(anvil.logPath));
  assert.deepEqual(
    events.map((e) => e.state),
    ['starting', 'running'],
  );
  const clients = await createChainClients({ rpcUrl: anvil.rpcUrl });
  const block = await clients.publicClient.getBlock();
  // cancun fields present means the hardfork pin took effect
  assert.equal(typeof block.blobGasUsed, 'bigint');
});

test('state persists across stop/start (SIGTERM writes it, not only the interval)', async (t) => {
  const dataDir = tempDir(t);
  const anvil = await startAnvil(t, { dataDir, stateIntervalSeconds: 3600 });
  const clients = await fundedClients(anvil.rpcUrl);
  const to = privateKeyToAccount(generatePrivateKey()).address;
  const hash = await clients.walletClient!.sendTransaction({ to, value: parseEther('1.5') });
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, 'success');
  const port = anvil.port;
  const oldPid = anvil.pid!;
  await anvil.stop();
  assert.equal(anvil.state, 'stopped');
  assert.equal(isAlive(oldPid), false);
  assert.equal(await portIsClosed(port), true);
  assert.equal(existsSync(anvil.pidPath), false);
  assert.ok(existsSync(anvil.statePath));

  await anvil.start();
  assert.equal(anvil.port, port, 'a restarted supervisor keeps its port');
  const again = await createChainClients({ rpcUrl: anvil.rpcUrl });
  assert.equal(await again.publicClient.getBalance({ address: to }), parseEther('1.5'));
  const stored = await again.publicClient.getTransactionReceipt({ hash });
  assert.equal(stored.blockNumber, receipt.blockNumber);
});

test('kill -9 of anvil: the supervisor logs it, restarts it on the same port from the saved state', async (t) => {
  const dataDir = tempDir(t);
  const events: AnvilEvent[] = [];
  const anvil = await startAnvil(t, { dataDir, onEvent: (e) => events.push(e) });
  const clients = await fundedClients(anvil.rpcUrl);
  const to = privateKeyToAccount(generatePrivateKey()).address;
  const hash = await clients.walletClient!.sendTransaction({ to, value: 7n });
  await clients.publicClient.waitForTransactionReceipt({ hash });
  // the state interval is 1 s: wait until the dump holds the transaction before killing
  await waitFor(
    'the state file to hold the transaction',
    () => existsSync(anvil.statePath) && readFileSync(anvil.statePath, 'utf8').includes(hash.slice(2)),
  );
  const url = anvil.rpcUrl;
  const oldPid = anvil.pid!;
  process.kill(oldPid, 'SIGKILL');
  await waitFor('a restart', () =>
    events.some((e) => e.state === 'running' && e.message.includes('restarted')),
  );
  const restarting = events.find((e) => e.state === 'restarting');
  assert.ok(restarting);
  assert.equal(restarting.message, 'anvil exited with code 137 (SIGKILL); restarting (attempt 1)');
  assert.match(
    readFileSync(anvil.logPath, 'utf8'),
    /anvil exited with code 137 \(SIGKILL\); restarting \(attempt 1\)/,
  );
  assert.equal(anvil.rpcUrl, url);
  assert.notEqual(anvil.pid, oldPid);
  assert.equal(await probeChainId(url, 2000), 31337);
  // the existing clients keep working against the same URL
  assert.equal(await clients.publicClient.getBalance({ address: to }), 7n);
});

test('repeated crashes: the supervisor gives up after the bounded number of restarts', async (t) => {
  const events: AnvilEvent[] = [];
  const anvil = await startAnvil(t, { maxRestarts: 2, restartBackoffMs: 10, onEvent: (e) => events.push(e) });
  for (let i = 0; i < 3; i++) {
    const pid = await waitFor('anvil running', () => anvil.state === 'running' && anvil.pid);
    process.kill(pid, 'SIGKILL');
    await waitFor('the exit to be seen', () => anvil.state !== 'running' || anvil.pid !== pid);
  }
  await waitFor('the supervisor to give up', () => anvil.state === 'failed');
  const last = events.at(-1)!;
  assert.match(last.message, /giving up after 2 restarts/);
  assert.equal(events.filter((e) => e.state === 'restarting').length, 2);
  assert.equal(anvil.pid, undefined);
});

test('a second anvil on a taken port fails with a typed error naming the log', async (t) => {
  const first = await startAnvil(t);
  const second = new AnvilSupervisor({ dataDir: tempDir(t), port: first.port, maxRestarts: 0 });
  t.after(() => second.stop());
  await assert.rejects(second.start(), (err: unknown) => {
    assert.ok(err instanceof AnvilStartError);
    assert.equal(err.code, 'ANVIL_START_FAILED');
    assert.match(err.message, /anvil\.log/);
    return true;
  });
  assert.equal(second.state, 'failed');
});

function spawnParent(t: import('node:test').TestContext, dataDir: string, mode: 'throw' | 'hang') {
  const child = spawn(NODE_BIN, [FIXTURE, dataDir, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.resume();
  return {
    child,
    info: () =>
      waitFor('the parent to report anvil', () => {
        const line = out.split('\n')[0];
        return out.includes('\n') && line
          ? (JSON.parse(line) as { pid: number; watchdogPid: number; rpcUrl: string })
          : undefined;
      }),
  };
}

test('a crashing parent does not leave anvil running', async (t) => {
  const dataDir = tempDir(t);
  const parent = spawnParent(t, dataDir, 'throw');
  const { pid } = await parent.info();
  t.after(() => {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  });
  await waitFor('the parent to die', () => parent.child.exitCode !== null);
  assert.notEqual(parent.child.exitCode, 0);
  await waitFor('anvil to exit after its parent crashed', () => !isAlive(pid));
});

test('kill -9 of the parent: its watchdog stops anvil within a bound', async (t) => {
  const dataDir = tempDir(t);
  const parent = spawnParent(t, dataDir, 'hang');
  const { pid, watchdogPid } = await parent.info();
  t.after(() => {
    for (const p of [pid, watchdogPid]) if (isAlive(p)) process.kill(p, 'SIGKILL');
  });
  assert.ok(isAlive(watchdogPid), 'a watchdog runs beside anvil');
  parent.child.kill('SIGKILL');
  await waitFor('the parent to die', () => parent.child.signalCode !== null);
  // The bound: anvil's stop timeout (SIGTERM, then SIGKILL) plus slack for a loaded machine.
  await waitFor('anvil to exit after its parent was killed', () => !isAlive(pid), 20_000);
  await waitFor('the watchdog to exit', () => !isAlive(watchdogPid), 20_000);
  assert.equal(
    existsSync(join(dataDir, 'chain', 'anvil-state.json')),
    true,
    'anvil wrote its state on SIGTERM',
  );
});

test('a stopped supervisor leaves no watchdog behind; a crashed anvil gets a new one', async (t) => {
  const anvil = await startAnvil(t);
  const first = anvil.watchdogPid!;
  assert.ok(isAlive(first));
  process.kill(anvil.pid!, 'SIGKILL');
  await waitFor('the old watchdog to go', () => !isAlive(first));
  const second = await waitFor(
    'a restart with a new watchdog',
    () => anvil.state === 'running' && anvil.watchdogPid,
  );
  assert.notEqual(second, first);
  await anvil.stop();
  await waitFor('the watchdog to go with anvil', () => !isAlive(second));
});

test('an anvil orphaned with its watchdog (both killed -9) is stopped by the next start on that data dir', async (t) => {
  const dataDir = tempDir(t);
  const parent = spawnParent(t, dataDir, 'hang');
  const { pid, watchdogPid } = await parent.info();
  t.after(() => {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  });
  process.kill(watchdogPid, 'SIGKILL');
  await waitFor('the watchdog to die', () => !isAlive(watchdogPid));
  parent.child.kill('SIGKILL');
  await waitFor('the parent to die', () => parent.child.signalCode !== null);
  assert.equal(isAlive(pid), true, 'without parent and watchdog, anvil is left running');
  const anvil = await startAnvil(t, { dataDir });
  assert.equal(isAlive(pid), false);
  assert.notEqual(anvil.pid, pid);
  assert.match(readFileSync(anvil.logPath, 'utf8'), new RegExp(`found anvil pid ${pid} left running`));
});

test('a pid file naming a process that is not our anvil is left alone', async (t) => {
  const dataDir = tempDir(t);
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => {
    if (stranger.exitCode === null && stranger.signalCode === null) stranger.kill('SIGKILL');
  });
  mkdirSync(join(dataDir, 'chain'), { recursive: true });
  writeFileSync(join(dataDir, 'chain', 'anvil.pid'), `${stranger.pid}\n`);
  await startAnvil(t, { dataDir });
  assert.equal(isAlive(stranger.pid!), true);
});
