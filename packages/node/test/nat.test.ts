/**
 * NAT traversal through a relay with real network tickets: in network namespaces (netns/topology.sh),
 * a client behind MASQUERADE NAT A and a service behind MASQUERADE NAT B reach each other only through
 * the operator's relay on the shared segment. Every node is a real DIBS daemon process (netns/dibs-node.ts)
 * on one anvil (in the relay's namespace): identities registered, network grants requested on chain,
 * admission on real tickets over the relayed connection. Needs root; in CI (CI=true) a missing root
 * fails the run instead of skipping it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Wallet } from '@dibs/core';
import { ROLE_BOOTSTRAP, ROLE_RELAY } from '../src/p2p/constants.ts';
import { BED, bedUnavailable, inNamespace, NatBed, type NetnsNode } from './netns/nodes.ts';

const unavailable = bedUnavailable();
const IN_CI = process.env.CI === 'true';

interface Admitted {
  peerId: string;
  grantId: string;
}

if (unavailable && IN_CI) {
  describe('NAT traversal through a relay', () => {
    it('runs in CI', () => {
      assert.fail(`the NAT test cannot run: ${unavailable}`);
    });
  });
} else {
  describe('NAT traversal through a relay, on real chain tickets', {
    skip: unavailable ?? false,
  }, () => {
    const bed = new NatBed();
    let dir = '';
    let relay: NetnsNode;
    let client: NetnsNode;
    let service: NetnsNode;
    let relayAddr = '';
    let servicePeer = '';
    let clientPeer = '';

    const key = () => Wallet.generate().exportPrivateKeyHex();

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'dibs-nat-'));
      await bed.start();
      // The operator deploys the contracts on the bed's chain and runs the bootstrap relay.
      relay = await bed.startNode('relay', join(dir, 'relay'), {
        key: key(),
        listen: [`/ip4/${BED.relayIp}/tcp/0`],
        operator: true,
        roles: ROLE_BOOTSTRAP | ROLE_RELAY,
      });
      const chain = relay.info.chain as { contracts: Record<string, string>; networkServiceId: string };
      const contracts = { ...chain.contracts, networkServiceId: chain.networkServiceId };
      relayAddr = (relay.info.network as { multiaddrs: string[] }).multiaddrs.find((a) =>
        a.startsWith(`/ip4/${BED.relayIp}/tcp/`),
      )!;
      assert.ok(relayAddr, 'the relay listens on the shared segment');
      // The others find the relay in the Registry's bootstrap list; the service also listens through it.
      [service, client] = await Promise.all([
        bed.startNode('service', join(dir, 'service'), {
          key: key(),
          contracts,
          listen: ['/ip4/0.0.0.0/tcp/0', `${relayAddr}/p2p-circuit`],
        }),
        bed.startNode('client', join(dir, 'client'), {
          key: key(),
          contracts,
          listen: ['/ip4/0.0.0.0/tcp/0'],
        }),
      ]);
      servicePeer = service.info.peerId as string;
      clientPeer = client.info.peerId as string;
    });

    after(async () => {
      await bed.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('each node is a daemon process with its own on-chain grant, joined through the bootstrap list', async () => {
      for (const n of [relay, client, service]) {
        assert.ok(n.pid > 0 && n.child.exitCode === null);
        const s = await n.status();
        assert.match(String(s.network.grantId), /^[1-9]\d*$/);
      }
      for (const n of [client, service]) {
        const s = await n.status();
        const boot = s.network.bootstrap as { admitted: string[] };
        assert.deepEqual(boot.admitted, [relay.info.peerId], 'admitted by the relay from the chain list');
      }
    });

    it('the service holds a relay reservation made through NAT B', async () => {
      let circuit: string | undefined;
      for (let i = 0; i < 100 && !circuit; i++) {
        const s = await service.status();
        circuit = (s.network.multiaddrs as string[]).find((a) => a.includes('/p2p-circuit'));
        if (!circuit) await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(circuit?.startsWith(relayAddr), `a circuit address on the relay, got ${circuit}`);
    });

    it('the client cannot reach the service directly: its LAN address has no route from NAT A', async () => {
      const s = await service.status();
      const lan = (s.network.multiaddrs as string[]).find((a) =>
        a.startsWith(`/ip4/${BED.serviceLanIp}/tcp/`),
      );
      assert.ok(lan, 'the service listens on its private LAN address');
      const r = await client.send('dial', { addr: lan });
      assert.equal(r.ok, false, 'a direct dial from behind NAT A to the LAN behind NAT B fails');
      assert.match(String(r.error), /ENETUNREACH|EHOSTUNREACH|ETIMEDOUT|abort/i, 'for lack of a route');
    });

    it('a request from behind NAT A reaches the service behind NAT B through the relay, admitted on real tickets', async () => {
      const circuit = ((await service.status()).network.multiaddrs as string[]).find((a) =>
        a.includes('/p2p-circuit'),
      )!;
      const answer = await client.must('request', { addr: circuit, text: 'across two NATs' });
      const reply = answer.reply as { echo: string; from: string; peer: string };
      assert.equal(reply.echo, 'across two NATs');
      assert.match(reply.from, /\/p2p-circuit/, 'the service saw the request arrive over the circuit');
      assert.equal(reply.peer, clientPeer);

      // Admission ran over the relayed connection, both ways, on each side's real on-chain grant.
      const [cs, ss] = [await client.status(), await service.status()];
      const serviceSaw = (ss.admittedPeers as Admitted[]).find((p) => p.peerId === clientPeer);
      const clientSaw = (cs.admittedPeers as Admitted[]).find((p) => p.peerId === servicePeer);
      assert.equal(serviceSaw?.grantId, cs.network.grantId, "the service admitted the client's grant");
      assert.equal(clientSaw?.grantId, ss.network.grantId, "the client admitted the service's grant");
      const toService = (
        (await client.must('connections')).connections as Array<Record<string, string>>
      ).filter((c) => c.peer === servicePeer);
      assert.ok(toService.length > 0);
      assert.ok(
        toService.every((c) => c.remoteAddr!.includes('/p2p-circuit')),
        `every client connection to the service is relayed: ${JSON.stringify(toService)}`,
      );
    });

    it('the relay sees the client and the service only as their NATs’ public addresses', async () => {
      const conns = (await relay.must('connections')).connections as Array<Record<string, string>>;
      const fromClient = conns.filter((c) => c.peer === clientPeer);
      const fromService = conns.filter((c) => c.peer === servicePeer);
      assert.ok(fromClient.length > 0 && fromService.length > 0, 'both ends are connected to the relay');
      for (const c of fromClient)
        assert.ok(c.remoteAddr!.startsWith(`/ip4/${BED.natAWan}/tcp/`), c.remoteAddr);
      for (const c of fromService)
        assert.ok(c.remoteAddr!.startsWith(`/ip4/${BED.natBWan}/tcp/`), c.remoteAddr);
      const counters = await inNamespace(
        bed.ns('nata'),
        'iptables',
        '-t',
        'nat',
        '-L',
        'POSTROUTING',
        '-v',
        '-x',
        '-n',
      );
      const masq = counters.split('\n').find((l) => l.includes('MASQUERADE'));
      assert.ok(masq && Number(masq.trim().split(/\s+/)[0]) > 0, `NAT A masqueraded packets: ${masq}`);
    });
  });
}
