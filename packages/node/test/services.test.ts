import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  AnvilSupervisor,
  createChainClients,
  type Deployment,
  ensureDeployment,
  RegistryWriter,
} from '@dibs/chain';
import { encryptionKeyFromWallet, Wallet } from '@dibs/core';
import { openStore, type Store } from '@dibs/store';
import type { ChainRuntime } from '../src/daemon/chain-runtime.ts';
import { createLogger } from '../src/daemon/log.ts';
import { type NetworkRuntime, startNetwork } from '../src/daemon/network.ts';
import { findNodeRecord } from '../src/p2p/records.ts';
import { ServiceError } from '../src/services/index.ts';
import { encodeRequest } from '../src/socks/index.ts';
import { waitFor } from './helpers.ts';

const run = promisify(execFile);
const log = createLogger({ console: null });
const BIG_FILE_BYTES = 256 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/** curl with a bounded run time; returns stdout. */
async function curl(args: string[]): Promise<string> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '20', ...args], { timeout: 30_000 });
  return stdout;
}

/** Raw SOCKS5 CONNECT by name; returns the reply code and the socket. */
async function socksConnect(
  proxy: string,
  host: string,
  port: number,
): Promise<{ reply: number; socket: Socket }> {
  const [h, p] = proxy.split(':') as [string, string];
  const s = connect(Number(p), h);
  await once(s, 'connect');
  s.write(Uint8Array.of(5, 1, 0));
  s.write(encodeRequest({ type: host.match(/^\d+\.\d+\.\d+\.\d+$/) ? 'ipv4' : 'domain', host, port }));
  let buf = Buffer.alloc(0);
  for (let i = 0; i < 100 && buf.length < 12; i++) {
    const [chunk] = (await Promise.race([
      once(s, 'data'),
      once(s, 'close').then(() => [Buffer.alloc(0)]),
    ])) as [Buffer];
    if (chunk.length === 0) break;
    buf = Buffer.concat([buf, chunk]);
  }
  return { reply: buf[3] ?? -1, socket: s };
}

