/**
 * One organization network inside a node (the seed's VRF): a libp2p host of its own with its own
 * listen port, admission keyed to the organization's network service (its tickets only), its own
 * Kad-DHT and identify/ping under `/dibs/org/<label>/<orgId>/…`, its own peer set and, on relay
 * nodes, its own relay server — which only admitted peers of this organization can use. A node that
 * cannot be reached directly holds reservations on the organization's own relays (org-relays.ts).
 * Nothing is shared with the public network's host but the wallet key, the chain view and the store.
 */
import { OrganizationsClient } from '@dibs/chain';
import type { GrantCache, SessionRegistry, TicketGrant, Wallet } from '@dibs/core';
import type { Store } from '@dibs/store';
import type { Address } from 'viem';
import type { ChainRuntime } from '../daemon/chain-runtime.ts';
import type { Logger } from '../daemon/log.ts';
import { networkGrantProvider } from '../daemon/network-grant.ts';
import { joinNetwork } from '../p2p/bootstrap.ts';
import { ROLE_RELAY } from '../p2p/constants.ts';
import { createDibsHost, type DibsHost } from '../p2p/host.ts';
import { publishNodeRecord } from '../p2p/records.ts';
import { createTicketAuthority, type TicketAuthority } from '../p2p/ticket-authority.ts';
import { findOrgAddress, publishOrgAddress } from './address-record.ts';
import { orgRelayCandidates } from './org-relays.ts';
import {
  MAX_ORG_CONTACTS,
  MAX_WIRE_LABEL_CHARS,
  ORG_CONTACT_TIMEOUT_MS,
  ORG_PROTOCOL_ROOT,
  ORG_REJOIN_INTERVAL_MS,
  ORG_REPUBLISH_INTERVAL_MS,
} from './constants.ts';
import { OrgNetworkError } from './errors.ts';

/** What an organization network needs from the node. */
export interface OrgNetworkDeps {
  wallet: Wallet;
  store: Store;
  chain: ChainRuntime;
  cache: GrantCache;
  sessions: SessionRegistry;
  /** The public network's host: address records of organization hosts live in its DHT. */
  publicHost: DibsHost;
  log: Logger;
  /** Listen addresses of the organization host (ports 0: each network gets its own). */
  listen: readonly string[];
  /** Registry role bits of this node (relay nodes run a relay server in each organization too). */
  roles: number;
  /**
   * Relay reservations inside each organization network, for a node that cannot be reached directly
   * (the public network's `reachability` and `relayCount`): `always` keeps them from the start
   * (reachability private, or relays given); otherwise only in an organization whose fleet
   * configuration names preferred relays. Unset: never (a relay node, or reachability public).
   */
  relayKeeping?: { always: boolean; target?: number | undefined } | undefined;
  admissionTimeoutMs?: number | undefined;
  /** Wait this long for the chain mirror to learn a just-issued grant; default the authority's. */
  catchUpMs?: number;
}

/** Called when the chain ended this node's place in an organization (removed, or its grant revoked). */
export type OrgLeftListener = (orgId: bigint, reason: string) => void;

/** One organization network as status shows it. */
export interface OrgNetworkStatus {
  orgId: string;
  name: string;
  label: string;
  /** The protocol prefix every stream of this network carries. */
  protocolPrefix: string;
  networkServiceId: string;
  grantId: string;
  peerId: string;
  multiaddrs: string[];
  /** Peers admitted in this organization network. */
  admitted: number;
  peers: string[];
  routingTable: number;
  relay: boolean;
  /** Relay reservations this node keeps in this network: how many are wanted (0 = none) and the ones held. */
  relays: { target: number; held: Array<{ peerId: string; addrs: string[]; since: string }> };
  /** On a relay node: reservations its relay server holds for this network's peers. */
  relayReservations?: number | undefined;
  joinedAt: string;
  recordPublishedAt?: string | undefined;
}

/** The label as it goes on the wire: the on-chain label made protocol-id safe, with the organization id. */
export function wireLabel(orgId: bigint, label: string): string {
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .slice(0, MAX_WIRE_LABEL_CHARS);
  return `${safe || 'org'}/${orgId}`;
}

/** The protocol prefix of organization `orgId` with label `label`. */
export function orgProtocolPrefix(orgId: bigint, label: string): string {
  return `${ORG_PROTOCOL_ROOT}/${wireLabel(orgId, label)}`;
}

