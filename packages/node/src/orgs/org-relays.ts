/**
 * Where a node that cannot be reached directly holds its relay reservations inside an organization
 * network: the relays the organization's fleet configuration prefers (`org env set <id> relays …`),
 * then the organization's own nodes and members that have the relay role on chain, at the addresses
 * of their host in this organization (an admitted relay through its live connection, any other
 * through its address record in the public DHT). The reservations themselves are kept by the
 * organization host's RelayKeeper (p2p/relays.ts), the public network's code: same count, failover
 * and back-off.
 *
 * Never a relay of the public network or of another organization: an organization's traffic runs
 * through its own nodes only (and any other relay would refuse our organization ticket anyway).
 */
import { OrganizationsClient } from '@dibs/chain';
import { base58btc } from 'multiformats/bases/base58';
import type { ChainRuntime } from '../daemon/chain-runtime.ts';
import { RELAY_LIST_CACHE_MS } from '../daemon/constants.ts';
import { ROLE_RELAY } from '../p2p/constants.ts';
import type { DibsHost } from '../p2p/host.ts';
import { findOrgAddress } from './address-record.ts';
import { MAX_ORG_RELAYS, ORG_CONTACT_TIMEOUT_MS, ORG_REJOIN_INTERVAL_MS } from './constants.ts';

/** What {@link orgRelayCandidates} reads. */
export interface OrgRelayCandidatesOptions {
  chain: Pick<ChainRuntime, 'clients' | 'deployment' | 'registry'>;
  /** Address records of organization hosts live in the public DHT. */
  publicHost: DibsHost;
  /** This node's host in the organization. */
  orgHost: DibsHost;
  orgId: bigint;
  /** This node's wallet address (never its own relay). */
  self: string;
  /** The fleet configuration's preferred relays now (multiaddrs with `/p2p/<relay>`). */
  preferred(): readonly string[];
}

interface OrgRelay {
  address: string;
  peerId: string;
}

/**
 * A relay-candidate provider for the organization host's RelayKeeper: preferred relays first, then
 * the organization's relay nodes. The chain is read, and each address record looked up, at most every
 * RELAY_LIST_CACHE_MS (a record not found: every ORG_REJOIN_INTERVAL_MS); the keeper asks every
 * second while it holds fewer reservations than it wants.
 */
export function orgRelayCandidates(o: OrgRelayCandidatesOptions): () => Promise<string[]> {
  const orgs = new OrganizationsClient(o.chain.clients, o.chain.deployment);
  const self = o.self.toLowerCase();
  let relays: { at: number; list: OrgRelay[] } | undefined;
  const found = new Map<string, { at: number; addrs: string[] }>();

  const relayNodes = async (): Promise<OrgRelay[]> => {
    if (relays && Date.now() - relays.at < RELAY_LIST_CACHE_MS) return relays.list;
    const d = await orgs.details(o.orgId);
    const accounts = [...new Set([...(d?.nodes ?? []), ...(d?.members ?? [])])]
      .filter((a) => a.toLowerCase() !== self)
      .slice(0, MAX_ORG_RELAYS * 4);
    const entries = await Promise.all(accounts.map((a) => o.chain.registry.getNode(a).catch(() => null)));
    const list = entries
      .filter((n) => n?.active === true && (n.roles & ROLE_RELAY) !== 0 && n.peerId.length > 0)
      .slice(0, MAX_ORG_RELAYS)
      .map((n) => ({ address: n!.address.toLowerCase(), peerId: base58btc.baseEncode(n!.peerId) }));
    relays = { at: Date.now(), list };
    return list;
  };

  const addrsOf = async (r: OrgRelay): Promise<string[]> => {
    // Admitted in this organization and connected: its live connection is the way to it.
    if (o.orgHost.admission.connectedPeers().some((p) => p.peerId.toString() === r.peerId)) {
      return [`/p2p/${r.peerId}`];
    }
    const cached = found.get(r.address);
    // A relay not found yet (not started, record not spread) is looked up again sooner than one found.
    const ttl = cached?.addrs.length ? RELAY_LIST_CACHE_MS : ORG_REJOIN_INTERVAL_MS;
    if (cached && Date.now() - cached.at < ttl) return cached.addrs;
    const record = await findOrgAddress(o.publicHost, o.orgId, r.address, ORG_CONTACT_TIMEOUT_MS);
    const addrs = (record?.multiaddrs ?? [])
      .filter((m) => !m.includes('/p2p-circuit'))
      .map((m) => `${m}/p2p/${record!.peerId}`);
    found.set(r.address, { at: Date.now(), addrs });
    return addrs;
  };

  return async () => {
    const nodes = await relayNodes();
    const addrs = await Promise.all(nodes.map((r) => addrsOf(r)));
    return [...o.preferred(), ...addrs.flat()];
  };
}
