/**
 * Local approval: a user without a browser wallet signs in with their own DIBS node. The login page
 * names the login (`<issuer>/interaction/<id>`); the node fetches the SIWE message for its own
 * address, signs it with its key and posts it; the page, polling, then continues by itself.
 */
import { BODY_TIMEOUT_MS } from './constants.ts';
import { LoginError } from './errors.ts';

/** What {@link approveLogin} needs. */
export interface ApproveLoginOptions {
  /** The login to approve, as the login page shows it: `<issuer>/interaction/<id>`. */
  url: string;
  /** The node's address. */
  address: string;
  /** Signs a SIWE message with the node's key (EIP-191 personal_sign). */
  sign(message: string): Promise<string>;
  /** Called when the wallet holds no grant but the service's policy admits it: request one on chain. */
  requestAccess?(serviceId: bigint): Promise<void>;
}

/** How the approval ended. */
export type ApproveLoginResult = { status: 'approved' } | { status: 'refused'; reason: string };

async function call(url: string, init?: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(BODY_TIMEOUT_MS) });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    throw new LoginError(
      'BAD_REQUEST',
      `the login provider refused: ${String(body.error_description ?? `HTTP ${res.status}`)}`,
      String(body.hint ?? 'start the sign-in again in the browser'),
    );
  }
  return body;
}

/** Approves the login at `url` as this node's wallet. */
export async function approveLogin(o: ApproveLoginOptions): Promise<ApproveLoginResult> {
  let target: URL;
  try {
    target = new URL(o.url);
  } catch {
    throw new LoginError('BAD_REQUEST', `"${o.url}" is not a URL`, 'copy the address the login page shows');
  }
  const m = /^\/interaction\/([A-Za-z0-9_-]{1,64})\/?$/.exec(target.pathname);
  if (!m) {
    throw new LoginError(
      'BAD_REQUEST',
      `"${o.url}" is not a login to approve`,
      'copy the address the login page shows',
    );
  }
  const base = `${target.origin}/interaction/${m[1]}/node`;
  for (let attempt = 0; attempt < 2; attempt++) {
    const { message } = await call(`${base}?address=${encodeURIComponent(o.address)}`);
    const signature = await o.sign(String(message));
    const answer = await call(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message, signature }),
    });
    if (answer.status === 'approved') return { status: 'approved' };
    if (answer.status === 'grant_required' && o.requestAccess && attempt === 0) {
      await o.requestAccess(BigInt(String(answer.serviceId)));
      continue;
    }
    if (answer.status === 'grant_required') {
      return { status: 'refused', reason: `${String(answer.message)} (pass --request-access to request it)` };
    }
    return {
      status: 'refused',
      reason: `this wallet holds no grant for the application (${String(answer.error)})`,
    };
  }
  return { status: 'refused', reason: 'the grant requested on chain did not admit this wallet' };
}
