/**
 * Relay reservations inside an organization network, across network namespaces (netns/topology.sh):
 * organization A's relay node on the shared segment, two A nodes each behind its own MASQUERADE NAT
 * (no direct path between them), and the operator — the public network's bootstrap relay and a node
 * of organization B. The NATed A nodes hold reservations on A's relay only (never on the public
 * relay), reach each other through its circuit in A's network, B's node cannot use it, and after the
 * relay is SIGKILLed and restarted on the same data dir they reserve again and reach each other again.
 * Every node is a real DIBS daemon process (netns/dibs-node.ts) on one anvil. Needs root; without
 * root it is skipped, except in CI (CI=true), where a missing root fails the run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Wallet } from '@dibs/core';
import { ROLE_BOOTSTRAP, ROLE_RELAY } from '../src/p2p/constants.ts';
import { BED, describeOnBed, NatBed, type NetnsNode } from './netns/nodes.ts';

const BULK_BYTES = 256 * 1024 + 123;
/** Longest wait for reservations to form (or re-form after the restart). */
const SETTLE_MS = 60_000;

interface OrgStatus {
  orgId: string;
  peerId: string;
  multiaddrs: string[];
  peers: string[];
  relays: { target: number; held: Array<{ peerId: string; addrs: string[] }> };
  relayReservations?: number;
}

interface Bulk {
  bytes: number;
  sent: string;
  echoed: string;
  received: string;
  remoteAddrs: string[];
  relayLinks: Record<string, string[]>;
}