/** A running organization network; {@link OrgNetwork.start} builds one. */
export class OrgNetwork {
  readonly orgId: bigint;
  readonly name: string;
  readonly label: string;
  readonly networkServiceId: bigint;
  readonly host: DibsHost;
  readonly authority: TicketAuthority;
  readonly protocolPrefix: string;
  readonly joinedAt = new Date().toISOString();
  readonly #deps: OrgNetworkDeps;
  readonly #grant: () => Promise<TicketGrant>;
  #grantId: bigint;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #recordPublishedAt: string | undefined;
  #preferred: string[] = [];
  #keeping = false;
  #log: Logger;

  private constructor(init: {
    deps: OrgNetworkDeps;
    orgId: bigint;
    name: string;
    label: string;
    networkServiceId: bigint;
    host: DibsHost;
    authority: TicketAuthority;
    grant: () => Promise<TicketGrant>;
    grantId: bigint;
    log: Logger;
  }) {
    this.#deps = init.deps;
    this.orgId = init.orgId;
    this.name = init.name;
    this.label = init.label;
    this.networkServiceId = init.networkServiceId;
    this.host = init.host;
    this.authority = init.authority;
    this.protocolPrefix = orgProtocolPrefix(init.orgId, init.label);
    this.#grant = init.grant;
    this.#grantId = init.grantId;
    this.#log = init.log;
  }

  /**
   * Joins organization `orgId`'s network: reads it from chain, obtains (or reuses) this node's grant
   * on its network service (paying its price in the organization's token), starts the host and
   * contacts the organization's other nodes through their address records.
   */
  static async start(deps: OrgNetworkDeps, orgId: bigint, onLeft?: OrgLeftListener): Promise<OrgNetwork> {
    const orgs = new OrganizationsClient(deps.chain.clients, deps.chain.deployment);
    const org = await orgs.get(orgId);
    if (!org) {
      throw new OrgNetworkError(
        'UNKNOWN_ORGANIZATION',
        `there is no organization ${orgId} on chain`,
        'see: dibs org list',
      );
    }
    if (org.networkServiceId === 0n) {
      throw new OrgNetworkError(
        'NO_NETWORK_SERVICE',
        `organization ${orgId} (${org.name}) has no network service`,
        'its admin creates organizations with `dibs org create`, which publishes one',
      );
    }
    const self = deps.wallet.address as Address;
    const [member, node] = await Promise.all([orgs.isMember(orgId, self), orgs.isNode(orgId, self)]);
    if (!member && !node) {
      throw new OrgNetworkError(
        'NOT_A_MEMBER',
        `this node (${self}) is neither a member nor a node of organization ${orgId} (${org.name})`,
        `ask its admin (${org.admin}): dibs org add-node ${orgId} ${self}`,
      );
    }
    const log = deps.log.child(`org:${orgId}`);
    const grant = networkGrantProvider({
      store: deps.store,
      registry: deps.chain.registry,
      networkServiceId: org.networkServiceId,
      cache: deps.cache,
      log,
    });
    const held = await grant();
    const authority = createTicketAuthority({
      wallet: deps.wallet,
      deployment: deps.chain.deployment,
      cache: deps.cache,
      sessions: deps.sessions,
      registry: deps.chain.registry,
      networkServiceId: org.networkServiceId,
      networkGrant: grant,
      logger: log,
      ...(deps.catchUpMs !== undefined ? { catchUpMs: deps.catchUpMs } : {}),
    });
    let host: DibsHost;
    try {
      host = await createDibsHost({
        privateKey: deps.wallet.exportPrivateKey(),
        authority,
        listen: deps.listen.map((a) => a.replace(/\/tcp\/[0-9]+/, '/tcp/0')),
        relay: (deps.roles & ROLE_RELAY) !== 0,
        protocolPrefix: orgProtocolPrefix(orgId, org.networkLabel),
        logger: log,
        ...(deps.admissionTimeoutMs !== undefined ? { admissionTimeoutMs: deps.admissionTimeoutMs } : {}),
      });
    } catch (err) {
      authority.close();
      throw err;
    }
    authority.attach(host);
    const net = new OrgNetwork({
      deps,
      orgId,
      name: org.name,
      label: org.networkLabel,
      networkServiceId: org.networkServiceId,
      host,
      authority,
      grant,
      grantId: held.grantId,
      log,
    });
    log.info('organization network started', {
      name: org.name,
      label: org.networkLabel,
      protocolPrefix: net.protocolPrefix,
      listen: host.multiaddrs().map((a) => a.toString()),
    });
    // Removed from the organization on chain, or our grant revoked: every node of it refuses us now.
    const me = self.toLowerCase();
    net.#unwatch = deps.cache.subscribe((event) => {
      let reason: string | undefined;
      if (event.type === 'grantRevoked' && event.grantId === net.#grantId) {
        reason = `this node's grant ${event.grantId} on organization ${orgId}'s network was revoked on chain`;
      } else if (
        event.type === 'policyChanged' &&
        !event.meets &&
        event.serviceId === org.networkServiceId &&
        event.account.toLowerCase() === me
      ) {
        reason = `this node is no longer a member or node of organization ${orgId} on chain`;
      }
      if (!reason || net.#stopped) return;
      log.error('left the organization network', { reason, hint: `ask its admin (${org.admin})` });
      void net.stop().finally(() => onLeft?.(orgId, reason));
    });
    // The first peer admitted (it found us, or we found it): say where we are in this network's DHT.
    host.admission.onAdmitted(() => {
      if (net.#recordPublishedAt === undefined) net.#publishSoon();
    });
    // Our relays changed: others find us at our new circuit addresses.
    host.relays.onChange(() => {
      net.#publishAddressSoon();
      if (net.#recordPublishedAt !== undefined) net.#publishSoon();
    });
    if (deps.relayKeeping?.always) net.#keepRelays();
    // The last peer gone (a relay restarted, a NAT mapping lost): look for the organization again soon.
    host.libp2p.addEventListener('peer:disconnect', () => net.#rejoinSoon());
    // Contacts are found in the background: the first node of an organization has none yet.
    void net.#round();
    return net;
  }

  #publishing = false;
  #publishingAddress = false;
  #addressAgain = false;
  #unwatch: (() => void) | undefined;

  /** Starts keeping relay reservations on the organization's own relays (once). */
  #keepRelays(): void {
    const keeping = this.#deps.relayKeeping;
    if (!keeping || this.#keeping || this.#stopped) return;
    this.#keeping = true;
    this.host.relays.start({
      provider: orgRelayCandidates({
        chain: this.#deps.chain,
        publicHost: this.#deps.publicHost,
        orgHost: this.host,
        orgId: this.orgId,
        self: this.#deps.wallet.address,
        preferred: () => this.#preferred,
      }),
      ...(keeping.target !== undefined ? { target: keeping.target } : {}),
    });
    this.#log.info("keeping relay reservations on the organization's relays", {
      target: this.host.relays.target,
    });
  }

