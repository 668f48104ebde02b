import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { test } from 'node:test';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createChainClients } from '../src/clients.ts';
import { ChainIdMismatchError, ChainUnreachableError } from '../src/errors.ts';
import { fundedKey, startAnvil } from './helpers.ts';

async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('unreachable URL: ChainUnreachableError names the URL and what to check', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  await assert.rejects(createChainClients({ rpcUrl: url }), (err: unknown) => {
    assert.ok(err instanceof ChainUnreachableError);
    assert.equal(err.code, 'CHAIN_UNREACHABLE');
    assert.equal(err.rpcUrl, url);
    assert.ok(err.message.includes(url));
    assert.match(err.message, /ECONNREFUSED/);
    assert.match(err.message, /check that/);
    return true;
  });
  await assert.rejects(createChainClients({ rpcUrl: 'ws://x' }), ChainUnreachableError);
  await assert.rejects(createChainClients({ rpcUrl: 'not a url' }), ChainUnreachableError);
});

test('an endpoint that never answers fails within the probe timeout', async (t) => {
  const sockets = new Set<import('node:net').Socket>();
  const server = createTcpServer((s) => sockets.add(s)); // accepts, never replies
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  await assert.rejects(createChainClients({ rpcUrl: url, probeTimeoutMs: 200 }), (err: unknown) => {
    assert.ok(err instanceof ChainUnreachableError);
    assert.match(err.message, /no answer within 200 ms/);
    return true;
  });
});

test('wrong chain id is refused; the right one yields working read and write clients', async (t) => {
  const anvil = await startAnvil(t);
  await assert.rejects(createChainClients({ rpcUrl: anvil.rpcUrl, chainId: 1 }), (err: unknown) => {
    assert.ok(err instanceof ChainIdMismatchError);
    assert.equal(err.actual, 31337);
    return true;
  });
  const readOnly = await createChainClients({ rpcUrl: anvil.rpcUrl, chainId: 31337 });
  assert.equal(readOnly.walletClient, undefined);
  assert.equal(readOnly.chainId, 31337);
  assert.equal(await readOnly.publicClient.getChainId(), 31337);
});

test('transactions go through without eth_fillTransaction reaching the endpoint', async (t) => {
  const anvil = await startAnvil(t);
  const methods: string[] = [];
  const target = new URL(anvil.rpcUrl);
  // A recording proxy in front of anvil: the same clients work against any JSON-RPC URL.
  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const parsed = JSON.parse(body.toString()) as { method: string } | { method: string }[];
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) methods.push(m.method);
      const up = httpRequest(
        { host: target.hostname, port: target.port, method: 'POST', path: '/', headers: req.headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    proxy.closeAllConnections();
    proxy.close();
  });
  const rpcUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  const clients = await createChainClients({ rpcUrl, account: await fundedKey(anvil.rpcUrl) });
  const to = privateKeyToAccount(generatePrivateKey()).address;
  for (let i = 0; i < 3; i++) {
    const hash = await clients.walletClient!.sendTransaction({ to, value: 1n });
    const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, 'success');
  }
  assert.equal(await clients.publicClient.getBalance({ address: to }), 3n);
  assert.ok(methods.includes('eth_sendRawTransaction'));
  assert.equal(methods.includes('eth_fillTransaction'), false);
});
