/**
 * The client SDK for Node applications: request access to a DIBS service (paying its price), hold
 * grants and tickets, present a ticket to a DIBS-protected HTTP API, open a tunnel to a service over
 * the DIBS network, or fetch from an HTTP service through one.
 */
import { createAuthenticator, peerIdFromWallet } from '@dibs/core';
import type { ConnectionView, HeldGrant, HeldTicket, Tunnel } from '@dibs/node';
import { LOOPBACK_LISTEN } from './constants.ts';
import { type EmbeddedNode, type EmbeddedNodeOptions, startEmbeddedNode } from './node.ts';
import { formatTicketAuthorization } from './ticket-header.ts';

/** Tickets are renewed when they have less than this left, ms. */
const TICKET_MIN_VALIDITY_MS = 60_000;

/** A DIBS client acting as one wallet. */
export class DibsClient {
  readonly node: EmbeddedNode;
  readonly #peerId: Uint8Array;
  readonly #forwards = new Map<bigint, Promise<string>>();
  readonly #requests = new Map<bigint, Promise<HeldGrant>>();

  private constructor(node: EmbeddedNode) {
    this.node = node;
    this.#peerId = peerIdFromWallet(node.wallet).toMultihash().bytes;
  }

  /** A client for `wallet` on the given chain and deployment. */
  static async start(options: EmbeddedNodeOptions): Promise<DibsClient> {
    return new DibsClient(await startEmbeddedNode(options));
  }

  /** Requests a grant on `serviceId` on chain (paying its price); its ticket is built when the service has a host. */
  requestAccess(serviceId: bigint): Promise<HeldGrant> {
    return this.node.access.request(serviceId);
  }

  /** The grants this client holds, newest first. */
  grants(): HeldGrant[] {
    return this.node.access.list();
  }

  /** A held, valid grant on `serviceId`, requesting one on chain when there is none. */
  async grant(serviceId: bigint): Promise<HeldGrant> {
    const soon = BigInt(Date.now() + TICKET_MIN_VALIDITY_MS);
    const held = this.grants().find(
      (g) => g.serviceId === serviceId && !g.revoked && g.expiresAt * 1000n > soon,
    );
    if (held) return held;
    let pending = this.#requests.get(serviceId);
    if (!pending) {
      pending = this.requestAccess(serviceId).finally(() => this.#requests.delete(serviceId));
      this.#requests.set(serviceId, pending);
    }
    return pending;
  }

  /** The service ticket for `serviceId` (grant requested when needed). */
  async ticket(serviceId: bigint): Promise<HeldTicket> {
    const grant = await this.grant(serviceId);
    return this.node.access.ticket(grant.grantId, TICKET_MIN_VALIDITY_MS);
  }

  /** An `Authorization` header value proving this wallet's grant to a server using `@dibs/sdk/server` (one per request). */
  async authorization(serviceId: bigint): Promise<string> {
    const t = await this.ticket(serviceId);
    const authenticator = createAuthenticator({
      ticket: t.ticket,
      sessionKey: t.sessionKey,
      clientPeerId: this.#peerId,
      servicePeerId: t.hostPeerId,
    });
    return formatTicketAuthorization({ ticket: t.ticket, authenticator, clientPeerId: this.#peerId });
  }

  /** Opens a tunnel to `serviceId` over the DIBS network: a duplex byte stream to its target. */
  async openTunnel(serviceId: bigint, options: { signal?: AbortSignal } = {}): Promise<Tunnel> {
    const network = await this.node.network();
    return network.services.open(serviceId, options);
  }

  /**
   * Fetches `path` from HTTP service `serviceId` through the DIBS network (a loopback forward into
   * tunnels, opened once per service and reused).
   */
  async fetch(serviceId: bigint, path: string, init?: RequestInit): Promise<Response> {
    let base = this.#forwards.get(serviceId);
    if (!base) {
      base = (async () => {
        const network = await this.node.network();
        const view: ConnectionView = await network.services.connect({ serviceId, listen: LOOPBACK_LISTEN });
        return `http://${view.localAddress}`;
      })();
      this.#forwards.set(serviceId, base);
      base.catch(() => this.#forwards.delete(serviceId));
    }
    return fetch(new URL(path, await base), init);
  }

  /** Stops the node (tunnels, forwards, network) and closes the database. */
  stop(): Promise<void> {
    return this.node.stop();
  }
}
