export { openStore, Store, StoreError } from './store.ts';
export type { StoreOptions } from './store.ts';
