/**
 * The chain state a server consults without a chain round trip per request: grants, services and
 * registered keys in a GrantCache, fed by contract events (the node's chain mirror). A revocation
 * reaches the cache within one poll after its block, and invalidates every cached authorization.
 */
import { createChainClients, type Deployment } from '@dibs/chain';
import { GrantCache } from '@dibs/core';
import { ChainMirror, createLogger } from '@dibs/node';
import { openStore, type Store } from '@dibs/store';

/** Options of {@link startChainView}. */
export interface ChainViewOptions {
  rpcUrl: string;
  deployment: Deployment;
  /** SQLite file keeping the mirror across restarts; default in memory. */
  databasePath?: string;
  pollIntervalMs?: number;
}

/** A running view of the chain. */
export interface ChainView {
  readonly cache: GrantCache;
  /** Applies every event up to the head now (e.g. after a grant was just issued). */
  catchUp(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts following the DIBS contracts' events into a GrantCache. */
export async function startChainView(o: ChainViewOptions): Promise<ChainView> {
  const clients = await createChainClients({ rpcUrl: o.rpcUrl });
  const store: Store = openStore(o.databasePath ?? ':memory:');
  const cache = new GrantCache();
  const mirror = new ChainMirror({
    store,
    clients,
    deployment: o.deployment,
    cache,
    log: createLogger({ console: null }),
    ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
  });
  try {
    await mirror.start();
  } catch (err) {
    store.close();
    throw err;
  }
  return {
    cache,
    async catchUp() {
      await mirror.syncOnce();
    },
    async stop() {
      await mirror.stop();
      store.close();
    },
  };
}