describe('services: publish, connect and SOCKS5 between two real nodes on one real chain', () => {
  let dir: string;
  let anvil: AnvilSupervisor;
  let deployment: Deployment;
  const stores: Store[] = [];
  let hostNode: NetworkRuntime;
  let clientNode: NetworkRuntime;
  /** The host node's wallet address and a Registry reader (role bits on chain). */
  let hostAddress: `0x${string}`;
  let hostRegistry: RegistryWriter;
  let web: HttpServer;
  let webPort: number;
  let sink: Server;
  let sinkPort: number;
  const sinkHashes: Array<Promise<{ hash: string; bytes: number }>> = [];
  let echo: Server;
  let echoPort: number;

  async function node(name: string, wallet: Wallet, operator: boolean): Promise<NetworkRuntime> {
    const clients = await createChainClients({ rpcUrl: anvil.rpcUrl, account: wallet.exportPrivateKeyHex() });
    await clients.publicClient.request({
      method: 'anvil_setBalance',
      params: [wallet.address, '0x3635C9ADC5DEA00000'],
    } as never);
    const registry = new RegistryWriter(clients, deployment);
    if (name === 'host') {
      hostAddress = wallet.address as `0x${string}`;
      hostRegistry = registry;
    }
    if ((await registry.getIdentity(wallet.address)) === null) {
      await registry.registerIdentity(encryptionKeyFromWallet(wallet).publicKey);
    }
    const store = openStore(join(dir, `${name}.db`));
    stores.push(store);
    const chain: ChainRuntime = {
      clients,
      deployment,
      registry,
      supervisor: undefined,
      deploymentAction: 'configured',
      stop: async () => {},
    };
    return startNetwork({
      chain,
      store,
      wallet,
      log,
      settings: { listen: ['/ip4/127.0.0.1/tcp/0'], operator },
    });
  }

  /**
   * Publishes a public tcp service to `127.0.0.1:port` on `on` and connects the client to it: the
   * service, the connection, and the local listener's host and port.
   */
  async function publishAndConnect(on: NetworkRuntime, name: string, port: number) {
    const svc = await on.services.publish({
      name,
      type: 'tcp',
      target: `127.0.0.1:${port}`,
      policy: 'public',
    });
    const conn = await clientNode.services.connect({ serviceId: svc.id });
    const [h, p] = conn.localAddress.split(':') as [string, string];
    return { svc, conn, h, p };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dibs-services-'));
    anvil = new AnvilSupervisor({ dataDir: dir, silent: true });
    await anvil.start();
    const deployer = Wallet.generate();
    const clients = await createChainClients({
      rpcUrl: anvil.rpcUrl,
      account: deployer.exportPrivateKeyHex(),
    });
    await clients.publicClient.request({
      method: 'anvil_setBalance',
      params: [deployer.address, '0x3635C9ADC5DEA00000'],
    } as never);
    const deployStore = openStore(join(dir, 'deploy.db'));
    stores.push(deployStore);
    deployment = await ensureDeployment({ store: deployStore, clients });
    hostNode = await node('host', deployer, true);
    clientNode = await node('client', Wallet.generate(), false);

    web = createHttpServer((req, res) => res.end(`hello from ${req.url}`));
    web.listen(0, '127.0.0.1');
    await once(web, 'listening');
    webPort = (web.address() as { port: number }).port;
    sink = createServer((s) => {
      const h = createHash('sha256');
      let bytes = 0;
      sinkHashes.push(
        new Promise((resolve) => {
          s.on('data', (c: Buffer) => {
            h.update(c);
            bytes += c.length;
          });
          s.on('end', () => {
            const hash = h.digest('hex');
            s.end(hash);
            resolve({ hash, bytes });
          });
          s.on('error', () => resolve({ hash: '', bytes }));
        }),
      );
    });
    sink.listen(0, '127.0.0.1');
    await once(sink, 'listening');
    sinkPort = (sink.address() as { port: number }).port;
    echo = createServer((s) => {
      // The host resets target sockets of cut tunnels on purpose (a cut upload must not look complete).
      s.on('error', () => {});
      s.pipe(s);
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    echoPort = (echo.address() as { port: number }).port;
  });

  after(async () => {
    await clientNode?.stop().catch(() => {});
    await hostNode?.stop().catch(() => {});
    for (const s of stores) s.close();
    web?.close();
    sink?.close();
    echo?.close();
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes an http service, advertises it in the node record, and curl reaches it through connect', async () => {
    const view = await hostNode.services.publish({
      name: 'web',
      type: 'http',
      target: `127.0.0.1:${webPort}`,
      policy: 'public',
    });
    assert.equal(view.own, true);
    assert.equal(view.target, `127.0.0.1:${webPort}`);
    assert.equal(view.active, true);
    // Hosting a service makes the node a service host on chain (its bootstrap and relay bits stay).
    assert.ok(await waitFor(() => hostNode.roles === 7, 30_000), `the node's roles: ${hostNode.roles}`);
    assert.equal((await hostRegistry.getNode(hostAddress))?.roles, 7, "the host's node entry on chain");
    assert.ok(
      await waitFor(async () => {
        const r = await findNodeRecord(
          clientNode.host,
          hostNode.host.peerId.toString() && view.host,
          3_000,
        ).catch(() => undefined);
        return r?.services.includes(view.id) === true;
      }, 30_000),
      'the host node record lists the service',
    );
    const seen = await clientNode.services.list();
    const remote = seen.find((s) => s.id === view.id);
    assert.ok(remote && !remote.own && remote.target === undefined, 'the target stays private to the host');
    assert.equal(remote.hostPeerId, hostNode.host.peerId.toString());

    const conn = await clientNode.services.connect({ serviceId: view.id });
    assert.match(conn.localAddress, /^127\.0\.0\.1:\d+$/);
    assert.equal(await curl([`http://${conn.localAddress}/a`]), 'hello from /a');
    assert.equal(await curl([`http://${conn.localAddress}/b`]), 'hello from /b');
    assert.ok(await waitFor(() => clientNode.services.connections()[0]?.tunnels === 0));
    const after = clientNode.services.connections().find((c) => c.id === conn.id);
    assert.ok(after && after.bytesIn > 0 && after.bytesOut > 0, 'bytes counted both ways');
    assert.ok(await waitFor(() => hostNode.services.sessions().length === 0), 'inbound sessions closed');
    await clientNode.services.disconnect(conn.id);
    assert.equal(clientNode.services.connections().length, 0);
  });

  it('curl --socks5-hostname reaches <name>.dibs and a vpn destination; outside the allowed set gets 0x02', async () => {
    const vpn = await hostNode.services.publish({
      name: 'lan',
      type: 'vpn',
      allow: [`127.0.0.1/32:${echoPort}+${webPort}`],
      policy: 'public',
    });
    const proxy = await clientNode.services.startProxy({ listen: '127.0.0.1:0', via: vpn.id });
    assert.equal(await curl(['--socks5-hostname', proxy.localAddress, 'http://web.dibs/x']), 'hello from /x');
    assert.equal(
      await curl(['--socks5-hostname', proxy.localAddress, `http://127.0.0.1:${webPort}/via-vpn`]),
      'hello from /via-vpn',
    );
    const ok = await socksConnect(proxy.localAddress, '127.0.0.1', echoPort);
    assert.equal(ok.reply, 0);
    ok.socket.write('ping');
    const [back] = (await once(ok.socket, 'data')) as [Buffer];
    assert.equal(back.toString(), 'ping');

    const outside = await socksConnect(proxy.localAddress, '127.0.0.1', sinkPort);
    assert.equal(outside.reply, 0x02, 'a port outside the allow rule is not allowed');
    outside.socket.destroy();
    const unknown = await socksConnect(proxy.localAddress, 'nope.dibs', 80);
    assert.equal(unknown.reply, 0x04, 'an unknown service name is unreachable');
    unknown.socket.destroy();
    // The first session is unaffected by the refusals.
    ok.socket.write('pong');
    const [again] = (await once(ok.socket, 'data')) as [Buffer];
    assert.equal(again.toString(), 'pong');
    ok.socket.destroy();
    await clientNode.services.stopProxy(proxy.id);
    assert.ok(await waitFor(() => hostNode.services.sessions().length === 0), 'no inbound session left');
    assert.ok(await waitFor(() => clientNode.services.sessions().length === 0), 'no outbound session left');
  });

  it('streams 256 MiB of random data whose sha256 matches at the far end', async () => {
    const { conn, h, p } = await publishAndConnect(hostNode, 'sink', sinkPort);
    const s = connect(Number(p), h);
    await once(s, 'connect');
    const sent = createHash('sha256');
    for (let n = 0; n < BIG_FILE_BYTES / CHUNK; n++) {
      const chunk = randomBytes(CHUNK);
      sent.update(chunk);
      if (!s.write(chunk)) await once(s, 'drain');
    }
    s.end();
    const reply: Buffer[] = [];
    s.on('data', (c: Buffer) => reply.push(c));
    await once(s, 'close');
    const far = await sinkHashes.at(-1)!;
    assert.equal(far.bytes, BIG_FILE_BYTES);
    const expected = sent.digest('hex');
    assert.equal(far.hash, expected);
    assert.equal(Buffer.concat(reply).toString(), expected, 'the reply came back through the tunnel');
    await clientNode.services.disconnect(conn.id);
  });

  it('errors: unknown service, unreachable target, client vanishing mid-transfer; nothing leaks', async () => {
    await assert.rejects(clientNode.services.connect({ serviceId: 9999n }), (e: unknown) => {
      return e instanceof ServiceError && e.code === 'UNKNOWN_SERVICE';
    });
    // The network's own admission service is joined, not connected to: said so, not "no host".
    await assert.rejects(
      clientNode.services.connect({ serviceId: deployment.networkServiceId }),
      (e: unknown) => {
        return e instanceof ServiceError && e.code === 'NOT_CONNECTABLE' && /is a network/.test(e.message);
      },
    );
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const deadPort = (closed.address() as { port: number }).port;
    closed.close();
    const { svc: dead, conn, h, p } = await publishAndConnect(hostNode, 'dead', deadPort);
    const s = connect(Number(p), h);
    s.on('error', () => {});
    await once(s, 'close');
    const view = clientNode.services.connections().find((c) => c.id === conn.id);
    assert.match(view?.lastError ?? '', /TARGET_UNREACHABLE|unreachable|refused/i);
    await clientNode.services.disconnect(conn.id);

    // A client that vanishes mid-transfer: its session closes on both sides.
    const sinkSvc = (await clientNode.services.list()).find((v) => v.name === 'sink')!;
    const c2 = await clientNode.services.connect({ serviceId: sinkSvc.id });
    const [h2, p2] = c2.localAddress.split(':') as [string, string];
    const s2 = connect(Number(p2), h2);
    await once(s2, 'connect');
    s2.write(randomBytes(4 * CHUNK));
    assert.ok(await waitFor(() => hostNode.services.sessions().length === 1), 'inbound session open');
    s2.destroy();
    assert.ok(await waitFor(() => hostNode.services.sessions().length === 0), 'inbound session closed');
    assert.ok(await waitFor(() => clientNode.services.sessions().length === 0), 'outbound session closed');
    await clientNode.services.disconnect(c2.id);

    // Retired: no longer in the hosted set, and new tunnels are refused.
    await hostNode.services.retire(dead.id);
    assert.ok(!hostNode.services.hostedIds().includes(dead.id));
    await assert.rejects(clientNode.services.connect({ serviceId: dead.id }), { code: 'SERVICE_RETIRED' });
  });

  it('a connect listener outlives a restart of the service host: connections retry until it is back', async () => {
    const wallet = Wallet.generate();
    let host2 = await node('host2', wallet, false);
    try {
      const { svc, conn, h, p } = await publishAndConnect(host2, 'echo2', echoPort);
      /** One local connection through the listener: what came back, or '' if it closed without an answer. */
      const roundTrip = async (text: string): Promise<string> => {
        const s = connect(Number(p), h);
        s.on('error', () => {});
        await once(s, 'connect');
        s.write(text);
        const back = await new Promise<string>((resolve) => {
          s.once('data', (d: Buffer) => resolve(d.toString()));
          s.once('close', () => resolve(''));
        });
        s.destroy();
        return back;
      };
      assert.equal(await roundTrip('before'), 'before');
      // The host goes away; a local connection made now waits through the connector's retries…
      await host2.stop();
      const during = roundTrip('during');
      // …and the host comes back on a new port, with the same key and data.
      host2 = await node('host2', wallet, false);
      assert.equal(await during, 'during', 'the connection made while the host was down got through');
      assert.equal(await roundTrip('after'), 'after');
      await clientNode.services.disconnect(conn.id);
      await host2.services.retire(svc.id);
    } finally {
      await host2.stop().catch(() => {});
    }
  });

  it('retiring its last service takes the service-host role off the node entry on chain', async () => {
    for (const id of hostNode.services.hostedIds()) await hostNode.services.retire(id);
    assert.deepEqual(hostNode.services.hostedIds(), []);
    assert.ok(
      await waitFor(() => hostNode.roles === 3, 30_000),
      `bootstrap and relay only: ${hostNode.roles}`,
    );
    assert.equal((await hostRegistry.getNode(hostAddress))?.roles, 3, "the host's node entry on chain");
    assert.equal(clientNode.roles, 0, 'a node that never hosted has no role');
  });
});
