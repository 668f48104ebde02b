/** Services: the hosted catalog, publishing on chain, connections, SOCKS5 proxies, sessions. */
export * from './catalog.ts';
export * from './connector.ts';
export * from './constants.ts';
export * from './errors.ts';
export * from './forward.ts';
export * from './proxy.ts';
export * from './policy.ts';
export * from './token-amount.ts';
export * from './publish.ts';
export * from './runtime.ts';
export * from './target.ts';
export type * from './types.ts';
