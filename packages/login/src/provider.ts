/**
 * The `oidc-provider` configuration of a DIBS login provider: accounts are wallets
 * (`sub` = `eip155:<chainId>:<address>`), an account exists for a client only while the wallet holds
 * a grant on the client's login service, and every lifetime (session, grant, tokens) ends with that
 * grant. Refresh and userinfo look the account up again, so a revoked grant fails them.
 */
import type { SecretBox } from '@dibs/core';
import type { Store } from '@dibs/store';
import Provider, { type Account, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { getAddress, isAddress } from 'viem';
import type { LoginAuthorizer } from './authorizer.ts';
import {
  ACCESS_TOKEN_TTL_S,
  AUTHORIZATION_CODE_TTL_S,
  ID_TOKEN_TTL_S,
  INTERACTION_TTL_S,
  LOGIN_CLAIMS,
  LOGIN_SCOPES,
  REFRESH_TOKEN_TTL_S,
  SESSION_TTL_S,
} from './constants.ts';
import { errorPage } from './page.ts';
import { type ClientRegistry, loadProviderKeys, sqliteAdapter } from './storage.ts';

/** Options of {@link createOidcProvider}. */
export interface OidcProviderOptions {
  issuer: string;
  chainId: number;
  store: Store;
  box: SecretBox;
  clients: ClientRegistry;
  authorizer: LoginAuthorizer;
  /** Called when a chain read fails inside the provider (the request then fails closed). */
  onError?: (err: Error) => void;
}

/** The login service id a client is bound to, from its registration. */
export function serviceOfClient(
  client: { metadata(): Record<string, unknown> } | undefined,
): bigint | undefined {
  const id = client?.metadata().dibs_service_id;
  return typeof id === 'string' && /^\d{1,78}$/.test(id) ? BigInt(id) : undefined;
}

/** Parses `eip155:<chainId>:<address>`; undefined for anything else or another chain. */
export function parseSubject(sub: string, chainId: number): `0x${string}` | undefined {
  const m = /^eip155:(\d{1,20}):(0x[0-9a-fA-F]{40})$/.exec(sub);
  if (!m || Number(m[1]) !== chainId || !isAddress(m[2]!, { strict: false })) return undefined;
  return getAddress(m[2]!);
}

/** Builds the provider. */
export function createOidcProvider(o: OidcProviderOptions): Provider {
  const { jwks, cookieKeys } = loadProviderKeys(o.store, o.box);

  /** Seconds left of the grant behind `accountId` at `client`, capped at `cap`. */
  const bounded = (
    ctx: KoaContextWithOIDC | undefined,
    accountId: string | undefined,
    cap: number,
  ): number => {
    const serviceId = serviceOfClient(ctx?.oidc?.client);
    const address = accountId ? parseSubject(accountId, o.chainId) : undefined;
    if (serviceId === undefined || !address) return cap;
    const expiresAt = o.authorizer.grantExpiry(serviceId, address);
    if (expiresAt === undefined) return cap;
    return Math.max(1, Math.min(cap, Math.floor((expiresAt - Date.now()) / 1000)));
  };

  const configuration: Configuration = {
    adapter: sqliteAdapter(o.store, o.clients),
    jwks: jwks as Configuration['jwks'],
    cookies: { keys: cookieKeys },
    scopes: [...LOGIN_SCOPES],
    claims: Object.fromEntries(Object.entries(LOGIN_CLAIMS).map(([k, v]) => [k, [...v]])),
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    extraClientMetadata: { properties: ['dibs_service_id'] },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    rotateRefreshToken: true,
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = errorPage(String(out.error), String(out.error_description ?? ''));
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: {
      AuthorizationCode: AUTHORIZATION_CODE_TTL_S,
      Interaction: INTERACTION_TTL_S,
      AccessToken: (ctx, token) => bounded(ctx, token.accountId, ACCESS_TOKEN_TTL_S),
      IdToken: (ctx, token) =>
        bounded(ctx, String((token as unknown as { accountId?: string }).accountId ?? ''), ID_TOKEN_TTL_S),
      RefreshToken: (ctx, token) => bounded(ctx, token.accountId, REFRESH_TOKEN_TTL_S),
      Grant: (ctx, grant) => bounded(ctx, grant.accountId, REFRESH_TOKEN_TTL_S),
      Session: (ctx, session) => bounded(ctx, session.accountId, SESSION_TTL_S),
    },
    async findAccount(ctx, sub): Promise<Account | undefined> {
      const address = parseSubject(sub, o.chainId);
      const serviceId = serviceOfClient(ctx.oidc?.client);
      if (!address || serviceId === undefined) return undefined;
      let authorization: Awaited<ReturnType<LoginAuthorizer['authorize']>>;
      try {
        authorization = await o.authorizer.authorize(serviceId, address);
      } catch (err) {
        o.onError?.(err as Error);
        return undefined;
      }
      if (!authorization) return undefined;
      const { did } = o.authorizer.subject(address);
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            did,
            address,
            chain_id: o.chainId,
            grant_id: String(authorization.grantId),
            groups: authorization.groups,
            organizations: authorization.organizations,
          };
        },
      };
    },
  };
  const provider = new Provider(o.issuer, configuration);
  return provider;
}
