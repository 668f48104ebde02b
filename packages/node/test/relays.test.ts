/**
 * Relay redundancy on loopback: a node given two relay listen addresses starts (libp2p 3 alone never
 * finished starting with two), and a node that cannot be reached directly keeps reservations on two
 * relays from the chain's relay list, replaces a stopped one within seconds, and its signed node
 * record lists the circuit addresses of the relays it holds now.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { NetworkRuntime } from '../src/daemon/network.ts';
import { ROLE_RELAY } from '../src/p2p/constants.ts';
import { findNodeRecord } from '../src/p2p/records.ts';
import { type ChainBed, type ChainParty, startChainBed } from './chain-nodes.ts';
import { startHost, TestNetwork, waitFor } from './helpers.ts';

const tcpAddr = (n: NetworkRuntime) =>
  n.host
    .multiaddrs()
    .map((a) => a.toString())
    .find((a) => a.includes('/tcp/') && !a.includes('/ws') && !a.includes('/p2p-circuit'))!;

describe('relay reservations', () => {
  it('a host given two relay listen addresses starts and holds both, and one unreachable does not stop it', async () => {
    const net = new TestNetwork();
    const r1 = await startHost(net, { relay: true });
    const r2 = await startHost(net, { relay: true });
    const dead = '/ip4/127.0.0.1/tcp/9/p2p/16Uiu2HAmFKQRMZXXxGV5cLpKPC5YHgrHUAFGC3GFjCrfXshNzTuY/p2p-circuit';
    const h = await startHost(net, {
      listen: [
        '/ip4/127.0.0.1/tcp/0',
        `${r1.multiaddrs()[0]}/p2p-circuit`,
        dead,
        `${r2.multiaddrs()[0]}/p2p-circuit`,
      ],
    });
    try {
      assert.ok(await waitFor(() => h.relays.held().length === 2, 20_000), 'two reservations held');
      const held = h.relays
        .held()
        .map((r) => r.peerId)
        .sort();
      assert.deepEqual(held, [r1.peerId.toString(), r2.peerId.toString()].sort());
      const circuits = h.multiaddrs().filter((a) => a.toString().includes('/p2p-circuit'));
      for (const r of [r1, r2]) {
        assert.ok(
          circuits.some((a) => a.toString().includes(`/p2p/${r.peerId}/p2p-circuit/p2p/${h.peerId}`)),
        );
      }
    } finally {
      await Promise.all([h.stop(), r1.stop(), r2.stop()]);
    }
  });

  describe('on a chain with four relays', () => {
    let bed: ChainBed;
    let operator: NetworkRuntime;
    const relays: NetworkRuntime[] = [];
    let serviceParty: ChainParty;
    let service: NetworkRuntime;
    let client: NetworkRuntime;

    before(async () => {
      bed = await startChainBed('dibs-relays-');
      operator = await bed.startNode(bed.operator);
      for (const name of ['r1', 'r2', 'r3']) {
        relays.push(await bed.startNode(await bed.party(name), { roles: ROLE_RELAY }));
      }
      serviceParty = await bed.party('service');
      // Not reachable directly: reservations on its given relay first, then from the chain's list.
      service = await bed.startNode(serviceParty, {
        reachability: 'private',
        relays: [tcpAddr(relays[0]!)],
      });
      client = await bed.startNode(await bed.party('client'));
    });
    after(async () => {
      await bed?.stop();
    });

    it('holds two reservations, the given relay among them', async () => {
      assert.ok(await waitFor(() => service.host.relays.held().length === 2, 20_000), 'two held');
      const held = service.host.relays.held().map((r) => r.peerId);
      assert.ok(held.includes(relays[0]!.host.peerId.toString()), `given relay held: ${held}`);
      assert.equal(service.status().relays.target, 2);
      assert.equal(operator.status().relays.target, 0, 'a relay keeps no reservations');
    });

    it('replaces a stopped relay within seconds and its record lists the relays it holds now', async () => {
      const before = service.host.relays.held().map((r) => r.peerId);
      const victim = [operator, ...relays].find((n) => n.host.peerId.toString() === before[0])!;
      await victim.stop();
      const replaced = await waitFor(() => {
        const now = service.host.relays.held().map((r) => r.peerId);
        return now.length === 2 && !now.includes(before[0]!);
      }, 15_000);
      assert.ok(
        replaced,
        `another relay replaced ${before[0]}: ${JSON.stringify(service.host.relays.held())}`,
      );
      const held = service.host.relays.held().map((r) => r.peerId);
      let listed: string[] = [];
      const recorded = await waitFor(async () => {
        const r = await findNodeRecord(client.host, serviceParty.wallet.address, 3_000).catch(
          () => undefined,
        );
        listed = (r?.multiaddrs ?? []).filter((a) => a.includes('/p2p-circuit'));
        const relaysInRecord = new Set(listed.map((a) => a.split('/p2p-circuit')[0]!.split('/p2p/').at(-1)));
        return relaysInRecord.size === 2 && held.every((p) => relaysInRecord.has(p));
      }, 20_000);
      assert.ok(recorded, `the record lists the held relays ${held}: ${listed}`);
    });
  });

  describe('failover of a connect listener between two relays', () => {
    let bed: ChainBed;
    const relays: NetworkRuntime[] = [];
    let service: NetworkRuntime;
    let client: NetworkRuntime;
    let echo: Server;
    let local: { host: string; port: number };
    let connectionId = '';

    /** One local connection through the listener: sends `text`, returns what came back. */
    async function roundTrip(text: string): Promise<string> {
      const s = connect(local.port, local.host);
      s.on('error', () => {});
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      await once(s, 'connect');
      s.end(text);
      await once(s, 'close');
      return Buffer.concat(chunks).toString();
    }

    /** The relay the client's connection to the service runs through. */
    function relayInUse(): string | undefined {
      const c = client.host.libp2p
        .getConnections(service.host.peerId)
        .find((x) => x.status === 'open' && x.remoteAddr.toString().includes('/p2p-circuit'));
      return c?.remoteAddr.toString().split('/p2p-circuit')[0]?.split('/p2p/').at(-1);
    }

    before(async () => {
      bed = await startChainBed('dibs-failover-');
      await bed.startNode(bed.operator, { roles: 1 });
      for (const name of ['r1', 'r2']) {
        relays.push(await bed.startNode(await bed.party(name), { roles: ROLE_RELAY }));
      }
      // No address of its own: every path to it runs through one of its two relays.
      service = await bed.startNode(await bed.party('service'), {
        listen: relays.map((r) => `${tcpAddr(r)}/p2p-circuit`),
      });
      assert.ok(await waitFor(() => service.host.relays.held().length === 2, 20_000), 'two reservations');
      echo = createServer((s) => s.pipe(s).on('error', () => {}));
      await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
      const svc = await service.services.publish({
        name: 'echo',
        type: 'tcp',
        target: `127.0.0.1:${(echo.address() as { port: number }).port}`,
        policy: 'public',
      });
      client = await bed.startNode(await bed.party('client'));
      const view = await client.services.connect({ serviceId: svc.id });
      connectionId = view.id;
      const [host, port] = view.localAddress.split(':') as [string, string];
      local = { host, port: Number(port) };
    });
    after(async () => {
      echo?.close();
      await bed?.stop();
    });

    it('a new connection after the relay in use stopped goes through the other relay', async () => {
      assert.equal(await roundTrip('first'), 'first');
      const used = relayInUse();
      assert.ok(used, 'the first connection runs through a relay');
      const victim = relays.find((r) => r.host.peerId.toString() === used)!;
      await victim.stop();
      assert.equal(await roundTrip('second'), 'second');
      // The service has no address but its circuits, and the relay in use is gone: the other carried it.
      assert.ok(service.host.multiaddrs().every((a) => a.toString().includes('/p2p-circuit')));
      let now: string | undefined;
      await waitFor(() => {
        now = relayInUse();
        return now !== undefined;
      }, 5_000);
      assert.notEqual(now, used, `not through the stopped relay: ${now}`);
    });

    it('with no path left, a connection fails and the listener says why', async () => {
      for (const r of relays) await r.stop();
      await service.stop();
      assert.equal(await roundTrip('lost'), '', 'the local connection closes with nothing back');
      const view = client.services.connections().find((c) => c.id === connectionId);
      assert.match(
        String(view?.lastError),
        /no path to the node of service|has no node on chain|not reachable/,
      );
    });
  });
});
