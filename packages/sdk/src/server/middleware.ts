/**
 * Express and Fastify integration. Both put the verified identity on `req.dibs` and answer refused
 * requests with 401 (or the error's status), a WWW-Authenticate header and a JSON error body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SdkError } from '../errors.ts';
import type { DibsAuth } from './auth.ts';
import type { DibsIdentity } from './identity.ts';

/** A request that passed the middleware. */
export interface DibsRequest extends IncomingMessage {
  dibs?: DibsIdentity;
}

/** Optional checks after authentication. */
export interface RequireOptions {
  /** Accept only wallets in one of these organizations (ID tokens with `groups`). */
  groups?: string[];
  /** Accept only tickets/grants for these services. */
  serviceIds?: bigint[];
}

function check(identity: DibsIdentity, o: RequireOptions): void {
  if (o.groups && !o.groups.some((g) => identity.groups.includes(g))) {
    throw new SdkError(
      'ACCESS_DENIED',
      `${identity.sub} is in none of the groups ${o.groups.join(', ')}`,
      'ask an organization admin',
      { status: 403 },
    );
  }
  if (o.serviceIds && (identity.serviceId === undefined || !o.serviceIds.includes(identity.serviceId))) {
    throw new SdkError(
      'ACCESS_DENIED',
      'the ticket is for another service',
      'request access to this service',
      { status: 403 },
    );
  }
}

function refuse(res: ServerResponse, auth: DibsAuth, err: unknown): void {
  const e =
    err instanceof SdkError
      ? err
      : new SdkError('BAD_CREDENTIALS', (err as Error).message, 'retry', { cause: err, status: 500 });
  res.statusCode = e.status;
  if (e.status === 401) res.setHeader('www-authenticate', auth.challenge());
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ error: e.code, message: e.message, hint: e.hint }));
}

/** Express middleware: `app.use('/api', dibsExpress(auth))`. */
export function dibsExpress(auth: DibsAuth, options: RequireOptions = {}) {
  return (req: DibsRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    auth
      .authenticateRequest(req)
      .then((identity) => {
        check(identity, options);
        req.dibs = identity;
        next();
      })
      .catch((err: unknown) => refuse(res, auth, err));
  };
}

/** Fastify hook: `app.addHook('onRequest', dibsFastify(auth))` (or per route as `onRequest`). */
export function dibsFastify(auth: DibsAuth, options: RequireOptions = {}) {
  return async (
    request: { raw: IncomingMessage; dibs?: DibsIdentity },
    reply: { raw: ServerResponse; hijack(): void },
  ): Promise<void> => {
    try {
      const identity = await auth.authenticateRequest(request.raw);
      check(identity, options);
      request.dibs = identity;
    } catch (err) {
      reply.hijack();
      refuse(reply.raw, auth, err);
    }
  };
}

/** Plain node:http: resolves with the identity, or answers the request and resolves undefined. */
export async function dibsGuard(
  auth: DibsAuth,
  req: IncomingMessage,
  res: ServerResponse,
  options: RequireOptions = {},
): Promise<DibsIdentity | undefined> {
  try {
    const identity = await auth.authenticateRequest(req);
    check(identity, options);
    return identity;
  } catch (err) {
    refuse(res, auth, err);
    return undefined;
  }
}
