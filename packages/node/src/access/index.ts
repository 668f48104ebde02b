export type { HeldGrant, HeldTicket } from './access-client.ts';
export { AccessClient } from './access-client.ts';
export type { ChainMirrorOptions } from './chain-mirror.ts';
export { ChainMirror } from './chain-mirror.ts';
export { ChainHeadMonitor, type ChainHeadMonitorOptions, lagFields } from './head-monitor.ts';
export * from './constants.ts';
export { AccessError } from './errors.ts';
