/**
 * @dibs/sdk/browser — DIBS in web pages: the browser wallet (EIP-1193) as a DIBS identity, "Sign in
 * with DIBS" (a redirect to the application's login route, which runs the OpenID Connect code flow
 * against a DIBS login provider), and calls to DIBS-protected APIs with the resulting ID token.
 * No Node built-ins: it runs as is after bundling.
 */

/** The EIP-1193 provider a browser wallet injects as `window.ethereum`. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

/** A browser failure with a code for programs. */
export class DibsBrowserError extends Error {
  override name = 'DibsBrowserError';
  readonly code: 'NO_WALLET' | 'NO_ACCOUNT' | 'WRONG_CHAIN' | 'API_REFUSED';
  readonly status: number | undefined;
  constructor(code: DibsBrowserError['code'], message: string, status?: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** The injected wallet, or a NO_WALLET error saying what to do. */
export function injectedWallet(
  scope: { ethereum?: Eip1193Provider } = globalThis as { ethereum?: Eip1193Provider },
): Eip1193Provider {
  if (!scope.ethereum || typeof scope.ethereum.request !== 'function') {
    throw new DibsBrowserError(
      'NO_WALLET',
      'no browser wallet found: install one, or sign in with your DIBS node',
    );
  }
  return scope.ethereum;
}

/** Asks the wallet for its account; returns the address and the DIBS subject on the wallet's chain. */
export async function connectWallet(
  wallet: Eip1193Provider,
): Promise<{ address: string; chainId: number; sub: string }> {
  const accounts = (await wallet.request({ method: 'eth_requestAccounts' })) as string[];
  const address = accounts?.[0];
  if (!address) throw new DibsBrowserError('NO_ACCOUNT', 'the wallet gave no account');
  const chainId = Number.parseInt(String(await wallet.request({ method: 'eth_chainId' })), 16);
  return { address, chainId, sub: `eip155:${chainId}:${address}` };
}

/** Signs a text message with `personal_sign` (EIP-191), as Sign-In with Ethereum does. */
export async function signMessage(
  wallet: Eip1193Provider,
  address: string,
  message: string,
): Promise<string> {
  const hex = `0x${Array.from(new TextEncoder().encode(message), (b) => b.toString(16).padStart(2, '0')).join('')}`;
  return String(await wallet.request({ method: 'personal_sign', params: [hex, address] }));
}

/** Starts "Sign in with DIBS": goes to the application's login route, which redirects to the provider. */
export function signInWithDibs(
  loginPath = '/login',
  location: { assign(url: string): void } = globalThis.location,
): void {
  location.assign(loginPath);
}

/** Calls a DIBS-protected API (one using `@dibs/sdk/server`) with the user's ID token; returns its JSON. */
export async function callDibsApi<T = unknown>(
  url: string,
  idToken: string,
  init: RequestInit = {},
): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${idToken}`);
  const res = await fetch(url, { ...init, headers });
  const body = (await res.json().catch(() => ({}))) as T & { error?: string; message?: string };
  if (!res.ok) {
    throw new DibsBrowserError(
      'API_REFUSED',
      `${url} refused: ${body.error ?? res.status} ${body.message ?? ''}`.trim(),
      res.status,
    );
  }
  return body;
}
