export * from './access/index.ts';
export * from './daemon/index.ts';
export * from './p2p/index.ts';
export * from './tunnel/index.ts';
export {
  listServices,
  publishService,
  resolveService,
  retireService,
  ServiceCatalog,
  type ServiceDirectory,
  ServiceError,
  type RunningServices,
  showService,
  startServices,
  validatePublish,
} from './services/index.ts';
export type {
  ConnectionView,
  ProxyView,
  PublishInput,
  ServicesRuntime,
  ServiceView,
  SessionView,
  VpnStatusView,
} from './services/types.ts';
export { SocksError, SocksServer } from './socks/index.ts';
