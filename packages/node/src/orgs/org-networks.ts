/**
 * The organization networks of one node: joined at start (`dibs up --org`, config, and those joined
 * at run time before), joined and left at run time (`dibs org join|leave`), remembered in the node's
 * database. Each is an {@link OrgNetwork} of its own; leaving one stops only its host.
 */
import type { Logger } from '../daemon/log.ts';
import { MAX_ORG_NETWORKS, FLEET_RELAYS_KEY } from './constants.ts';
import { OrgNetworkError } from './errors.ts';
import { OrgNetwork, type OrgNetworkDeps, type OrgNetworkStatus } from './org-network.ts';

const STORE_NAMESPACE = 'org-networks';
const MIGRATIONS = [
  (db: OrgNetworkDeps['store']['db']) => {
    db.exec(`CREATE TABLE org_networks (org_id TEXT PRIMARY KEY, joined_at INTEGER NOT NULL)`);
  },
];

/**
 * Organizations whose network the node on this data dir runs or runs again at its next start (the
 * CLI reads it beside a running node); none when the node never joined one.
 */
export function joinedOrgIds(store: OrgNetworkDeps['store']): bigint[] {
  try {
    const rows = store.db.prepare('SELECT org_id FROM org_networks').all() as Array<{ org_id: string }>;
    return rows.map((r) => BigInt(r.org_id));
  } catch {
    return [];
  }
}

/** An organization network started (joined, or joined again) or ended (left, or removed on chain). */
export type OrgNetworkChange = { type: 'joined'; net: OrgNetwork } | { type: 'left'; orgId: bigint };

/** The set of organization networks a node runs. */
export class OrgNetworks {
  readonly #deps: OrgNetworkDeps;
  readonly #nets = new Map<bigint, OrgNetwork>();
  readonly #joining = new Map<bigint, Promise<OrgNetwork>>();
  readonly #env = new Map<bigint, ReadonlyMap<string, string>>();
  readonly #log: Logger;
  /** Organizations the chain removed this node from, with why (shown until it joins again). */
  readonly #left = new Map<bigint, string>();
  readonly #listeners = new Set<(change: OrgNetworkChange) => void>();

  constructor(deps: OrgNetworkDeps) {
    this.#deps = deps;
    this.#log = deps.log.child('orgs');
    deps.store.migrate(STORE_NAMESPACE, MIGRATIONS);
  }

  /** Calls `listener` whenever a network starts or ends (the services runtime serves on its host); returns the unsubscribe. */
  onChange(listener: (change: OrgNetworkChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: OrgNetworkChange): void {
    for (const fn of [...this.#listeners]) {
      try {
        fn(change);
      } catch (err) {
        this.#log.warn('an organization network listener failed', { error: (err as Error).message });
      }
    }
  }

  /** Organizations joined at run time before (kept in the database). */
  remembered(): bigint[] {
    const rows = this.#deps.store.db
      .prepare('SELECT org_id FROM org_networks ORDER BY joined_at')
      .all() as Array<{
      org_id: string;
    }>;
    return rows.map((r) => BigInt(r.org_id));
  }

  /** Joins every organization in `ids`; a failure is logged and leaves the others running. */
  async startAll(ids: readonly bigint[]): Promise<void> {
    const all = [...new Set([...ids, ...this.remembered()])];
    await Promise.all(
      all.map((id) =>
        this.join(id).catch((err: Error & { hint?: string }) =>
          this.#log.warn('could not join the organization network', {
            orgId: id.toString(),
            error: err.message,
            hint: err.hint,
          }),
        ),
      ),
    );
  }

  /** Joins organization `orgId`'s network (no-op when already in it) and remembers it. */
  async join(orgId: bigint): Promise<OrgNetworkStatus> {
    const existing = this.#nets.get(orgId);
    if (existing) return existing.status();
    let pending = this.#joining.get(orgId);
    if (!pending) {
      if (this.#nets.size + this.#joining.size >= MAX_ORG_NETWORKS) {
        throw new OrgNetworkError(
          'TOO_MANY_NETWORKS',
          `this node runs ${this.#nets.size} organization networks, the most it runs at once is ${MAX_ORG_NETWORKS}`,
          'leave one first: dibs org leave <id>',
        );
      }
      pending = OrgNetwork.start(this.#deps, orgId, (id, reason) => {
        // The chain ended our place there: forget the network (it is joined again on request).
        this.#nets.delete(id);
        this.#left.set(id, reason);
        this.#emit({ type: 'left', orgId: id });
      }).finally(() => this.#joining.delete(orgId));
      this.#joining.set(orgId, pending);
    }
    const net = await pending;
    const fresh = this.#nets.get(orgId) !== net;
    this.#nets.set(orgId, net);
    if (fresh) this.#emit({ type: 'joined', net });
    this.#left.delete(orgId);
    this.#deps.store.run(
      'INSERT OR IGNORE INTO org_networks (org_id, joined_at) VALUES (?, ?)',
      orgId.toString(),
      Date.now(),
    );
    const env = this.#env.get(orgId);
    if (env) this.#applyEnv(net, env);
    return net.status();
  }

  /** Leaves organization `orgId`'s network: stops its host and forgets it. False when not in it. */
  async leave(orgId: bigint): Promise<boolean> {
    await this.#joining.get(orgId)?.catch(() => {});
    const net = this.#nets.get(orgId);
    this.#deps.store.run('DELETE FROM org_networks WHERE org_id = ?', orgId.toString());
    if (!net) return false;
    this.#nets.delete(orgId);
    this.#emit({ type: 'left', orgId });
    await net.stop();
    return true;
  }

  get(orgId: bigint): OrgNetwork | undefined {
    return this.#nets.get(orgId);
  }

  list(): OrgNetworkStatus[] {
    return [...this.#nets.values()].map((n) => n.status());
  }

  /** Organizations whose network this node had to leave because the chain removed it, with why. */
  left(): Array<{ orgId: string; reason: string }> {
    return [...this.#left].map(([id, reason]) => ({ orgId: id.toString(), reason }));
  }

  /** A fleet configuration change of organization `orgId` (FleetConfig's onChange): applied to its network. */
  applyFleetEnv(orgId: bigint, env: ReadonlyMap<string, string>): void {
    this.#env.set(orgId, env);
    const net = this.#nets.get(orgId);
    if (net) this.#applyEnv(net, env);
  }

  #applyEnv(net: OrgNetwork, env: ReadonlyMap<string, string>): void {
    const relays = (env.get(FLEET_RELAYS_KEY) ?? '')
      .split(/[\s,]+/)
      .filter((a) => a.startsWith('/') && a.includes('/p2p/'));
    net.setPreferredRelays(relays);
  }

  /** Stops every organization network (the node shuts down; membership is kept). */
  async stop(): Promise<void> {
    await Promise.all([...this.#joining.values()].map((p) => p.catch(() => {})));
    const nets = [...this.#nets.values()];
    this.#nets.clear();
    await Promise.all(nets.map((n) => n.stop()));
  }
}
