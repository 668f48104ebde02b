/** Joining the network: dial bootstrap peers (config and/or a provider such as the chain Registry), get admitted, learn peers through the DHT. */
import type { PeerId } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { P2pError } from './errors.ts';
import type { DibsHost } from './host.ts';

/** Where bootstrap addresses come from. */
export interface BootstrapOptions {
  /** Multiaddrs with `/p2p/<peerId>` from configuration. */
  peers?: readonly string[];
  /** Extra multiaddrs from elsewhere (the Registry's bootstrap list); errors are reported, not fatal. */
  provider?: () => Promise<readonly string[]>;
  /** Per bootstrap peer: dial plus admission. */
  timeoutMs?: number;
}

/** The outcome of {@link joinNetwork}. */
export interface BootstrapResult {
  admitted: PeerId[];
  failed: Array<{ addr: string; error: string }>;
  /** Peers in the DHT routing table afterwards. */
  routingTableSize: number;
}

/** Dials every bootstrap peer, waits for mutual admission, then fills the routing table from them. */
export async function joinNetwork(host: DibsHost, options: BootstrapOptions): Promise<BootstrapResult> {
  const addrs = new Set(options.peers ?? []);
  const failed: BootstrapResult['failed'] = [];
  if (options.provider) {
    try {
      for (const a of await options.provider()) addrs.add(a);
    } catch (err) {
      failed.push({ addr: '(provider)', error: (err as Error).message });
    }
  }
  const own = host.peerId.toString();
  const admitted: PeerId[] = [];
  await Promise.all(
    [...addrs].map(async (addr) => {
      try {
        const ma = multiaddr(addr);
        if (ma.getComponents().some((c) => c.name === 'p2p' && c.value === own)) return;
        admitted.push(await host.connect(ma, options.timeoutMs));
      } catch (err) {
        failed.push({ addr, error: (err as Error).message });
      }
    }),
  );
  if (addrs.size > 0 && admitted.length === 0 && failed.length > 0) {
    throw new P2pError(
      'ADMISSION_REFUSED',
      `no bootstrap peer admitted this node (${failed.map((f) => `${f.addr}: ${f.error}`).join('; ')}); check the network ticket and the bootstrap list`,
    );
  }
  if (admitted.length > 0) {
    // A lookup of our own id makes the bootstrap hand over the peers closest to us.
    try {
      for await (const _ of host.dht.getClosestPeers(host.peerId.toMultihash().bytes, {
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      })) {
        // drain
      }
    } catch {}
  }
  const table = (host.dht as unknown as { routingTable?: { size: number } }).routingTable;
  return { admitted, failed, routingTableSize: table?.size ?? 0 };
}
