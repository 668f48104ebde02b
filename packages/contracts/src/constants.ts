/** Access policies of a service (Services.policy). OrgNetwork admits an organization's members and member nodes. */
export const Policy = { Public: 0, Allowlist: 1, OrgMembers: 2, TokenHolders: 3, OrgNetwork: 4 } as const;
/** A policy value. */
export type Policy = (typeof Policy)[keyof typeof Policy];

/** Node role bits (Registry roles bitmask). Bootstrap takes effect only once the owner approves it. */
export const Role = { Bootstrap: 1, Relay: 2, ServiceHost: 4 } as const;
/** A single role bit. */
export type Role = (typeof Role)[keyof typeof Role];

/** Limits enforced by the contracts; a call beyond them reverts. */
export const Limits = {
  /** Services: service type length, bytes. */
  maxServiceTypeBytes: 32,
  /** Services: service name length, bytes. */
  maxServiceNameBytes: 128,
  /** Services: highest price in base units (stored in 96 bits). */
  maxPrice: (1n << 96n) - 1n,
  /** Services: longest grant duration, seconds (stored in 32 bits). */
  maxGrantDuration: (1n << 32n) - 1n,
  /** Services: accounts per setAllowlist call. */
  maxAllowlistBatch: 256,
  /** Registry: PeerId length, bytes. */
  maxPeerIdBytes: 64,
  /** Registry: multiaddrs per node. */
  maxMultiaddrs: 8,
  /** Registry: multiaddr length, bytes. */
  maxMultiaddrBytes: 256,
  /** Organizations: name length, bytes. */
  maxOrganizationNameBytes: 64,
  /** Organizations: network label length, bytes. */
  maxNetworkLabelBytes: 32,
  /** Organizations: fleet configuration key length, bytes (at least 1). */
  maxEnvKeyBytes: 64,
  /** Organizations: fleet configuration value length, bytes (empty removes the key). */
  maxEnvValueBytes: 1024,
  /** Organizations: fleet configuration keys per organization. */
  maxEnvKeys: 64,
} as const;

/** A grant id is `(serviceId << GRANT_SERVICE_SHIFT) | n`, n numbering the service's grants from 1. */
export const GRANT_SERVICE_SHIFT = 64n;

/** Default time to wait for each deployment receipt. */
export const DEPLOY_RECEIPT_TIMEOUT_MS = 120_000;
/** Default receipt polling interval while deploying. */
export const DEPLOY_POLL_INTERVAL_MS = 250;
/** Safety margin added to each deployment's gas estimate, in percent. */
export const DEPLOY_GAS_MARGIN_PERCENT = 20n;
