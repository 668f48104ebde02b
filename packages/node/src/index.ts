export * from './access/index.ts';
export * from './daemon/index.ts';
