/**
 * @dibs/sdk — the DIBS client SDK for Node: request access, hold grants and tickets, call
 * DIBS-protected APIs, open tunnels and fetch services over the DIBS network. The browser build
 * (`@dibs/sdk/browser`) signs in with a wallet and calls DIBS-protected APIs.
 */
export { DibsClient } from './client.ts';
export * from './constants.ts';
export { type ChainStatusJson, deploymentFromStatus } from './deployment.ts';
export { SdkError, type SdkErrorCode } from './errors.ts';
export { type EmbeddedNode, type EmbeddedNodeOptions, startEmbeddedNode } from './node.ts';
export {
  formatTicketAuthorization,
  parseTicketAuthorization,
  type TicketPresentation,
} from './ticket-header.ts';
