export * from './identity/node.ts';
