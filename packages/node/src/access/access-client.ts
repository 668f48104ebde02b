import type { RegistryWriter } from '@dibs/chain';
import {
  defaultTicketCrypto,
  encryptionKeyFromWallet,
  issueTicket,
  SecretBox,
  type Wallet,
  type X25519Key,
} from '@dibs/core';
import type { Store } from '@dibs/store';
import { zeroAddress } from 'viem';
import { AccessError } from './errors.ts';

const MIGRATIONS = [
  (db: Store['db']) => {
    db.exec(`CREATE TABLE access_grants (
      grant_id TEXT PRIMARY KEY,
      service_id TEXT NOT NULL,
      service_type TEXT NOT NULL,
      service_name TEXT NOT NULL,
      host TEXT NOT NULL,
      host_peer_id BLOB,
      issued_at TEXT NOT NULL,
      expires_at TEXT NOT NULL,
      revoked INTEGER NOT NULL DEFAULT 0,
      ticket BLOB,
      session_key_box BLOB,
      ticket_expires_at INTEGER,
      transaction_hash TEXT NOT NULL,
      created_at INTEGER NOT NULL)`);
  },
];

/** A grant this node holds, as `dibs access list` shows it. */
export interface HeldGrant {
  grantId: bigint;
  serviceId: bigint;
  serviceType: string;
  serviceName: string;
  host: string;
  issuedAt: bigint;
  expiresAt: bigint;
  revoked: boolean;
  hasTicket: boolean;
  transactionHash: string;
}

/** A service ticket ready to present: the ticket bytes and the session key proving possession. */
export interface HeldTicket {
  grant: HeldGrant;
  ticket: Uint8Array;
  sessionKey: Uint8Array;
  hostPeerId: Uint8Array;
}

/**
 * The client side of access: requests grants on chain, builds service tickets for the service's host
 * node from the Registry, and keeps both in the node's database (session keys sealed under the wallet).
 */
export class AccessClient {
  readonly #store: Store;
  readonly #registry: RegistryWriter;
  readonly #wallet: Wallet | undefined;
  readonly #chainId: number;
  readonly #box: SecretBox | undefined;
  /** Prepared once, so the ticket library's per-service key cache applies to every ticket we issue. */
  readonly #encryptionKey: X25519Key | undefined;

  /** Without a wallet the client can only read what is stored (list, get). */
  constructor(opts: {
    store: Store;
    registry: RegistryWriter;
    wallet?: Wallet | undefined;
    chainId: number;
  }) {
    this.#store = opts.store;
    this.#registry = opts.registry;
    this.#wallet = opts.wallet;
    this.#chainId = opts.chainId;
    this.#box = opts.wallet ? new SecretBox(opts.wallet) : undefined;
    this.#encryptionKey = opts.wallet
      ? defaultTicketCrypto().x25519Key(encryptionKeyFromWallet(opts.wallet).privateKey)
      : undefined;
    this.#store.migrate('access', MIGRATIONS);
  }

  #unlocked(): { wallet: Wallet; box: SecretBox; encryptionKey: X25519Key } {
    if (!this.#wallet || !this.#box || !this.#encryptionKey) {
      throw new AccessError(
        'LOCKED',
        'this needs the unlocked wallet',
        'construct the access client with the wallet',
      );
    }
    return { wallet: this.#wallet, box: this.#box, encryptionKey: this.#encryptionKey };
  }