  /** Publishes where our host listens (public-DHT address record); once more if a publish is under way. */
  #publishAddressSoon(): void {
    if (this.#stopped) return;
    if (this.#publishingAddress) {
      this.#addressAgain = true;
      return;
    }
    this.#publishingAddress = true;
    const { publicHost, roles } = this.#deps;
    // In the background: a put while the public network is still forming waits for its query to time out.
    void publishOrgAddress(publicHost, this.orgId, this.host, roles)
      .catch((err: Error) =>
        this.#log.debug('publishing the organization address record failed', { error: err.message }),
      )
      .finally(() => {
        this.#publishingAddress = false;
        if (this.#addressAgain) {
          this.#addressAgain = false;
          this.#publishAddressSoon();
        }
      });
  }

  /** Publishes our node record in this network's DHT once, unless a publish is under way. */
  #publishSoon(): void {
    if (this.#publishing || this.#stopped) return;
    this.#publishing = true;
    void this.#publishRecord().finally(() => {
      this.#publishing = false;
    });
  }

  async #publishRecord(): Promise<void> {
    try {
      await publishNodeRecord(this.host, { roles: this.#deps.roles });
      this.#recordPublishedAt = new Date().toISOString();
    } catch (err) {
      this.#log.debug('node record publish failed', { error: (err as Error).message });
    }
  }

  /**
   * Relays (multiaddrs with `/p2p/`) the organization's fleet configuration prefers: contacted first,
   * and the first candidates for our reservations (a node not reachable directly keeps them then).
   */
  setPreferredRelays(addrs: readonly string[]): void {
    this.#preferred = [...addrs];
    if (addrs.length > 0) {
      this.#log.info('preferred relays from the fleet configuration', { relays: addrs.length });
      this.#keepRelays();
      void this.#contact([]).catch(() => {});
    }
  }

  /** Contacts `extra` and the preferred relays with the organization host. */
  async #contact(extra: readonly string[]): Promise<number> {
    const peers = [...new Set([...this.#preferred, ...extra])];
    if (peers.length === 0) return 0;
    const joined = await joinNetwork(this.host, { peers, timeoutMs: ORG_CONTACT_TIMEOUT_MS }).catch(
      () => undefined,
    );
    return joined?.admitted.length ?? 0;
  }

  #rounding = false;
  #nextRoundAt = 0;

  /** With no connected peer left, the next round runs within ORG_REJOIN_INTERVAL_MS (not the republish interval). */
  #rejoinSoon(): void {
    if (this.#stopped || this.#rounding || this.host.admission.connectedPeers().length > 0) return;
    // Never later than planned: a stream of disconnects must not keep pushing the round back.
    if (this.#nextRoundAt <= Date.now() + ORG_REJOIN_INTERVAL_MS) return;
    this.#schedule(ORG_REJOIN_INTERVAL_MS);
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#nextRoundAt = Date.now() + ms;
    this.#timer = setTimeout(() => void this.#round(), ms);
    this.#timer.unref();
  }

  async #round(): Promise<void> {
    if (this.#stopped) return;
    this.#rounding = true;
    try {
      await this.#roundOnce();
    } finally {
      this.#rounding = false;
    }
    if (this.#stopped) return;
    this.#schedule(
      this.host.admission.connectedPeers().length === 0 ? ORG_REJOIN_INTERVAL_MS : ORG_REPUBLISH_INTERVAL_MS,
    );
  }

  /** One round: publish where we listen, find and dial the organization's other nodes, publish our record in its DHT. */
  async #roundOnce(): Promise<void> {
    const { publicHost, wallet } = this.#deps;
    if (!this.#publishingAddress) this.#publishAddressSoon();
    // Admitted peers we are still connected to: an admission outlives a dead peer's connection.
    if (this.host.admission.connectedPeers().length === 0) {
      const contacts = await this.#contacts().catch((err: Error) => {
        this.#log.debug('reading the organization from chain failed', { error: err.message });
        return [] as string[];
      });
      const own = wallet.address.toLowerCase();
      const found = await Promise.all(
        contacts
          .filter((a) => a.toLowerCase() !== own)
          .slice(0, MAX_ORG_CONTACTS)
          .map((a) => findOrgAddress(publicHost, this.orgId, a, ORG_CONTACT_TIMEOUT_MS)),
      );
      const addrs = found.flatMap((r) => (r ? r.multiaddrs.map((m) => `${m}/p2p/${r.peerId}`) : []));
      const admitted = await this.#contact(addrs);
      if (admitted > 0) this.#log.info('joined the organization network', { admitted });
    }
    if (this.host.admission.connectedPeers().length > 0) await this.#publishRecord();
  }

  /** The organization's nodes and members as the chain has them now. */
  async #contacts(): Promise<string[]> {
    const orgs = new OrganizationsClient(this.#deps.chain.clients, this.#deps.chain.deployment);
    const d = await orgs.details(this.orgId);
    return d ? [...new Set([...d.nodes, ...d.members])] : [];
  }

  /** Our grant on the organization's network service (renewed before expiry). */
  async grant(): Promise<TicketGrant> {
    const g = await this.#grant();
    this.#grantId = g.grantId;
    return g;
  }

  status(): OrgNetworkStatus {
    const peers = this.host.admission.admittedPeers().map((p) => p.peerId.toString());
    const table = (this.host.dht as unknown as { routingTable?: { size: number } }).routingTable;
    return {
      orgId: this.orgId.toString(),
      name: this.name,
      label: this.label,
      protocolPrefix: `/${this.protocolPrefix}`,
      networkServiceId: this.networkServiceId.toString(),
      grantId: this.#grantId.toString(),
      peerId: this.host.peerId.toString(),
      multiaddrs: this.host.multiaddrs().map((a) => a.toString()),
      admitted: peers.length,
      peers,
      routingTable: table?.size ?? 0,
      relay: (this.#deps.roles & ROLE_RELAY) !== 0,
      relays: { target: this.#keeping ? this.host.relays.target : 0, held: this.host.relays.held() },
      relayReservations: (this.host.libp2p.services as { relay?: { reservations?: { size: number } } }).relay
        ?.reservations?.size,
      joinedAt: this.joinedAt,
      recordPublishedAt: this.#recordPublishedAt,
    };
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unwatch?.();
    clearTimeout(this.#timer);
    await this.host.stop();
    this.authority.close();
    this.#log.info('organization network left');
  }
}
