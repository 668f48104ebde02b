/**
 * @dibs/sdk/server — DIBS in any Node HTTP server: verify DIBS ID tokens (from "Sign in with DIBS")
 * and DIBS tickets, with Express and Fastify integration, against a chain view kept current by
 * contract events; and accept DIBS tunnels in-process with an embedded node.
 */
import type { PublishInput, ServiceView } from '@dibs/node';
import type { EmbeddedNode } from '../node.ts';

export * from '../constants.ts';
export { type ChainStatusJson, deploymentFromStatus } from '../deployment.ts';
export { SdkError, type SdkErrorCode } from '../errors.ts';
export { type EmbeddedNode, type EmbeddedNodeOptions, startEmbeddedNode } from '../node.ts';
export {
  formatTicketAuthorization,
  parseTicketAuthorization,
  type TicketPresentation,
} from '../ticket-header.ts';
export { DibsAuth, type DibsAuthOptions } from './auth.ts';
export { type ChainView, type ChainViewOptions, startChainView } from './chain-view.ts';
export { IdTokenVerifier, type IdTokenVerifierOptions } from './id-tokens.ts';
export type { DibsIdentity, GrantView } from './identity.ts';
export { type DibsRequest, dibsExpress, dibsFastify, dibsGuard, type RequireOptions } from './middleware.ts';
export { TicketGate, type TicketGateOptions } from './tickets.ts';

/**
 * Serves a local target (e.g. this process's own HTTP server) as a DIBS service from the embedded
 * node: published on chain, reachable through the network by ticket holders only.
 */
export async function serveOverDibs(node: EmbeddedNode, input: PublishInput): Promise<ServiceView> {
  const network = await node.network();
  return network.services.publish(input);
}
