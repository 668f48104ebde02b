/** Organization networks: one isolated network per organization inside a node, beside the public one. */
export * from './address-record.ts';
export * from './constants.ts';
export * from './errors.ts';
export * from './org-network.ts';
export * from './org-networks.ts';
