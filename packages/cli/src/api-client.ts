/**
 * The client of the running node's management API (`<data dir>/run/node.json` names its URL and token
 * file): openapi-fetch over the types generated from the node's OpenAPI document (@dibs/api-types),
 * so a route change that breaks a command fails the type check. connect, proxy, status and audit talk
 * to the node that already runs instead of starting one.
 */
import { readFileSync } from 'node:fs';
import type { paths } from '@dibs/api-types';
import { readRuntimeInfo } from '@dibs/node';
import createClient, { type Client } from 'openapi-fetch';
import { CliError } from './errors.ts';

/** Longest API response body read. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Time allowed per API call. */
const API_TIMEOUT_MS = 60_000;

/** What an openapi-fetch call resolves to. */
type Fetched<T> = { data?: T; error?: unknown; response: Response };

/** A bearer-authenticated, typed client of one node's API. */
export interface ApiClient {
  readonly url: string;
  /** Typed calls: `api.client.GET('/api/v1/sessions')`. */
  readonly client: Client<paths>;
  /** The answer of a call, or a CliError with the node's code and message. */
  call<T>(request: Promise<Fetched<T>>): Promise<T>;
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
  const client = createClient<paths>({
    baseUrl,
    headers: { authorization: `Bearer ${token}` },
    fetch: async (request: Request) => {
      let res: Response;
      try {
        res = await fetch(request, { signal: AbortSignal.timeout(API_TIMEOUT_MS) });
      } catch (err) {
        throw new CliError(
          'API_UNREACHABLE',
          `the node's API at ${baseUrl} did not answer: ${(err as Error).message}`,
          'check the node is still running (`dibs node status`)',
        );
      }
      const body = await res.arrayBuffer();
      if (body.byteLength > MAX_RESPONSE_BYTES) {
        throw new CliError(
          'API_BAD_RESPONSE',
          `the node's API sent ${body.byteLength} bytes`,
          'this is a node bug',
        );
      }
      return new Response(res.status === 204 ? null : body, { status: res.status, headers: res.headers });
    },
  });
  return {
    url: baseUrl,
    client,
    async call<T>(request: Promise<Fetched<T>>): Promise<T> {
      let result: Fetched<T>;
      try {
        result = await request;
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError(
          'API_BAD_RESPONSE',
          `the node's API sent an answer that is not JSON: ${(err as Error).message}`,
          'check the node log',
        );
      }
      if (!result.response.ok) {
        const e = (result.error as { error?: { code?: string; message?: string; hint?: string } } | undefined)
          ?.error;
        throw new CliError(
          e?.code ?? `HTTP_${result.response.status}`,
          e?.message ?? `the node's API answered ${result.response.status}`,
          e?.hint ?? 'check the node log',
        );
      }
      return result.data as T;
    },
  };
}
