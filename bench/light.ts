/**
 * Light-node bench on a real anvil with 10 registered full nodes.
 *
 * - sync bytes: what a light node downloads to move its trusted checkpoint one window forward — the
 *   10 full nodes' signed checkpoints (their JSON on the checkpoint protocol), the RPC's block header
 *   and the eth_getProof answers that prove the next node set — beside the baseline, a full-trust node
 *   reading the same node set with eth_call (bootstrapNodes + getNode per node). Goal ≤ 20 KB.
 * - proof verifications per second: an eth_getProof answer for one grant (account proof + storage
 *   proof) verified against the state root, on one core. Goal ≥ 2,000/s.
 * - added latency of a proven grant check (eth_getProof + verification) over a trusted read
 *   (eth_call getGrant), both over loopback to anvil: medians, printed.
 * - idle RSS: a process holding a light node's chain state (store, reader, follower over 10 full
 *   nodes) vs one holding a full-trust node's (viem clients + chain mirror's grant cache), after GC.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RegistryReader } from '@dibs/chain';
import { toHex } from 'viem';
import { CheckpointStore } from '../packages/light/src/checkpoint-store.ts';
import { LightClient } from '../packages/light/src/light-client.ts';
import { ProvenStorageRoots, verifyProof } from '../packages/light/src/proof.ts';
import { rpcCall } from '../packages/light/src/rpc.ts';
import { grantSlot } from '../packages/light/src/slots.ts';
import { VerifiedReader } from '../packages/light/src/verified-reader.ts';
import { fullNodeSources, type Party, startBed } from '../packages/light/test/fixture.ts';

const FULL_NODES = Number(process.env.BENCH_LIGHT_FULL_NODES ?? 10);
const CLIENTS = Number(process.env.BENCH_LIGHT_CLIENTS ?? 20);
const VERIFY_MS = Number(process.env.BENCH_LIGHT_VERIFY_MS ?? 3000);
const READS = Number(process.env.BENCH_LIGHT_READS ?? 200);
const SYNC_GOAL_BYTES = 20 * 1024;
const VERIFY_GOAL = 2000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--rss-child') return rssChild();
  const bed = await startBed();
  try {
    process.stdout.write(`registering ${FULL_NODES} full nodes and ${CLIENTS} clients with grants…\n`);
    const full: Party[] = [];
    for (let i = 0; i < FULL_NODES; i++) {
      const p = await bed.party();
      await bed.addFullNode(p);
      full.push(p);
    }
    const owner = await bed.party();
    const serviceId = await bed.publish(owner);
    const grants: bigint[] = [];
    for (let i = 0; i < CLIENTS; i++)
      grants.push((await (await bed.party()).registry.requestAccess(serviceId)).grantId);

    // --- sync: one window forward (a registration and new grants happen meanwhile)
    const genesis = await bed.checkpoint();
    const sources = fullNodeSources(bed, full);
    const setReader = new VerifiedReader({
      rpcUrls: [bed.rpcUrl],
      deployment: bed.deployment,
      checkpoint: () => genesis,
    });
    const startSet = await setReader.nodeSet(genesis);
    const store = new CheckpointStore({ genesis, signers: startSet, registry: bed.deployment.registry });
    const reader = new VerifiedReader({
      rpcUrls: [bed.rpcUrl],
      deployment: bed.deployment,
      checkpoint: () => store.latest().checkpoint,
    });
    const light = new LightClient({
      store,
      reader,
      sources: () => sources,
    });
    for (let i = 0; i < 5; i++) await (await bed.party()).registry.requestAccess(serviceId);
    const moved = await light.syncOnce();
    if (!moved) throw new Error(`the light node did not move forward: ${light.lastError?.message}`);
    const syncProofBytes = light.proofBytes + reader.bytesDownloaded;
    const syncBytes = light.checkpointBytes + syncProofBytes;
    // Baseline: a full-trust node reading the same set with eth_call (no proof, nothing signed).
    let trustedBytes = 0;
    const origFetch = globalThis.fetch;
    const countingFetch: typeof fetch = async (input, init) => {
      const res = await origFetch(input, init);
      const body = await res.arrayBuffer();
      trustedBytes += body.byteLength;
      return new Response(body, { status: res.status, headers: res.headers });
    };
    globalThis.fetch = countingFetch;
    try {
      const chain = new RegistryReader(bed.operator.clients, bed.deployment);
      const nodes = await chain.getBootstrapNodes();
      for (const n of nodes) await chain.getNode(n);
    } finally {
      globalThis.fetch = origFetch;
    }

    // --- proof verifications per second
    const cp = store.latest().checkpoint;
    const key = grantSlot(grants[0]!);
    const answer = await rpcCall(bed.rpcUrl, 'eth_getProof', [
      bed.deployment.accessGrants,
      [key],
      toHex(cp.number),
    ]);
    // Per second of this process's CPU time (one core): on a machine shared with other jobs the wall
    // clock measures the neighbours; the wall-clock rate is printed beside it.
    const rate = async (roots?: ProvenStorageRoots) => {
      let n = 0;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      while (performance.now() - t0 < VERIFY_MS) {
        await verifyProof(cp.stateRoot, bed.deployment.accessGrants, [key], answer, roots);
        n++;
      }
      const cpu = process.cpuUsage(c0);
      return {
        cpu: Math.round((n * 1e6) / (cpu.user + cpu.system)),
        wall: Math.round((n * 1000) / (performance.now() - t0)),
      };
    };
    // Headline: a grant read at an accepted checkpoint, as the reader does it — the contract's account
    // is proven once per checkpoint, each read's storageHash checked against it and its storage proof verified.
    const verify = await rate(new ProvenStorageRoots());
    const verifyCold = await rate();
    const verifyPerSec = verify.cpu;
    const verifyColdPerSec = verifyCold.cpu;

    // --- latency: proven grant check vs trusted read
    const chain = new RegistryReader(bed.operator.clients, bed.deployment);
    await reader.grant(grants[0]!);
    const proven: number[] = [];
    const trusted: number[] = [];
    for (let i = 0; i < READS; i++) {
      const id = grants[i % grants.length]!;
      let t = performance.now();
      await chain.getGrant(id);
      trusted.push(performance.now() - t);
      t = performance.now();
      await reader.grant(id);
      proven.push(performance.now() - t);
    }
    const provenMs = median(proven);
    const trustedMs = median(trusted);

    // --- idle RSS of the two kinds of chain state, each in its own process
    const rss = async (mode: string) =>
      new Promise<number>((resolve, reject) => {
        const child = fork(fileURLToPath(import.meta.url), ['--rss-child'], {
          env: {
            ...process.env,
            BENCH_LIGHT_MODE: mode,
            BENCH_LIGHT_RPC: bed.rpcUrl,
            BENCH_LIGHT_DEPLOYMENT: JSON.stringify(bed.deployment, (_k, v) =>
              typeof v === 'bigint' ? v.toString() : v,
            ),
            BENCH_LIGHT_GENESIS: JSON.stringify({ ...cp, number: cp.number.toString() }),
            BENCH_LIGHT_SET: JSON.stringify(store.trusted()),
          },
          execArgv: ['--expose-gc'],
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        });
        child.once('message', (m) => {
          resolve(Number(m));
          child.kill('SIGTERM');
        });
        child.once('exit', (code) => code && reject(new Error(`rss child exited ${code}`)));
      });
    const lightRss = await rss('light');
    const fullRss = await rss('full');

    const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    console.log('');
    console.log(
      `sync one window, ${FULL_NODES} full nodes      light (signed + proven) ${kb(syncBytes)}   full-trust eth_call ${kb(trustedBytes)}   ratio ${(syncBytes / trustedBytes).toFixed(2)}`,
    );
    console.log(
      `  of which checkpoints ${kb(light.checkpointBytes)}, header + node-set proofs ${kb(syncProofBytes)}`,
    );
    console.log(
      `proof verifications                    ${verifyPerSec}/s per CPU second (${verify.wall}/s wall) — a grant's storage proof, its account proven once per checkpoint; with the account proof each time ${verifyColdPerSec}/s (${verifyCold.wall}/s wall)`,
    );
    console.log(
      `grant check latency (median)           proven ${provenMs.toFixed(2)} ms   trusted ${trustedMs.toFixed(2)} ms   added ${(provenMs - trustedMs).toFixed(2)} ms`,
    );
    console.log(
      `idle RSS of the chain-state process    light ${lightRss.toFixed(1)} MiB   full-trust ${fullRss.toFixed(1)} MiB   ratio ${(lightRss / fullRss).toFixed(2)}`,
    );
    const figures = {
      full_nodes: FULL_NODES,
      sync_bytes: syncBytes,
      sync_checkpoint_bytes: light.checkpointBytes,
      sync_proof_bytes: syncProofBytes,
      trusted_set_read_bytes: trustedBytes,
      sync_ratio: Math.round((syncBytes / trustedBytes) * 100) / 100,
      proof_verifications_per_sec: verifyPerSec,
      proof_verifications_with_account_per_sec: verifyColdPerSec,
      proof_verifications_wall_per_sec: verify.wall,
      proven_grant_ms: Math.round(provenMs * 1000) / 1000,
      trusted_grant_ms: Math.round(trustedMs * 1000) / 1000,
      added_latency_ms: Math.round((provenMs - trustedMs) * 1000) / 1000,
      light_idle_rss_mib: Math.round(lightRss * 10) / 10,
      full_idle_rss_mib: Math.round(fullRss * 10) / 10,
    };
    console.log(
      JSON.stringify({
        bench: 'light',
        figures,
        goals: {
          sync_bytes: { value: syncBytes, goal: SYNC_GOAL_BYTES, met: syncBytes <= SYNC_GOAL_BYTES },
          proof_verifications_per_sec: {
            value: verifyPerSec,
            goal: VERIFY_GOAL,
            met: verifyPerSec >= VERIFY_GOAL,
          },
        },
      }),
    );
  } finally {
    await bed.stop();
  }
}

/** Holds one kind of chain state idle, then reports its RSS (MiB) after a GC. */
async function rssChild(): Promise<void> {
  const deployment = JSON.parse(process.env.BENCH_LIGHT_DEPLOYMENT!);
  deployment.deployedAtBlock = BigInt(deployment.deployedAtBlock);
  deployment.networkServiceId = BigInt(deployment.networkServiceId);
  const rpcUrl = process.env.BENCH_LIGHT_RPC!;
  const keep: unknown[] = [];
  if (process.env.BENCH_LIGHT_MODE === 'light') {
    const g = JSON.parse(process.env.BENCH_LIGHT_GENESIS!);
    const store = new CheckpointStore({
      genesis: { ...g, number: BigInt(g.number) },
      signers: JSON.parse(process.env.BENCH_LIGHT_SET!),
      registry: deployment.registry,
    });
    const reader = new VerifiedReader({
      rpcUrls: [rpcUrl],
      deployment,
      checkpoint: () => store.latest().checkpoint,
    });
    await reader.nodeSet();
    keep.push(store, reader, new LightClient({ store, reader, sources: () => [] }));
  } else {
    const { createChainClients } = await import('@dibs/chain');
    const { GrantCache } = await import('@dibs/core');
    const clients = await createChainClients({ rpcUrl });
    const chain = new RegistryReader(clients, deployment);
    await chain.getBootstrapNodes();
    keep.push(clients, chain, new GrantCache());
  }
  await new Promise((r) => setTimeout(r, 500));
  (globalThis as { gc?: () => void }).gc?.();
  process.send!(process.memoryUsage().rss / 1024 / 1024);
  setInterval(() => keep.length, 1000);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
