/**
 * bench/tunnel helpers' shared start: a DIBS node in this process, from settings the bench sends as
 * the first IPC message (the wallet key included: never in argv). Counts external memory in V8's
 * global limit, as every `dibs` process does (packages/cli/src/v8-flags.ts).
 */
import { setFlagsFromString } from 'node:v8';
import { createChainClients, RegistryWriter } from '@dibs/chain';
import { Wallet } from '@dibs/core';
import { openStore } from '@dibs/store';
import { createLogger } from '../../packages/node/src/daemon/log.ts';
import { type NetworkRuntime, startNetwork } from '../../packages/node/src/daemon/network.ts';
import { setReleaseAfterWrite } from '../../packages/node/src/tunnel/index.ts';

// A node's buffers live outside the JS heap; by default every ~64 MiB of them forces a full GC of
// the whole heap, which dominates a data path in a process with a big heap (docs/tunnel.md).
// BENCH_TUNNEL_EXTERNAL_IN_GLOBAL_LIMIT=0 measures with V8's default instead.
if (process.env.BENCH_TUNNEL_EXTERNAL_IN_GLOBAL_LIMIT !== '0') {
  setFlagsFromString('--external-memory-accounted-in-global-limit');
}

/** What the bench sends a node process first. */
export interface NodeSettings {
  rpcUrl: string;
  /** The deployment, bigints as `"<digits>n"` strings. */
  deployment: Record<string, unknown>;
  privateKeyHex: `0x${string}`;
  db: string;
  listen: string[];
}

/** A started node and what it was started with. */
export interface BenchNode {
  node: NetworkRuntime;
  wallet: Wallet;
  deployment: { chainId: number; accessGrants: string } & Record<string, unknown>;
}

/** Waits for the settings message and starts the node they describe. */
export async function startBenchNode(): Promise<BenchNode> {
  const input = await new Promise<NodeSettings>((resolve) =>
    process.once('message', (m: { settings: NodeSettings }) => resolve(m.settings)),
  );
  const deployment = Object.fromEntries(
    Object.entries(input.deployment).map(([k, v]) => [
      k,
      typeof v === 'string' && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
    ]),
  ) as never;
  const wallet = Wallet.fromPrivateKey(input.privateKeyHex);
  const clients = await createChainClients({ rpcUrl: input.rpcUrl, account: input.privateKeyHex });
  const node = await startNetwork({
    chain: {
      clients,
      deployment,
      registry: new RegistryWriter(clients, deployment),
      supervisor: undefined,
      deploymentAction: 'configured',
      stop: async () => {},
    },
    store: openStore(input.db),
    wallet,
    log: createLogger({ console: null }),
    settings: { listen: input.listen },
  });
  // BENCH_TUNNEL_RELEASE=0 leaves record buffers to the garbage collector (release.ts).
  if (process.env.BENCH_TUNNEL_RELEASE === '0') setReleaseAfterWrite(false);
  // A kill from the bench ends the process through exit, so --cpu-prof and exit hooks still run.
  process.on('SIGTERM', () => process.exit(0));
  return { node, wallet, deployment };
}
