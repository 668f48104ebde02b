/** @dibs/login — "Sign in with DIBS": an OpenID Connect provider whose login is SIWE and whose authorization is on chain. */
export {
  type LoginAuthorization,
  LoginAuthorizer,
  type LoginAuthorizerOptions,
  type LoginService,
} from './authorizer.ts';
export * from './constants.ts';
export { LoginError, type LoginErrorCode } from './errors.ts';
export { type ApproveLoginOptions, type ApproveLoginResult, approveLogin } from './approve.ts';
export { NonceBook, type NonceBookOptions } from './nonces.ts';
export { createOidcProvider, type OidcProviderOptions, parseSubject, serviceOfClient } from './provider.ts';
export { type LoginLogger, LoginServer, type LoginServerOptions } from './server.ts';
export { SiweVerifier, type SiweVerifierOptions, type VerifiedSiwe } from './siwe.ts';
export {
  checkRedirectUris,
  ClientRegistry,
  type LoginClient,
  migrateLoginStore,
  pruneArtifacts,
} from './storage.ts';
