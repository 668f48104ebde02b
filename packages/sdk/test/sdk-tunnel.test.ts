/**
 * The SDKs over the real network: a service process accepts DIBS tunnels in-process (embedded node,
 * no separate daemon), and a Node client opens a tunnel to it and fetches through it — real anvil,
 * real libp2p on loopback, a real HTTP server behind the service.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Wallet } from '@dibs/core';
import { type ChainBed, startChainBed } from '../../node/test/chain-nodes.ts';
import { DibsClient } from '../src/index.ts';
import { type EmbeddedNode, serveOverDibs, startEmbeddedNode } from '../src/server/index.ts';

describe('SDK: in-process service and Node client over DIBS tunnels', () => {
  let bed: ChainBed;
  let web: Server;
  let host: EmbeddedNode;
  let client: DibsClient;
  let serviceId: bigint;

  before(async () => {
    bed = await startChainBed('dibs-sdk-tunnel-');
    await bed.startNode(bed.operator); // the network's bootstrap node
    web = createServer((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`hello ${req.method} ${req.url}`);
    });
    web.listen(0, '127.0.0.1');
    await once(web, 'listening');
    const port = (web.address() as { port: number }).port;
    const hostWallet = Wallet.generate();
    await fund(bed, hostWallet);
    host = await startEmbeddedNode({
      wallet: hostWallet,
      rpcUrl: bed.anvil.rpcUrl,
      deployment: bed.deployment,
    });
    const view = await serveOverDibs(host, {
      name: 'sdk-web',
      type: 'http',
      target: `127.0.0.1:${port}`,
      policy: 'public',
    });
    serviceId = view.id;
    const clientWallet = Wallet.generate();
    await fund(bed, clientWallet);
    client = await DibsClient.start({
      wallet: clientWallet,
      rpcUrl: bed.anvil.rpcUrl,
      deployment: bed.deployment,
    });
  });

  after(async () => {
    await client?.stop();
    await host?.stop();
    web?.close();
    await bed?.stop();
  });

  test('the client requests access, holds the grant and its ticket', async () => {
    const grant = await client.grant(serviceId);
    assert.equal(grant.serviceId, serviceId);
    assert.ok(client.grants().some((g) => g.grantId === grant.grantId));
    const ticket = await client.ticket(serviceId);
    assert.ok(ticket.ticket.length > 0);
    assert.equal(ticket.grant.grantId, grant.grantId, 'the held grant is reused, not requested again');
  });

  test('fetch through the DIBS network reaches the HTTP service', async () => {
    const res = await client.fetch(serviceId, '/greeting?x=1');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello GET /greeting?x=1');
    const again = await client.fetch(serviceId, '/second', { method: 'POST', body: 'x' });
    assert.equal(await again.text(), 'hello POST /second');
  });

  test('a raw tunnel carries bytes both ways', async () => {
    const tunnel = await client.openTunnel(serviceId);
    const chunks: Buffer[] = [];
    tunnel.socket.on('data', (c: Buffer) => chunks.push(c));
    tunnel.socket.write('GET /raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await once(tunnel.socket, 'end');
    const text = Buffer.concat(chunks).toString();
    assert.match(text, /^HTTP\/1.1 200/);
    assert.match(text, /hello GET \/raw/);
    tunnel.close();
  });
});

async function fund(bed: ChainBed, wallet: Wallet): Promise<void> {
  await bed.operator.clients.publicClient.request({
    method: 'anvil_setBalance',
    params: [wallet.address, '0x3635C9ADC5DEA00000'],
  } as never);
}
