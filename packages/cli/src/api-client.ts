/**
 * A small client for the running node's management API (`<data dir>/run/node.json` names its URL and
 * token file): connect, proxy and status talk to the node that already runs instead of starting one.
 */
import { readFileSync } from 'node:fs';
import { readRuntimeInfo } from '@dibs/node';
import { CliError } from './errors.ts';

/** Longest API response body read. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Time allowed per API call. */
const API_TIMEOUT_MS = 60_000;

/** A bearer-authenticated client of one node's API. */
export interface ApiClient {
  readonly url: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  delete(path: string): Promise<void>;
}

/** The running node's API for `runtimePath`, or undefined when no node runs or it has no API. */
export function runningApi(runtimePath: string): ApiClient | undefined {
  const info = readRuntimeInfo(runtimePath);
  const api = info?.api;
  if (!api?.url || !api.tokenFile) return undefined;
  let token: string;
  try {
    token = readFileSync(api.tokenFile, 'utf8').trim();
  } catch (err) {
    throw new CliError(
      'API_TOKEN_UNREADABLE',
      `cannot read the node's API token ${api.tokenFile}: ${(err as Error).message}`,
      'run this as the user who started the node',
    );
  }
  return apiClient(api.url, token);
}

/** A client for `baseUrl` with bearer `token`. */
export function apiClient(baseUrl: string, token: string): ApiClient {
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    let res: Response;
    try {
      res = await fetch(new URL(path, baseUrl), {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(API_TIMEOUT_MS),
      });
    } catch (err) {
      throw new CliError(
        'API_UNREACHABLE',
        `the node's API at ${baseUrl} did not answer: ${(err as Error).message}`,
        'check the node is still running (`dibs node status`)',
      );
    }
    const text = await res.text();
    if (text.length > MAX_RESPONSE_BYTES) {
      throw new CliError(
        'API_BAD_RESPONSE',
        `the node's API sent ${text.length} bytes`,
        'this is a node bug',
      );
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new CliError(
        'API_BAD_RESPONSE',
        `the node's API sent non-JSON (${res.status})`,
        'check the node log',
      );
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string; message?: string; hint?: string } } | undefined)?.error;
      throw new CliError(
        e?.code ?? `HTTP_${res.status}`,
        e?.message ?? `the node's API answered ${res.status}`,
        e?.hint ?? 'check the node log',
      );
    }
    return parsed;
  };
  return {
    url: baseUrl,
    get: async <T>(path: string) => (await call('GET', path)) as T,
    post: async <T>(path: string, body: unknown) => (await call('POST', path, body)) as T,
    delete: async (path: string) => {
      await call('DELETE', path);
    },
  };
}