  /** Requests a grant for `serviceId` (paying its price) and, when the service has a host, its ticket. */
  async request(serviceId: bigint): Promise<HeldGrant> {
    this.#unlocked();
    const service = await this.#registry.getService(serviceId);
    if (!service) {
      throw new AccessError(
        'UNKNOWN_SERVICE',
        `service ${serviceId} does not exist`,
        'list services on chain and check the id',
      );
    }
    if (!service.active) {
      throw new AccessError(
        'SERVICE_RETIRED',
        `service ${serviceId} (${service.name}) is retired`,
        'ask its owner for another one',
      );
    }
    const grant = await this.#registry.requestAccess(serviceId);
    const held: HeldGrant = {
      grantId: grant.grantId,
      serviceId,
      serviceType: service.serviceType,
      serviceName: service.name,
      host: service.host,
      issuedAt: grant.issuedAt,
      expiresAt: grant.expiresAt,
      revoked: false,
      hasTicket: false,
      transactionHash: grant.transactionHash,
    };
    this.#store.run(
      `INSERT INTO access_grants (grant_id, service_id, service_type, service_name, host, issued_at, expires_at,
         transaction_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      String(held.grantId),
      String(serviceId),
      held.serviceType,
      held.serviceName,
      held.host,
      String(held.issuedAt),
      String(held.expiresAt),
      held.transactionHash,
      Date.now(),
    );
    if (service.host !== zeroAddress) {
      await this.ticket(held.grantId);
      held.hasTicket = true;
    }
    return held;
  }

  /** The grants this node holds, newest first. */
  list(): HeldGrant[] {
    const rows = this.#store.db
      .prepare('SELECT * FROM access_grants ORDER BY created_at DESC')
      .all() as unknown as Row[];
    return rows.map(rowToGrant);
  }

  get(grantId: bigint): HeldGrant | undefined {
    const row = this.#store.db
      .prepare('SELECT * FROM access_grants WHERE grant_id = ?')
      .get(String(grantId)) as Row | undefined;
    return row ? rowToGrant(row) : undefined;
  }

  /** Checks the grant on chain and records a revocation or retirement found there. */
  async refresh(grantId: bigint): Promise<HeldGrant> {
    const held = this.#require(grantId);
    const onChain = await this.#registry.getGrant(grantId);
    const valid = await this.#registry.isGrantValid(grantId);
    if (onChain?.revoked || !valid) {
      this.#store.run(
        'UPDATE access_grants SET revoked = ? WHERE grant_id = ?',
        onChain?.revoked ? 1 : 0,
        String(grantId),
      );
    }
    return { ...held, revoked: onChain?.revoked ?? held.revoked };
  }

  /** Revokes a grant on chain (as the service owner, or giving up one's own grant). */
  async revoke(grantId: bigint): Promise<{ transactionHash: string }> {
    const receipt = await this.#registry.revokeGrant(grantId);
    this.#store.run('UPDATE access_grants SET revoked = 1 WHERE grant_id = ?', String(grantId));
    return { transactionHash: receipt.transactionHash };
  }

  /**
   * The service ticket of a grant: the stored one while it is valid for at least `minValidityMs`,
   * else a new one built for the service's current host node from the Registry.
   */
  async ticket(grantId: bigint, minValidityMs = 60_000): Promise<HeldTicket> {
    const { wallet, box, encryptionKey } = this.#unlocked();
    const held = this.#require(grantId);
    if (held.revoked) throw new AccessError('REVOKED', `grant ${grantId} is revoked`, 'request access again');
    if (held.expiresAt * 1000n <= BigInt(Date.now())) {
      throw new AccessError(
        'EXPIRED',
        `grant ${grantId} expired`,
        `run: dibs access request ${held.serviceId}`,
      );
    }
    const row = this.#store.db
      .prepare('SELECT * FROM access_grants WHERE grant_id = ?')
      .get(String(grantId)) as unknown as Row;
    if (
      row.ticket &&
      row.session_key_box &&
      row.host_peer_id &&
      Number(row.ticket_expires_at) > Date.now() + minValidityMs
    ) {
      return {
        grant: held,
        ticket: new Uint8Array(row.ticket),
        sessionKey: box.open(new Uint8Array(row.session_key_box), `grant:${grantId}`),
        hostPeerId: new Uint8Array(row.host_peer_id),
      };
    }
    const service = await this.#registry.getService(held.serviceId);
    if (!service || service.host === zeroAddress) {
      throw new AccessError(
        'NO_HOST',
        `service ${held.serviceId} has no host node to present a ticket to`,
        'ask its owner to set a host',
      );
    }
    const [node, identity] = await Promise.all([
      this.#registry.getNode(service.host),
      this.#registry.getIdentity(service.host),
    ]);
    if (!node || !identity) {
      throw new AccessError(
        'HOST_NOT_REGISTERED',
        `the host ${service.host} of service ${held.serviceId} has not registered its node and encryption key`,
        'the service host must run `dibs up` so its node registers',
      );
    }
    const issued = issueTicket({
      kind: 'service',
      grant: { grantId, serviceId: held.serviceId, expiresAt: held.expiresAt },
      chainId: this.#chainId,
      contract: this.#registry.addresses.accessGrants,
      client: {
        address: wallet.address,
        encryptionPrivateKey: encryptionKey,
      },
      service: {
        serviceId: held.serviceId,
        serviceType: service.serviceType,
        peerId: node.peerId,
        encryptionPublicKey: identity.encryptionKey,
      },
    });
    this.#store.run(
      `UPDATE access_grants SET ticket = ?, session_key_box = ?, ticket_expires_at = ?, host = ?, host_peer_id = ?
       WHERE grant_id = ?`,
      issued.ticket,
      box.seal(issued.sessionKey, `grant:${grantId}`),
      issued.expiresAt,
      service.host,
      node.peerId,
      String(grantId),
    );
    return {
      grant: { ...held, hasTicket: true },
      ticket: issued.ticket,
      sessionKey: issued.sessionKey,
      hostPeerId: node.peerId,
    };
  }

  #require(grantId: bigint): HeldGrant {
    const held = this.get(grantId);
    if (!held) {
      throw new AccessError('UNKNOWN_GRANT', `this node holds no grant ${grantId}`, 'see `dibs access list`');
    }
    return held;
  }
}

interface Row {
  grant_id: string;
  service_id: string;
  service_type: string;
  service_name: string;
  host: string;
  host_peer_id: Uint8Array | null;
  issued_at: string;
  expires_at: string;
  revoked: number;
  ticket: Uint8Array | null;
  session_key_box: Uint8Array | null;
  ticket_expires_at: number | null;
  transaction_hash: string;
}

function rowToGrant(r: Row): HeldGrant {
  return {
    grantId: BigInt(r.grant_id),
    serviceId: BigInt(r.service_id),
    serviceType: r.service_type,
    serviceName: r.service_name,
    host: r.host,
    issuedAt: BigInt(r.issued_at),
    expiresAt: BigInt(r.expires_at),
    revoked: r.revoked === 1,
    hasTicket: r.ticket !== null,
    transactionHash: r.transaction_hash,
  };
}
