/**
 * Server SDK: Express and Fastify middleware accept a valid DIBS ticket and refuse a stolen, replayed,
 * expired or revoked one — real anvil, the chain view fed by contract events, the client SDK making
 * the presentations.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { RegistryWriter } from '@dibs/chain';
import { Policy } from '@dibs/contracts';
import { createAuthenticator, peerIdFromWallet, Wallet } from '@dibs/core';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { type ChainBed, type ChainParty, startChainBed } from '../../node/test/chain-nodes.ts';
import { DibsClient, formatTicketAuthorization, parseTicketAuthorization } from '../src/index.ts';
import {
  type ChainView,
  DibsAuth,
  type DibsRequest,
  dibsExpress,
  dibsFastify,
  startChainView,
  TicketGate,
} from '../src/server/index.ts';

describe('server SDK: ticket middleware for Express and Fastify', () => {
  let bed: ChainBed;
  let host: ChainParty;
  let view: ChainView;
  let client: DibsClient;
  let expressServer: Server;
  let fastify: FastifyInstance;
  let expressUrl: string;
  let fastifyUrl: string;
  let serviceId: bigint;
  let shortServiceId: bigint;

  before(async () => {
    bed = await startChainBed('dibs-sdk-server-');
    host = await bed.party('api-host');
    // The API process is the service's host: its node record names the key tickets are bound to.
    await host.registry.registerNode({
      peerId: peerIdFromWallet(host.wallet).toMultihash().bytes,
      roles: 4,
      multiaddrs: [],
    });
    serviceId = await host.registry.publishService({
      serviceType: 'http',
      name: 'api',
      grantDuration: 3600n,
      host: host.wallet.address as `0x${string}`,
      policy: Policy.Allowlist,
    });
    shortServiceId = await host.registry.publishService({
      serviceType: 'http',
      name: 'api-short',
      grantDuration: 3n,
      host: host.wallet.address as `0x${string}`,
      policy: Policy.Public,
    });
    view = await startChainView({
      rpcUrl: bed.anvil.rpcUrl,
      deployment: bed.deployment,
      pollIntervalMs: 100,
    });
    const gate = new TicketGate({
      wallet: host.wallet,
      chainId: bed.deployment.chainId,
      contract: bed.deployment.accessGrants,
      view,
    });
    const auth = new DibsAuth({ tickets: gate });

    const app = express();
    app.get('/whoami', dibsExpress(auth), (req, res) => {
      const id = (req as unknown as DibsRequest).dibs!;
      res.json({ address: id.address, grantId: String(id.grantId), via: id.via });
    });
    expressServer = app.listen(0, '127.0.0.1');
    await new Promise((r) => expressServer.once('listening', r));
    expressUrl = `http://127.0.0.1:${(expressServer.address() as AddressInfo).port}`;

    fastify = Fastify();
    fastify.get('/whoami', { onRequest: dibsFastify(auth) }, async (request) => {
      const id = (request as unknown as DibsRequest).dibs!;
      return { address: id.address, via: id.via };
    });
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    fastifyUrl = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`;

    const wallet = Wallet.generate();
    await bed.party('client', wallet);
    await host.registry.setAllowlist(serviceId, [wallet.address as `0x${string}`], true);
    client = await DibsClient.start({ wallet, rpcUrl: bed.anvil.rpcUrl, deployment: bed.deployment });
  });

  after(async () => {
    await client?.stop();
    expressServer?.close();
    await fastify?.close();
    await view?.stop();
    await bed?.stop();
  });

  const call = (url: string, authorization?: string) =>
    fetch(`${url}/whoami`, authorization ? { headers: { authorization } } : {});

  test('a valid ticket is accepted by Express and by Fastify', async () => {
    const r1 = await call(expressUrl, await client.authorization(serviceId));
    assert.equal(r1.status, 200, await r1.clone().text());
    const body = (await r1.json()) as { address: string; via: string };
    assert.equal(body.address, client.node.wallet.address);
    assert.equal(body.via, 'ticket');
    const r2 = await call(fastifyUrl, await client.authorization(serviceId));
    assert.equal(r2.status, 200, await r2.clone().text());
    assert.equal(((await r2.json()) as { address: string }).address, client.node.wallet.address);
  });

  test('no credentials, garbage and another scheme are refused with 401 and a challenge', async () => {
    const none = await call(expressUrl);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /DIBS/);
    for (const header of [
      'DIBS !!!',
      'DIBS a.b',
      `DIBS ${'A'.repeat(9000)}`,
      'Basic dXNlcjpwYXNz',
      'DIBS AAAA.BBBB.CCCC',
    ]) {
      const res = await call(fastifyUrl, header);
      assert.ok(res.status === 401 || res.status === 413, `${header.slice(0, 20)} → ${res.status}`);
    }
  });

  test('a stolen ticket (no session key) and a replayed header are refused', async () => {
    const header = await client.authorization(serviceId);
    const stolen = parseTicketAuthorization(header)!;
    // The thief has the ticket bytes but not the session key inside it, nor the client's key.
    const thief = peerIdFromWallet(Wallet.generate()).toMultihash().bytes;
    const forged = formatTicketAuthorization({
      ticket: stolen.ticket,
      clientPeerId: thief,
      authenticator: createAuthenticator({
        ticket: stolen.ticket,
        sessionKey: new Uint8Array(randomBytes(32)),
        clientPeerId: thief,
        servicePeerId: peerIdFromWallet(host.wallet).toMultihash().bytes,
      }),
    });
    const r1 = await call(expressUrl, forged);
    assert.equal(r1.status, 401);
    assert.match(((await r1.json()) as { message: string }).message, /TAMPERED|WRONG_PEER/);
    // The genuine header, copied off the wire and sent again.
    assert.equal((await call(expressUrl, header)).status, 200);
    const replay = await call(expressUrl, header);
    assert.equal(replay.status, 401);
    assert.match(((await replay.json()) as { message: string }).message, /REPLAY/);
  });

  test('an expired grant is refused', async () => {
    const header = await client.authorization(shortServiceId);
    const grant = client.grants().find((g) => g.serviceId === shortServiceId)!;
    // Wait (bounded) until the grant's expiry has passed on this clock.
    for (let i = 0; i < 100 && Date.now() <= Number(grant.expiresAt) * 1000; i++)
      await new Promise((r) => setTimeout(r, 100));
    const res = await call(fastifyUrl, header);
    assert.equal(res.status, 401);
    assert.match(((await res.json()) as { message: string }).message, /EXPIRED/);
  });

  test('a revoked grant is refused once the chain view sees the revocation', async () => {
    const grant = await client.grant(serviceId);
    assert.equal((await call(expressUrl, await client.authorization(serviceId))).status, 200);
    await new RegistryWriter(host.clients, bed.deployment).revokeGrant(grant.grantId);
    let status = 200;
    let message = '';
    for (let i = 0; i < 100 && status === 200; i++) {
      const res = await call(expressUrl, await client.authorization(serviceId));
      status = res.status;
      message = status === 200 ? '' : ((await res.json()) as { message: string }).message;
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 401);
    assert.match(message, /REVOKED/);
  });
});
