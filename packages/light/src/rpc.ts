/**
 * JSON-RPC over HTTP for verified reads: every answer bounded in size and time, and counted (the
 * light node's sync budget is measured in the bytes it downloads).
 */
import { MAX_RPC_RESPONSE_BYTES, RPC_TIMEOUT_MS } from './constants.ts';
import { LightError } from './errors.ts';

/** Options of {@link rpcCall}. */
export interface RpcCallOptions {
  timeoutMs?: number;
  maxResponseBytes?: number;
  /** Called with the size of every answer body read. */
  onBytes?: (bytes: number) => void;
}

let nextId = 1;

/** One JSON-RPC call; rejects with RPC_FAILED, TIMEOUT or TOO_LARGE. */
export async function rpcCall(
  url: string,
  method: string,
  params: unknown[],
  options: RpcCallOptions = {},
): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? RPC_TIMEOUT_MS;
  const max = options.maxResponseBytes ?? MAX_RPC_RESPONSE_BYTES;
  const signal = AbortSignal.timeout(timeoutMs);
  let text: string;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
      signal,
    });
    if (!res.ok || !res.body) throw new LightError('RPC_FAILED', `${method} at ${url}: HTTP ${res.status}`);
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value: chunk } = await reader.read();
      if (done) break;
      size += chunk.length;
      if (size > max) {
        await reader.cancel().catch(() => {});
        throw new LightError('TOO_LARGE', `${method} at ${url}: answer over ${max} bytes`);
      }
      chunks.push(chunk);
    }
    options.onBytes?.(size);
    text = Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    if (err instanceof LightError) throw err;
    if (signal.aborted)
      throw new LightError('TIMEOUT', `${method} at ${url}: no answer within ${timeoutMs} ms`);
    throw new LightError('RPC_FAILED', `${method} at ${url}: ${(err as Error).message}`, { cause: err });
  }
  let body: { result?: unknown; error?: { message?: string } };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new LightError('RPC_FAILED', `${method} at ${url}: the answer is not JSON`);
  }
  if (body.error) throw new LightError('RPC_FAILED', `${method} at ${url}: ${body.error.message ?? 'error'}`);
  return body.result;
}
