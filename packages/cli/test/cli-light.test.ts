/**
 * `dibs up --light` as a process: a full node (`dibs up`, embedded anvil, signing checkpoints) and a
 * light node started from a fresh data dir whose config pins the full node's checkpoint and signer.
 * The light node's status shows light mode and an accepted checkpoint that moves forward as the
 * chain grows; both processes are stopped by PID.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lastJson, runCli, startCli, stopChild, tempHome } from './cli-helpers.ts';

interface UpJson {
  address: string;
  chain: { rpcUrl: string; chainId: number; contracts: Record<string, string> };
  network: { multiaddrs: string[] };
  api: { url: string; tokenFile: string };
}

interface Trust {
  mode: 'full' | 'light';
  checkpoint: { number: string; blockHash: string; stateRoot: string } | null;
  signers: string[];
  nodeSet: string[];
  required: number;
}

const running = (stdout: string) => stdout.includes('"status":"running"');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The node's management API, as its `up --json` output names it. */
function apiOf(up: UpJson): (path: string) => Promise<unknown> {
  const token = readFileSync(up.api.tokenFile, 'utf8').trim();
  return async (path) => {
    const res = await fetch(new URL(path, up.api.url), {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    return res.json();
  };
}

/** Polls the node's `GET /api/v1/chain` until its trust satisfies `check` (bounded, a second apart). */
async function trustUntil(
  up: UpJson,
  check: (t: Trust | null) => boolean,
  attempts = 120,
  between?: () => Promise<void>,
): Promise<Trust | null> {
  const api = apiOf(up);
  let last: Trust | null = null;
  for (let i = 0; i < attempts; i++) {
    last = ((await api('/api/v1/chain')) as { trust?: Trust }).trust ?? null;
    if (check(last)) return last;
    await between?.();
    await sleep(1_000);
  }
  return last;
}

/** One JSON-RPC call to the full node's anvil. */
async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

describe('dibs up --light against a full node', () => {
  const fullHome = tempHome();
  const lightHome = tempHome();
  let full: Awaited<ReturnType<typeof startCli>>;
  let light: Awaited<ReturnType<typeof startCli>> | undefined;
  let upFull: UpJson;

  before(async () => {
    full = await startCli(['up', '--json'], fullHome.env, running, 180_000);
    upFull = lastJson<UpJson>(full.output().stdout);
  });
  after(async () => {
    if (light) await stopChild(light.child);
    await stopChild(full.child);
    fullHome.cleanup();
    lightHome.cleanup();
  });

  test('the light node pins the full node checkpoint, reports light mode and follows newer checkpoints', async () => {
    const fullTrust = await trustUntil(upFull, (t) => t?.checkpoint != null);
    assert.equal(fullTrust?.mode, 'full', 'a node running its own chain signs checkpoints');
    assert.ok(fullTrust?.checkpoint, 'the full node signed a checkpoint');
    assert.deepEqual(fullTrust.signers, [upFull.address]);
    const pinned = fullTrust.checkpoint;
    // A fresh wallet gets its gas through anvil_setBalance, which rewrites the head block's state in
    // place: move the head past the pinned block first.
    await rpc(upFull.chain.rpcUrl, 'evm_mine');

    mkdirSync(lightHome.home, { recursive: true });
    writeFileSync(
      join(lightHome.home, 'config.json'),
      JSON.stringify({
        chain: { mode: 'rpc', rpcUrl: upFull.chain.rpcUrl, contracts: upFull.chain.contracts },
        node: {
          listen: ['/ip4/127.0.0.1/tcp/0'],
          // The pinned checkpoint is some blocks old by the time the node is up (its own registration
          // and grant are blocks too): a bound this wide lets it admit the full node it follows.
          chainView: {
            refuseAfterBlocks: 64,
            refuseAfterMs: 300_000,
            closeAfterBlocks: 128,
            closeAfterMs: 600_000,
          },
          bootstrap: upFull.network.multiaddrs.filter((m) => m.startsWith('/ip4/127.0.0.1/tcp/')),
          light: {
            checkpoint: {
              chainId: upFull.chain.chainId,
              number: pinned.number,
              blockHash: pinned.blockHash,
              stateRoot: pinned.stateRoot,
            },
            signers: [upFull.address],
          },
        },
      }),
    );
    light = await startCli(['up', '--light', '--json'], lightHome.env, running, 180_000);
    const upLight = lastJson<UpJson>(light.output().stdout);

    const first = await trustUntil(upLight, (t) => t?.mode === 'light' && t.checkpoint != null);
    assert.equal(first?.mode, 'light', `the light node reports light mode: ${JSON.stringify(first)}`);
    assert.equal(first.required, 1, 'one trusted full node: it must sign');
    assert.ok(BigInt(first.checkpoint!.number) >= BigInt(pinned.number));

    // New blocks: the full node signs newer checkpoints, the light node accepts them.
    const moved = await trustUntil(
      upLight,
      (t) => t?.checkpoint != null && BigInt(t.checkpoint.number) > BigInt(pinned.number),
      120,
      async () => {
        await rpc(upFull.chain.rpcUrl, 'evm_mine');
      },
    );
    assert.ok(
      moved?.checkpoint && BigInt(moved.checkpoint.number) > BigInt(pinned.number),
      `the accepted checkpoint moved past the pinned one: ${JSON.stringify(moved)}\n${light.output().stderr.slice(-3000)}`,
    );
    assert.deepEqual(moved.signers, [upFull.address], 'signed by the trusted full node');
    assert.deepEqual(moved.nodeSet, [upFull.address], 'the node set proven at that checkpoint');

    // `dibs status --json` shows the same.
    const status = await runCli(['status', '--json'], lightHome.env);
    assert.equal(status.code, 0, status.stderr);
    const shown = lastJson<{ trust: Trust | null }>(status.stdout).trust;
    assert.equal(shown?.mode, 'light');
    assert.ok(shown?.checkpoint && BigInt(shown.checkpoint.number) > BigInt(pinned.number));
  });

  test('dibs up --light without a pinned checkpoint says what to set', async () => {
    const lonely = tempHome();
    try {
      mkdirSync(lonely.home, { recursive: true });
      writeFileSync(
        join(lonely.home, 'config.json'),
        JSON.stringify({
          chain: { mode: 'rpc', rpcUrl: upFull.chain.rpcUrl, contracts: upFull.chain.contracts },
        }),
      );
      const r = await runCli(['up', '--light', '--json'], lonely.env);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr + r.stdout, /node\.light\.checkpoint/);
    } finally {
      lonely.cleanup();
    }
  });
});
