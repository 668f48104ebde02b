export * from './access/index.ts';
export * from './daemon/index.ts';
export * from './p2p/index.ts';
export * from './tunnel/index.ts';
export {
  changeAllowlist,
  listServices,
  type PolicyChange,
  publishService,
  readServicePolicy,
  resolveService,
  retireService,
  ServiceCatalog,
  type ServiceDirectory,
  ServiceError,
  type RunningServices,
  showService,
  type ServicePolicyView,
  startServices,
  updateServicePolicy,
  validatePublish,
} from './services/index.ts';
export type {
  ConnectionView,
  ProxyView,
  PublishInput,
  ServicePolicy,
  ServicesRuntime,
  ServiceView,
  SessionView,
  VpnStatusView,
} from './services/types.ts';
export { joinedOrgIds } from './orgs/index.ts';
export { SocksError, SocksServer } from './socks/index.ts';