describeOnBed('relay reservations inside an organization network, across NATs', () => {
  const bed = new NatBed();
  let dir = '';
  let operator: NetnsNode;
  let relay: NetnsNode;
  let memberA: NetnsNode;
  let memberB: NetnsNode;
  let orgA = '';
  let orgB = '';
  let contracts: Record<string, string> = {};
  let killedPid = 0;
  const relayKey = Wallet.generate().exportPrivateKeyHex();
  const memberKeys = [Wallet.generate().exportPrivateKeyHex(), Wallet.generate().exportPrivateKeyHex()];
  const addressOf = (key: string) => Wallet.fromPrivateKey(key).address;
  /** Every relay an A member was seen holding a reservation on in A, over the whole run. */
  const heldInA = new Set<string>();

  const startRelay = () =>
    bed.startNode('relay', join(dir, 'org-relay'), {
      key: relayKey,
      contracts,
      listen: [`/ip4/${BED.relayIp}/tcp/0`],
      roles: ROLE_RELAY,
    });

  async function orgStatus(n: NetnsNode, org: string): Promise<OrgStatus> {
    const s = await n.status();
    const o = (s.network.orgs as OrgStatus[]).find((x) => x.orgId === org);
    assert.ok(o, `${s.peerId} runs organization ${org}'s network`);
    for (const h of o.relays.held) if (org === orgA) heldInA.add(h.peerId);
    return o;
  }

  /** Polls `check` until it holds (bounded). */
  async function until(what: string, check: () => Promise<boolean>, ms = SETTLE_MS): Promise<void> {
    const deadline = Date.now() + ms;
    for (let i = 0; i < 10_000; i++) {
      if (await check()) return;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const nodes = [relay, memberA, memberB];
    const states = await Promise.all(nodes.map((n) => orgStatus(n, orgA).catch((e: Error) => e.message)));
    assert.fail(
      `${what} did not happen within ${ms} ms; organization A as each node sees it: ${JSON.stringify(states)}\n` +
        nodes.map((n) => n.stderr.slice(-15).join('\n')).join('\n---\n'),
    );
  }

  /** A member holds its A reservation on the relay now running as `relayPeer` at `relayAddr`. */
  async function reservedOn(m: NetnsNode, relayPeer: string, relayAddr: string): Promise<boolean> {
    const o = await orgStatus(m, orgA);
    return (
      o.relays.held.some((h) => h.peerId === relayPeer) &&
      o.multiaddrs.some((a) => a.startsWith(`${relayAddr}/p2p-circuit/`))
    );
  }

  /** The relay's host address in A on the shared segment. */
  async function relayAddrInA(): Promise<string> {
    const o = await orgStatus(relay, orgA);
    const a = o.multiaddrs.find(
      (x) => x.startsWith(`/ip4/${BED.relayIp}/tcp/`) && !x.includes('/p2p-circuit'),
    );
    assert.ok(a, 'the relay listens in A on the shared segment');
    return a;
  }

  const circuitOf = async (m: NetnsNode) =>
    (await orgStatus(m, orgA)).multiaddrs.find((a) => a.includes('/p2p-circuit'))!;

  /** A bulk stream `from` → `to` in A; the bytes echoed and the digest of what arrived check out. */
  async function bulkInA(from: NetnsNode, to: NetnsNode, relayAddr: string): Promise<void> {
    const target = await circuitOf(to);
    assert.ok(target.startsWith(`${relayAddr}/p2p-circuit/`), `through A's relay: ${target}`);
    const r = (await from.must('bulk', { org: orgA, addr: target, bytes: BULK_BYTES })) as unknown as Bulk;
    assert.equal(r.bytes, BULK_BYTES);
    assert.equal(r.received, r.sent, 'the far end received exactly the bytes sent (SHA-256)');
    assert.equal(r.echoed, r.sent, 'and echoed them back intact');
    assert.ok(r.remoteAddrs.length > 0);
    const relayPeer = relay.info.peerId as string;
    for (const a of r.remoteAddrs) {
      assert.ok(
        a.includes(`/p2p/${relayPeer}/p2p-circuit/`),
        `every connection is a circuit through A's relay: ${r.remoteAddrs.join(' ')}`,
      );
    }
    const links = r.relayLinks[relayPeer] ?? [];
    assert.ok(links.length > 0, 'over a connection to the relay');
    const transport = relayAddr.split('/p2p/')[0]!;
    for (const l of links) {
      assert.ok(
        l === transport || l.startsWith(`${transport}/`),
        `to the relay at ${transport}, its only address now: ${links.join(' ')}`,
      );
    }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dibs-orgrelay-'));
    await bed.start();
    operator = await bed.startNode('relay', join(dir, 'operator'), {
      key: Wallet.generate().exportPrivateKeyHex(),
      listen: [`/ip4/${BED.relayIp}/tcp/0`],
      operator: true,
      roles: ROLE_BOOTSTRAP | ROLE_RELAY,
    });
    const chain = operator.info.chain as { contracts: Record<string, string>; networkServiceId: string };
    contracts = { ...chain.contracts, networkServiceId: chain.networkServiceId };
    // The operator administers both organizations: A's relay and the two NATed nodes in A, itself in
    // B. It sets them up on chain while the other nodes start; they join A at run time once it exists.
    const organizations = (async () => {
      orgA = String((await operator.must('org-create', { name: 'Acme' })).orgId);
      orgB = String((await operator.must('org-create', { name: 'Borealis' })).orgId);
      for (const key of [relayKey, ...memberKeys]) {
        await operator.must('org-add-node', { orgId: orgA, address: addressOf(key) });
      }
      await operator.must('org-add-node', { orgId: orgB, address: operator.info.address });
      await operator.must('org-join', { orgId: orgB });
    })();
    const member = (ns: 'client' | 'service', key: string) =>
      bed.startNode(ns, join(dir, ns), {
        key,
        contracts,
        listen: ['/ip4/0.0.0.0/tcp/0'],
        reachability: 'private',
      });
    [relay, memberA, memberB] = await Promise.all([
      startRelay(),
      member('client', memberKeys[0]!),
      member('service', memberKeys[1]!),
    ]);
    await organizations;
    // `dibs org join`, remembered in each node's database (the restarted relay rejoins from it).
    await relay.must('org-join', { orgId: orgA });
    await Promise.all([memberA, memberB].map((m) => m.must('org-join', { orgId: orgA })));
  });

  after(async () => {
    await bed.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("each NATed node of A holds its reservation in A on A's relay, not on the public relay", async () => {
    const relayPeer = relay.info.peerId as string;
    const relayAddr = await relayAddrInA();
    for (const m of [memberA, memberB]) {
      await until('a reservation on A’s relay', () => reservedOn(m, relayPeer, relayAddr));
      const o = await orgStatus(m, orgA);
      assert.ok(o.relays.target > 0, 'a NATed node keeps reservations in its organization');
      assert.deepEqual(
        o.relays.held.map((h) => h.peerId),
        [relayPeer],
        'only A’s own relay: the public relay (the operator) is no candidate in A',
      );
    }
    const r = await orgStatus(relay, orgA);
    assert.equal(r.relayReservations, 2, 'the relay’s server in A holds the two members’ reservations');
  });

  it('the two NATed nodes reach each other in A through the relay’s circuit, bytes checked', async () => {
    // No direct path: B's LAN address in A is unreachable from behind NAT A.
    const lan = (await orgStatus(memberB, orgA)).multiaddrs.find((a) =>
      a.startsWith(`/ip4/${BED.serviceLanIp}/tcp/`),
    );
    assert.ok(lan, 'the member behind NAT B listens in A on its LAN address');
    const direct = await memberA.send('dial', { org: orgA, addr: lan });
    assert.equal(direct.ok, false, 'a direct dial across the two NATs fails');
    const relayAddr = await relayAddrInA();
    await bulkInA(memberA, memberB, relayAddr);
    await bulkInA(memberB, memberA, relayAddr);
  });

  it('a node of organization B cannot use A’s relay', async () => {
    const relayAddr = await relayAddrInA();
    const target = await circuitOf(memberB);
    const [admitted, circuit] = await Promise.all([
      operator.send('connect', { org: orgB, addr: `${relayAddr}/p2p/${relay.info.peerId}` }),
      operator.send('dial', { org: orgB, addr: target }),
    ]);
    assert.equal(admitted.ok, false, 'B’s host is not admitted by A’s relay');
    assert.equal(circuit.ok, false, 'so it cannot reserve there nor be relayed to A’s nodes');
    const r = await orgStatus(relay, orgA);
    assert.ok(!r.peers.includes(operator.info.peerId as string), 'A’s relay never admitted B’s node in A');
    assert.equal(r.relayReservations, 2, 'and holds no reservation of it');
  });

  it('SIGKILL the relay: restarted on the same data dir, the members reserve again and reach each other', async () => {
    const relayPeer = relay.info.peerId as string;
    const killed = relay;
    killedPid = killed.pid;
    process.kill(killed.pid, 'SIGKILL');
    await new Promise((r) =>
      killed.child.exitCode !== null || killed.child.signalCode !== null
        ? r(0)
        : killed.child.once('exit', r),
    );
    assert.equal(killed.child.signalCode, 'SIGKILL');
    for (const m of [memberA, memberB]) {
      await until(
        'the lost reservation noticed',
        async () => (await orgStatus(m, orgA)).relays.held.length === 0,
      );
    }
    relay = await startRelay();
    assert.equal(relay.info.peerId, relayPeer, 'the same wallet, the same PeerId');
    assert.notEqual(relay.pid, killed.pid);
    const relayAddr = await relayAddrInA();
    for (const m of [memberA, memberB]) {
      await until('a reservation on the restarted relay', () => reservedOn(m, relayPeer, relayAddr));
    }
    await bulkInA(memberA, memberB, relayAddr);
    await bulkInA(memberB, memberA, relayAddr);
    assert.deepEqual(
      [...heldInA],
      [relayPeer],
      'over the whole run, A’s reservations were on A’s relay only',
    );
  });

  it('nothing is left over: one reservation each, no circuit through the dead relay, every process and namespace gone', async () => {
    const relayAddr = await relayAddrInA();
    for (const m of [memberA, memberB]) {
      const o = await orgStatus(m, orgA);
      assert.equal(o.relays.held.length, 1);
      const circuits = o.multiaddrs.filter((a) => a.includes('/p2p-circuit'));
      assert.ok(circuits.length > 0);
      for (const c of circuits)
        assert.ok(c.startsWith(`${relayAddr}/p2p-circuit/`), `current relay only: ${c}`);
    }
    assert.equal((await orgStatus(relay, orgA)).relayReservations, 2);
    const pids = [killedPid, ...[operator, relay, memberA, memberB].map((n) => n.pid)];
    await bed.stop();
    for (const pid of pids) {
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} is gone`);
    }
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    assert.ok(!namespaces.includes(bed.prefix), `the bed's namespaces are deleted: ${namespaces}`);
  });
});
