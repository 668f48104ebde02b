export * from './access/index.ts';
export * from './daemon/index.ts';
export * from './p2p/index.ts';
export * from './tunnel/index.ts';
