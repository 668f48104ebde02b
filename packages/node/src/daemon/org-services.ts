/**
 * Wires organization networks into the services runtime: each network the node joins gets its own
 * tunnel server (and, on relay nodes, its own tunnel rendezvous) on its host, under its protocol
 * prefix; a network left takes them down. Services of an organization are found through its address
 * records in the public DHT besides its own DHT.
 */
import type { Address } from 'viem';
import { findOrgAddress, ORG_CONTACT_TIMEOUT_MS, type OrgNetworks } from '../orgs/index.ts';
import type { DibsHost } from '../p2p/host.ts';
import type { RunningServices } from '../services/runtime.ts';
import { TunnelRelay } from '../tunnel/index.ts';
import type { Logger } from './log.ts';

/** Serves and reaches services in every organization network `orgs` runs; returns the stop function. */
export function wireOrgServices(o: {
  orgs: OrgNetworks;
  services: RunningServices;
  publicHost: DibsHost;
  /** Run a tunnel rendezvous on each organization host (relay nodes). */
  tunnelRelay: boolean;
  log: Logger;
}): () => Promise<void> {
  const relays = new Map<bigint, Promise<TunnelRelay | undefined>>();
  const stopRelay = async (orgId: bigint) => {
    const r = relays.get(orgId);
    relays.delete(orgId);
    await (await r)?.stop().catch(() => {});
  };
  const off = o.orgs.onChange((change) => {
    if (change.type === 'left') {
      void o.services.leaveOrganization(change.orgId);
      void stopRelay(change.orgId);
      return;
    }
    const { net } = change;
    const { orgId } = net;
    void o.services
      .serveOrganization({
        orgId,
        host: net.host,
        protocolPrefix: net.protocolPrefix,
        locate: async (address: Address) => {
          const r = await findOrgAddress(o.publicHost, orgId, address, ORG_CONTACT_TIMEOUT_MS);
          return r ? r.multiaddrs.map((m) => `${m}/p2p/${r.peerId}`) : [];
        },
      })
      .catch((err: Error) =>
        o.log.warn('could not serve services in the organization network', {
          orgId: orgId.toString(),
          error: err.message,
        }),
      );
    if (o.tunnelRelay) {
      void stopRelay(orgId).then(() => {
        relays.set(
          orgId,
          TunnelRelay.start({
            host: net.host,
            protocolPrefix: net.protocolPrefix,
            logger: o.log.child(`org:${orgId}:tunnel-relay`),
          }).catch((err: Error) => {
            o.log.warn('no tunnel rendezvous in the organization network', {
              orgId: orgId.toString(),
              error: err.message,
            });
            return undefined;
          }),
        );
      });
    }
  });
  return async () => {
    off();
    await Promise.all([...relays.keys()].map(stopRelay));
  };
}
