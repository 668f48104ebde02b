/**
 * The HTTP form of a DIBS ticket presentation: `Authorization: DIBS <ticket>.<authenticator>.<peer>`,
 * each part base64url. The authenticator is fresh per request (one-shot: no challenge), bound to the
 * client's PeerId and the service node's PeerId and MAC'd with the ticket's session key, so a ticket
 * copied off the wire is useless and a copied header is refused as a replay.
 */
import { MAX_AUTHORIZATION_CHARS, TICKET_AUTH_SCHEME } from './constants.ts';
import { SdkError } from './errors.ts';

/** The three parts of a ticket presentation. */
export interface TicketPresentation {
  ticket: Uint8Array;
  authenticator: Uint8Array;
  clientPeerId: Uint8Array;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** The Authorization header value for a presentation. */
export function formatTicketAuthorization(p: TicketPresentation): string {
  return `${TICKET_AUTH_SCHEME} ${b64(p.ticket)}.${b64(p.authenticator)}.${b64(p.clientPeerId)}`;
}

/** Parses an Authorization header value of the DIBS scheme; undefined when it is another scheme. */
export function parseTicketAuthorization(header: string): TicketPresentation | undefined {
  if (header.length > MAX_AUTHORIZATION_CHARS) {
    throw new SdkError(
      'BAD_CREDENTIALS',
      `the Authorization header is over ${MAX_AUTHORIZATION_CHARS} characters`,
      'send one ticket',
    );
  }
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toUpperCase() !== TICKET_AUTH_SCHEME) return undefined;
  const parts = header
    .slice(space + 1)
    .trim()
    .split('.');
  if (parts.length !== 3 || !parts.every((p) => p.length > 0 && B64URL.test(p))) {
    throw new SdkError(
      'BAD_CREDENTIALS',
      'a DIBS Authorization header is "DIBS <ticket>.<authenticator>.<peer id>" in base64url',
      'make the header with the DIBS client SDK',
    );
  }
  const [ticket, authenticator, clientPeerId] = parts.map(
    (p) => new Uint8Array(Buffer.from(p, 'base64url')),
  ) as [Uint8Array, Uint8Array, Uint8Array];
  return { ticket, authenticator, clientPeerId };
}
