/**
 * A real HTTP JSON-RPC proxy in front of a real anvil that rewrites chosen answers: the attacker
 * between a node and its chain. Each lie is a function of (method, params, honest result); the proxy
 * fetches the honest answer from anvil first, so a lie can reuse real proofs and headers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Rewrites one answer; returns the result to send (or the honest one unchanged). */
export type Lie = (
  method: string,
  params: unknown[],
  result: unknown,
  upstream: Upstream,
) => Promise<unknown> | unknown;
/** Calls anvil directly (a lie may need another honest answer to build from). */
export type Upstream = (method: string, params: unknown[]) => Promise<{ result?: unknown; error?: unknown }>;

export interface LyingRpc {
  url: string;
  /** The active lies, applied in order. */
  lies: Lie[];
  /** Answers rewritten so far. */
  rewritten: number;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

export async function startLyingRpc(upstreamUrl: string): Promise<LyingRpc> {
  const upstream: Upstream = async (method, params) => {
    const res = await fetch(upstreamUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    return (await res.json()) as { result?: unknown; error?: unknown };
  };
  const proxy: LyingRpc = { url: '', lies: [], rewritten: 0, close: async () => {} };
  const answer = async (req: { id: unknown; method: string; params?: unknown[] }) => {
    const params = req.params ?? [];
    const honest = await upstream(req.method, params);
    let result = honest.result;
    for (const lie of proxy.lies) {
      const next = await lie(req.method, params, result, upstream);
      if (next !== result) proxy.rewritten++;
      result = next;
    }
    if (result === undefined && honest.error) return { jsonrpc: '2.0', id: req.id, error: honest.error };
    return { jsonrpc: '2.0', id: req.id, result };
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
          const out = Array.isArray(body) ? await Promise.all(body.map(answer)) : await answer(body as never);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
        } catch (err) {
          res.writeHead(500).end(String(err));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
