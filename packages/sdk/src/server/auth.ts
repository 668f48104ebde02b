/**
 * One entry point for a DIBS-protected HTTP server: `Authorization: Bearer <ID token>` from a DIBS
 * login, or `Authorization: DIBS <ticket presentation>` from a DIBS client. Either proves a wallet
 * holding a grant; the answer names it.
 */
import type { IncomingMessage } from 'node:http';
import { SdkError } from '../errors.ts';
import type { IdTokenVerifier } from './id-tokens.ts';
import type { DibsIdentity } from './identity.ts';
import type { TicketGate } from './tickets.ts';

/** What {@link DibsAuth} accepts. Give at least one. */
export interface DibsAuthOptions {
  idTokens?: IdTokenVerifier;
  tickets?: TicketGate;
}

/** Authenticates requests by ID token and/or DIBS ticket. */
export class DibsAuth {
  readonly #o: DibsAuthOptions;

  constructor(o: DibsAuthOptions) {
    if (!o.idTokens && !o.tickets)
      throw new TypeError('DibsAuth needs an ID token verifier, a ticket gate, or both');
    this.#o = o;
  }

  /** Verifies an Authorization header value. */
  async authenticate(authorization: string | undefined): Promise<DibsIdentity> {
    if (!authorization) {
      throw new SdkError(
        'NO_CREDENTIALS',
        'the request carries no Authorization header',
        'sign in with DIBS or present a DIBS ticket',
      );
    }
    const scheme = authorization.slice(0, authorization.indexOf(' ')).toLowerCase();
    if (scheme === 'bearer' && this.#o.idTokens)
      return this.#o.idTokens.verify(authorization.slice(7).trim());
    if (scheme === 'dibs' && this.#o.tickets) return this.#o.tickets.verify(authorization);
    throw new SdkError(
      'NO_CREDENTIALS',
      `the ${scheme || 'given'} authorization scheme is not accepted here`,
      this.challenge(),
    );
  }

  /** Verifies a Node request (any framework built on node:http). */
  authenticateRequest(req: IncomingMessage): Promise<DibsIdentity> {
    return this.authenticate(req.headers.authorization);
  }

  /** The WWW-Authenticate value naming what is accepted. */
  challenge(): string {
    return [this.#o.idTokens ? 'Bearer realm="dibs"' : '', this.#o.tickets ? 'DIBS realm="dibs"' : '']
      .filter(Boolean)
      .join(', ');
  }
}
