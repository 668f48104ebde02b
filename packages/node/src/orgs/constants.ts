/** Protocol namespace, limits and timings of organization networks. */

/** Protocol prefix of an organization network: `/dibs/org/<label>/<orgId>/…` (admission, DHT, identify, ping). */
export const ORG_PROTOCOL_ROOT = 'dibs/org';

/**
 * Public-DHT namespace of organization address records: `/dibs-org/<orgId>/<address>` holds a node's
 * signed record with the addresses of its host in that organization's network (its first contact).
 */
export const ORG_ADDRESS_NAMESPACE = 'dibs-org';

/** Most organization networks one node runs at once. */
export const MAX_ORG_NETWORKS = 32;

/** Organization nodes and members whose address records a join looks up (the rest are found through the DHT). */
export const MAX_ORG_CONTACTS = 32;

/** Relay nodes of one organization a node behind NAT considers for its reservations there. */
export const MAX_ORG_RELAYS = 8;

/** Per contact: address-record lookup in the public DHT, then dial plus admission. */
export const ORG_CONTACT_TIMEOUT_MS = 5_000;

/** With no admitted peer in the organization network: how often contacts are looked up again. */
export const ORG_REJOIN_INTERVAL_MS = 3_000;

/** How often a node re-publishes its records (public address record, org node record) while joined. */
export const ORG_REPUBLISH_INTERVAL_MS = 10 * 60_000;

/** Fleet configuration key: multiaddrs (comma or space separated) of the organization's preferred relays. */
export const FLEET_RELAYS_KEY = 'relays';

/** The longest wire label segment (the contract bounds labels to 32 bytes). */
export const MAX_WIRE_LABEL_CHARS = 32;
