export * from './daemon/index.ts';
