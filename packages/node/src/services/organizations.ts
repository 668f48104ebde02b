/**
 * Services of organizations. A service whose policy is an organization's (its members, or its members
 * and nodes) belongs to that organization: its host serves it on its host in that organization's
 * network only — the tunnel protocol under the organization's prefix, the data channel carrying its
 * label and admitted against its admission — and a client reaches it through its own host in that
 * organization. The public host neither serves nor advertises it.
 */
import { NETWORK_SERVICE_TYPE } from '@dibs/chain';
import { Policy } from '@dibs/contracts';
import type { Address } from 'viem';
import type { DibsHost } from '../p2p/host.ts';
import type { P2pLogger } from '../p2p/log.ts';
import type { TunnelServer, TunnelSessionInfo } from '../tunnel/index.ts';
import type { ServiceConnector } from './connector.ts';
import { ServiceError } from './errors.ts';

/** One organization network of this node, as the services runtime uses it. */
export interface OrgNetworkHost {
  orgId: bigint;
  /** This node's host in the organization's network. */
  host: DibsHost;
  /** Its protocol prefix, `dibs/org/<label>/<orgId>`. */
  protocolPrefix: string;
  /** Where `address`'s host in this organization listens (its address record), as full multiaddrs. */
  locate(address: Address): Promise<string[]>;
}

/** The organization a service belongs to (organization policies' reference); undefined for any other. */
export function serviceOrganization(s: {
  policy: number;
  policyRef: bigint;
  serviceType: string;
}): bigint | undefined {
  if (s.serviceType === NETWORK_SERVICE_TYPE) return undefined;
  return s.policy === Policy.OrgMembers || s.policy === Policy.OrgNetwork ? s.policyRef : undefined;
}

/** The error of a client that is not in the network of the service's organization. */
export function notInOrganization(serviceId: bigint, name: string, orgId: bigint): ServiceError {
  return new ServiceError(
    'NOT_IN_ORGANIZATION',
    `service ${serviceId} (${name}) belongs to organization ${orgId} and is reached only through its network, which this node has not joined: join organization ${orgId} first: dibs org join ${orgId}`,
    `join organization ${orgId} first: dibs org join ${orgId}`,
  );
}

interface Serving {
  net: OrgNetworkHost;
  server: TunnelServer;
  connector: ServiceConnector;
}

/** The tunnel server and connector of every organization network the node runs. */
export class OrgServices {
  readonly #nets = new Map<bigint, Serving>();
  readonly #startServer: (net: OrgNetworkHost) => Promise<TunnelServer>;
  readonly #makeConnector: (net: OrgNetworkHost) => ServiceConnector;
  readonly #log: P2pLogger;
  /** Serialises serve/leave per organization. */
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(o: {
    startServer: (net: OrgNetworkHost) => Promise<TunnelServer>;
    makeConnector: (net: OrgNetworkHost) => ServiceConnector;
    log: P2pLogger;
  }) {
    this.#startServer = o.startServer;
    this.#makeConnector = o.makeConnector;
    this.#log = o.log;
  }

  #serially(fn: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(fn);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Serves this node's services of `net`'s organization on its host, and reaches others through it. */
  serve(net: OrgNetworkHost): Promise<void> {
    return this.#serially(async () => {
      if (this.#stopped) return;
      const had = this.#nets.get(net.orgId);
      if (had?.net.host === net.host) return;
      if (had) await this.#drop(had);
      const server = await this.#startServer(net);
      this.#nets.set(net.orgId, { net, server, connector: this.#makeConnector(net) });
      this.#log.info('serving organization services', {
        orgId: net.orgId.toString(),
        protocol: server.protocol,
        data: server.dataAddress() ? `${server.dataAddress()!.host}:${server.dataAddress()!.port}` : 'off',
      });
    });
  }

  /** Stops serving organization `orgId` (its network was left): its tunnels close. */
  leave(orgId: bigint): Promise<void> {
    return this.#serially(async () => {
      const had = this.#nets.get(orgId);
      if (had) await this.#drop(had);
    });
  }

  async #drop(s: Serving): Promise<void> {
    this.#nets.delete(s.net.orgId);
    await s.server
      .stop()
      .catch((err: Error) =>
        this.#log.warn('stopping an organization tunnel server failed', { error: err.message }),
      );
  }

  /** The connector of organization `orgId`'s network; undefined when the node is not in it. */
  connector(orgId: bigint): ServiceConnector | undefined {
    return this.#nets.get(orgId)?.connector;
  }

  /** Hosts of every organization network served now. */
  hosts(): DibsHost[] {
    return [...this.#nets.values()].map((s) => s.net.host);
  }

  /** Inbound tunnels in every organization network. */
  sessions(): TunnelSessionInfo[] {
    return [...this.#nets.values()].flatMap((s) => s.server.sessions());
  }

  async stop(): Promise<void> {
    await this.#serially(async () => {
      this.#stopped = true;
      await Promise.all([...this.#nets.values()].map((s) => this.#drop(s)));
    });
  }
}
