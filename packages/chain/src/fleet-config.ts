import { organizationsAbi } from '@dibs/contracts';
import type { Store } from '@dibs/store';
import { type Abi, type Address, isAddressEqual, type PublicClient } from 'viem';
import type { ChainClients } from './clients.ts';
import { FLEET_CONFIG_WATCHER_NAME } from './constants.ts';
import type { DeploymentAddresses } from './deployer.ts';
import { OrganizationsClient } from './organizations.ts';
import { type DecodedEvent, EventWatcher } from './watcher.ts';

/** Options of a node's fleet configuration view. */
export interface FleetConfigOptions {
  store: Store;
  clients: ChainClients;
  deployment: DeploymentAddresses & { deployedAtBlock: bigint };
  /** The node's wallet address: configuration is kept for the organizations it is a node of. */
  node: Address;
  pollIntervalMs?: number;
  confirmations?: number;
  /** A change applied: the organization and its whole configuration after it. */
  onChange?: (orgId: bigint, env: ReadonlyMap<string, string>) => void;
  onError?: (err: Error) => void;
}

/**
 * The fleet configuration (per-organization key/value map on chain) of every organization this node
 * is a member node of, kept current from the Organizations contract's events: EnvChanged, and
 * NodeAdded / NodeRemoved of this node. An event only marks its organization; the organization's
 * entries are then read from the chain after the range, so the view is the chain's and a rewound
 * chain is handled by reading every organization again. Read-only: nothing in the node acts on it yet.
 */
export class FleetConfig {
  readonly watcher: EventWatcher;
  readonly #opts: FleetConfigOptions;
  readonly #orgs: OrganizationsClient;
  readonly #env = new Map<bigint, ReadonlyMap<string, string>>();
  readonly #dirty = new Set<bigint>();
  #rewound = false;

  constructor(opts: FleetConfigOptions) {
    this.#opts = opts;
    this.#orgs = new OrganizationsClient(opts.clients, opts.deployment);
    this.watcher = new EventWatcher({
      name: FLEET_CONFIG_WATCHER_NAME,
      store: opts.store,
      publicClient: opts.clients.publicClient as PublicClient,
      contracts: [
        { name: 'organizations', address: opts.deployment.organizations, abi: organizationsAbi as Abi },
      ],
      fromBlock: opts.deployment.deployedAtBlock,
      ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
      ...(opts.confirmations !== undefined ? { confirmations: opts.confirmations } : {}),
      handler: (events) => this.#mark(events),
      afterPoll: () => this.#applyMarked(),
      ...(opts.onError ? { onError: opts.onError } : {}),
      onRewind: () => {
        this.#rewound = true;
      },
    });
  }

  /** Reads the configuration of every organization this node is a node of, then follows changes. */
  async start(): Promise<void> {
    await this.#reloadAll();
    await this.syncOnce();
    this.watcher.start();
  }

  async stop(): Promise<void> {
    await this.watcher.stop();
  }

  /** Processes events up to the head and re-reads the organizations they touched. */
  async syncOnce(): Promise<bigint> {
    const block = await this.watcher.pollOnce();
    await this.#applyMarked();
    return block;
  }

  /** Organizations this node is a node of, ascending. */
  organizations(): bigint[] {
    return [...this.#env.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** One organization's configuration; undefined when this node is not one of its nodes. */
  env(orgId: bigint): ReadonlyMap<string, string> | undefined {
    return this.#env.get(orgId);
  }

  /** One value, undefined when unset or when this node is not a node of the organization. */
  get(orgId: bigint, key: string): string | undefined {
    return this.#env.get(orgId)?.get(key);
  }

  #mark(events: DecodedEvent[]): void {
    for (const e of events) {
      const orgId = e.args.orgId as bigint;
      if (e.eventName === 'EnvChanged' && this.#env.has(orgId)) this.#dirty.add(orgId);
      if (e.eventName === 'NodeAdded' || e.eventName === 'NodeRemoved') {
        if (isAddressEqual(e.args.node as Address, this.#opts.node)) this.#dirty.add(orgId);
      }
    }
  }

  async #applyMarked(): Promise<void> {
    // The watcher delivers events once; the marks run here after the poll (outside its transaction).
    if (this.#rewound) {
      this.#rewound = false;
      this.#dirty.clear();
      await this.#reloadAll();
      return;
    }
    const marked = [...this.#dirty];
    this.#dirty.clear();
    for (const orgId of marked) await this.#reload(orgId);
  }

  async #reloadAll(): Promise<void> {
    const ids = await this.#orgs.organizationsOfNode(this.#opts.node);
    for (const orgId of [...this.#env.keys()]) if (!ids.includes(orgId)) this.#set(orgId, undefined);
    for (const orgId of ids) await this.#reload(orgId);
  }

  async #reload(orgId: bigint): Promise<void> {
    const member = await this.#orgs.isNode(orgId, this.#opts.node);
    this.#set(orgId, member ? await this.#orgs.env(orgId) : undefined);
  }

  #set(orgId: bigint, env: ReadonlyMap<string, string> | undefined): void {
    if (env) this.#env.set(orgId, env);
    else this.#env.delete(orgId);
    this.#opts.onChange?.(orgId, env ?? new Map());
  }
}
