export * from './codec.ts';
export * from './constants.ts';
export * from './errors.ts';
export * from './server.ts';
