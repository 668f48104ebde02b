export * from './cbor.ts';
export * from './identity/index.ts';
export * from './tickets/index.ts';
