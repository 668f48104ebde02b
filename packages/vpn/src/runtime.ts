/**
 * A node's L3 VPN: the host side for its vpn services, the client side for the VPNs it joins, the
 * support check, and the cleanup of a killed run's interfaces and nftables tables at start.
 */
import { type OpenVpnTunnel, VpnClients } from './client.ts';
import { VpnError } from './errors.ts';
import { type HostedVpn, type HostSession, VpnHost, type VpnLogger } from './host.ts';
import type { VpnRequest } from './messages.ts';
import type { VpnSessionInfo } from './session.ts';
import { checkVpnSupport, nodeTag, removeLeftovers } from './system.ts';

/** Options of {@link VpnRuntime.start}. */
export interface VpnRuntimeOptions {
  /** The node's address (its tag names interfaces and tables). */
  address: string;
  log: VpnLogger;
  /** Opens a tunnel carrying a VPN request (the node's service connector). */
  open: OpenVpnTunnel;
  directIp?: (peerId: string) => string | undefined;
  /** Skip the support check and cleanup (hosts known not to run the L3 VPN). */
  disabled?: boolean;
}

/** The VPN part of a running node. */
export class VpnRuntime {
  readonly host: VpnHost;
  readonly clients: VpnClients;
  /** Why this host cannot run the L3 VPN; undefined when it can. */
  readonly unsupported: VpnError | undefined;

  private constructor(host: VpnHost, clients: VpnClients, unsupported: VpnError | undefined) {
    this.host = host;
    this.clients = clients;
    this.unsupported = unsupported;
  }

  /** Checks the host and removes what a killed previous run of this node left behind. */
  static async start(options: VpnRuntimeOptions): Promise<VpnRuntime> {
    const tag = nodeTag(options.address);
    let unsupported: VpnError | undefined;
    if (options.disabled) {
      unsupported = new VpnError(
        'UNSUPPORTED',
        'the L3 VPN is turned off on this node',
        'set node.vpn to true',
      );
    } else {
      try {
        await checkVpnSupport();
        const removed = await removeLeftovers(tag);
        if (removed.length > 0)
          options.log.warn('removed vpn leftovers of a previous run', { removed: removed.join(',') });
      } catch (err) {
        unsupported =
          err instanceof VpnError
            ? err
            : new VpnError('UNSUPPORTED', `the L3 VPN cannot run: ${(err as Error).message}`);
      }
    }
    const host = new VpnHost({ tag, log: options.log });
    const clients = new VpnClients({
      tag,
      log: options.log,
      open: options.open,
      ...(options.directIp ? { directIp: options.directIp } : {}),
    });
    return new VpnRuntime(host, clients, unsupported);
  }

  /** Throws the UNSUPPORTED error (with its pointer to `dibs proxy`) when the L3 VPN cannot run here. */
  requireSupport(): void {
    if (this.unsupported) throw this.unsupported;
  }

  /** The host side's admission of one session (see VpnHost.accept). */
  accept(params: {
    id: string;
    config: HostedVpn;
    peerId: string;
    request: VpnRequest;
    hosts: string[];
  }): Promise<HostSession> {
    this.requireSupport();
    return this.host.accept(params);
  }

  /** Every VPN session, hosted and joined. */
  async sessions(): Promise<VpnSessionInfo[]> {
    return [...(await this.host.sessions()), ...(await this.clients.sessions())];
  }

  /** Leaves every VPN and removes every interface and table. */
  async stop(): Promise<void> {
    await this.clients.stop();
    await this.host.stop();
  }
}
