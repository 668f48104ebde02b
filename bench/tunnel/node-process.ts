/**
 * bench helpers: a DIBS node in a process of its own (`script`: bench/tunnel/host.ts or connect.ts)
 * for a new party, run with the V8 settings of a real `dibs` process. Settings (the wallet key
 * included) go over IPC, never argv; `next(key)` takes the node's next answer carrying `key`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { DIBS_V8_OPTIONS } from '../../packages/cli/src/node-options.ts';
import type { ChainBed, ChainParty } from '../../packages/node/test/chain-nodes.ts';

/** A started node process. */
export interface NodeProcess {
  party: ChainParty;
  child: ChildProcess;
  next: <T = unknown>(key: string) => Promise<T>;
}

/** Forks `script` as the node of a new party named `name`. */
export async function startNodeProcess(
  bed: ChainBed,
  dir: string,
  script: URL,
  name: string,
  listen: string[],
  track: (child: ChildProcess) => void,
): Promise<NodeProcess> {
  const party = await bed.party(name);
  const child = fork(script, [], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    // Tickets (with bigints) cross to the connect processes.
    serialization: 'advanced',
    // BENCH_TUNNEL_HOST_ARGS adds node options for the node processes (e.g. --cpu-prof).
    execArgv: [
      '--expose-gc',
      ...DIBS_V8_OPTIONS,
      ...(process.env.BENCH_TUNNEL_HOST_ARGS ?? '').split(' ').filter(Boolean),
    ],
  });
  track(child);
  const replies: Array<Record<string, unknown>> = [];
  child.on('message', (m: Record<string, unknown>) => replies.push(m));
  const next = async <T>(key: string): Promise<T> => {
    for (let i = 0; i < 1200; i++) {
      const idx = replies.findIndex((m) => key in m || 'error' in m);
      if (idx >= 0) {
        const m = replies.splice(idx, 1)[0]!;
        if (!(key in m)) throw new Error(`${name}: ${String(m.error)}`);
        return m[key] as T;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`node process ${name} did not answer ${key}`);
  };
  const deployment = Object.fromEntries(
    Object.entries(bed.deployment).map(([k, v]) => [k, typeof v === 'bigint' ? `${v}n` : v]),
  );
  child.send({
    settings: {
      rpcUrl: bed.anvil.rpcUrl,
      deployment,
      privateKeyHex: party.wallet.exportPrivateKeyHex(),
      db: join(dir, `${name}.db`),
      listen,
    },
  });
  return { party, child, next };
}
