/**
 * Organization networks on one real chain with real nodes: two organizations (A priced in its own
 * OrgToken, B free), three nodes in each and one node in both, beside the public network. Each
 * organization network is its own libp2p host, admission, DHT and peer set; these tests check that
 * nothing crosses between them on the wire, and that membership on chain drives admission.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Deployment, OrganizationsClient, type OrganizationView } from '@dibs/chain';
import { GrantCache, SessionRegistry } from '@dibs/core';
import { multiaddr } from '@multiformats/multiaddr';
import type { Address } from 'viem';
import type { NetworkRuntime } from '../src/daemon/network.ts';
import { ROLE_RELAY } from '../src/p2p/constants.ts';
import { createDibsHost, type DibsHost } from '../src/p2p/host.ts';
import { findNodeRecord } from '../src/p2p/records.ts';
import { createTicketAuthority } from '../src/p2p/ticket-authority.ts';
import { OrgNetworkError, orgProtocolPrefix } from '../src/orgs/index.ts';
import { type ChainBed, type ChainParty, startChainBed } from './chain-nodes.ts';
import { waitFor } from './helpers.ts';

const LISTEN = ['/ip4/127.0.0.1/tcp/0'];
/** Price of organization A's network service, in A's OrgToken base units. */
const PRICE_A = 25n;

interface Party extends ChainParty {
  name: string;
  orgs: OrganizationsClient;
  node?: NetworkRuntime;
}

describe('organization networks: two organizations and a node in both, on one real chain', () => {
  let bed: ChainBed;
  let deployment: Deployment;
  let admin: Party;
  let orgA: OrganizationView;
  let orgB: OrganizationView;
  const extraHosts: DibsHost[] = [];
  const A: Party[] = [];
  const B: Party[] = [];
  let dual: Party;

  async function party(name: string): Promise<Party> {
    const p = await bed.party(name);
    return { ...p, name, orgs: new OrganizationsClient(p.clients, deployment) };
  }

  async function start(p: Party, opts: { roles?: number; orgs?: bigint[] } = {}) {
    p.node = await bed.startNode(p, {
      // The deployer's node is the public network's bootstrap (the bed knows it by identity).
      operator: p === admin,
      ...(opts.roles !== undefined ? { roles: opts.roles } : {}),
      ...(opts.orgs ? { orgs: opts.orgs } : {}),
    });
    return p.node;
  }

  const orgHost = (p: Party, org: OrganizationView): DibsHost => {
    const net = p.node?.orgs.get(org.id);
    assert.ok(net, `${p.name} runs the network of organization ${org.id}`);
    return net.host;
  };
  const peerSet = (h: DibsHost) => new Set(h.admission.admittedPeers().map((p) => p.peerId.toString()));
  const idOf = (p: Party) => p.node!.host.peerId.toString();

  before(async () => {
    bed = await startChainBed('dibs-orgnet-');
    deployment = bed.deployment;
    admin = {
      ...bed.operator,
      name: 'operator',
      orgs: new OrganizationsClient(bed.operator.clients, deployment),
    };
    orgA = await admin.orgs.create({ name: 'Acme', networkPrice: PRICE_A });
    orgB = await admin.orgs.create({ name: 'Borealis' });
    for (let i = 1; i <= 3; i++) A.push(await party(`a${i}`));
    for (let i = 1; i <= 3; i++) B.push(await party(`b${i}`));
    dual = await party('dual');
    for (const p of [...A, dual]) {
      await admin.orgs.addNode(orgA.id, p.wallet.address as Address);
      // A's network service costs PRICE_A of A's token: each of its nodes holds some to pay with.
      await admin.orgs.mint(orgA.id, p.wallet.address as Address, PRICE_A * 2n);
    }
    for (const p of [...B, dual]) await admin.orgs.addNode(orgB.id, p.wallet.address as Address);
    // The public network's bootstrap, then the organizations' nodes; b1 and the dual node are relays.
    await start(admin);
    await Promise.all([
      ...A.map((p) => start(p, { orgs: [orgA.id] })),
      ...B.map((p, i) => start(p, { orgs: [orgB.id], ...(i === 0 ? { roles: ROLE_RELAY } : {}) })),
      start(dual, { orgs: [orgA.id, orgB.id], roles: ROLE_RELAY }),
    ]);
  });

  after(async () => {
    await Promise.all(extraHosts.map((h) => h.stop().catch(() => {})));
    await bed.stop();
  });

  it('each organization network forms with its own nodes only, and the dual node is in both', async () => {
    const aIds = new Set([...A, dual].map(idOf));
    const bIds = new Set([...B, dual].map(idOf));
    for (const p of [...A, dual]) {
      assert.ok(await waitFor(() => peerSet(orgHost(p, orgA)).size >= 1, 60_000), `${p.name} joined A`);
    }
    for (const p of [...B, dual]) {
      assert.ok(await waitFor(() => peerSet(orgHost(p, orgB)).size >= 1, 60_000), `${p.name} joined B`);
    }
    for (const p of [...A, ...B, dual]) {
      for (const o of p.node!.orgs.list()) {
        assert.ok(
          await waitFor(
            () => p.node!.orgs.get(BigInt(o.orgId))!.status().recordPublishedAt !== undefined,
            30_000,
          ),
          `${p.name} published its record in organization ${o.orgId}`,
        );
      }
    }
    // Every A node finds every other A node's record in A's own DHT.
    for (const from of [...A, dual]) {
      for (const to of [...A, dual]) {
        if (from === to) continue;
        const rec = await findNodeRecord(orgHost(from, orgA), to.wallet.address, {
          timeoutMs: 15_000,
          quorum: 1,
        });
        assert.equal(rec.peerId, idOf(to));
        await orgHost(from, orgA).connect(multiaddr(`${rec.multiaddrs[0]}/p2p/${rec.peerId}`), 10_000);
      }
    }
    for (const p of [...A, dual]) {
      for (const peer of peerSet(orgHost(p, orgA)))
        assert.ok(aIds.has(peer), `A's network of ${p.name} holds only A's nodes`);
    }
    for (const p of [...B, dual]) {
      for (const peer of peerSet(orgHost(p, orgB)))
        assert.ok(bIds.has(peer), `B's network of ${p.name} holds only B's nodes`);
    }
    // Status lists the organization networks, each under its own protocol prefix.
    const s = dual.node!.status();
    assert.deepEqual(s.orgs.map((o) => o.orgId).sort(), [String(orgA.id), String(orgB.id)]);
    assert.equal(
      s.orgs.find((o) => o.orgId === String(orgA.id))?.protocolPrefix,
      `/${orgProtocolPrefix(orgA.id, orgA.networkLabel)}`,
    );
    // Every stream of A's network runs under A's label.
    const protocols = orgHost(A[0]!, orgA).libp2p.getProtocols();
    assert.ok(protocols.includes(`/${orgProtocolPrefix(orgA.id, orgA.networkLabel)}/kad/1.0.0`));
    assert.ok(!protocols.includes('/dibs/kad/1.0.0'), 'no public-network protocol on an organization host');
  });

  it("A's network service is priced in A's OrgToken: each node paid it to get in", async () => {
    for (const p of [...A, dual]) {
      assert.equal(
        await admin.orgs.balance(orgA.id, p.wallet.address as Address),
        PRICE_A,
        `${p.name} paid ${PRICE_A}`,
      );
      const g = await p.node!.orgs.get(orgA.id)!.grant();
      const onChain = await admin.registry.getGrant(g.grantId);
      assert.equal(onChain?.serviceId, orgA.networkServiceId);
      assert.equal(onChain?.grantee.toLowerCase(), p.wallet.address.toLowerCase());
    }
  });

  it("A's DHT never holds B's nodes, and a B node cannot be found or admitted in A", async () => {
    const aIds = new Set([...A, dual].map(idOf));
    for (const p of [...A, dual]) {
      const table = orgHost(p, orgA).dht as unknown as {
        routingTable: { kb: { toIterable(): Iterable<{ peerId: { toString(): string } }> } };
      };
      for (const c of table.routingTable.kb.toIterable()) {
        assert.ok(aIds.has(c.peerId.toString()), `A's routing table of ${p.name} holds ${c.peerId}`);
      }
    }
    await assert.rejects(
      findNodeRecord(orgHost(A[0]!, orgA), B[0]!.wallet.address, { timeoutMs: 3_000 }),
      /no node record|RECORD_NOT_FOUND/i,
    );
    // B's host dials A's host: it speaks none of A's protocols, and A admits it to nothing.
    const aAddr = orgHost(A[0]!, orgA).multiaddrs()[0]!;
    await assert.rejects(orgHost(B[1]!, orgB).connect(aAddr, 5_000));
    assert.equal(orgHost(A[0]!, orgA).admission.isAdmitted(orgHost(B[1]!, orgB).peerId), false);
    // Only A's admission protocol answers an unadmitted peer (and refuses its B ticket: next test).
    const admissionProto = `/${orgProtocolPrefix(orgA.id, orgA.networkLabel)}/admission/1.0`;
    for (const proto of orgHost(A[0]!, orgA)
      .libp2p.getProtocols()
      .filter((p) => p !== admissionProto)) {
      let opened = false;
      try {
        const stream = await orgHost(B[1]!, orgB).libp2p.dialProtocol(aAddr, proto, {
          signal: AbortSignal.timeout(5_000),
        });
        stream.send(Uint8Array.of(0));
        opened = !(await waitFor(() => stream.status !== 'open', 15_000));
      } catch {}
      assert.equal(opened, false, `B opened ${proto} on A`);
    }
  });

  it("a B node speaking A's protocols with its B ticket is refused: A's admission takes A's tickets only", async () => {
    const b = B[1]!;
    const cache = new GrantCache();
    const sessions = new SessionRegistry({ cache, nodeAddress: b.wallet.address as Address });
    const bNet = b.node!.orgs.get(orgB.id)!;
    const authority = createTicketAuthority({
      wallet: b.wallet,
      deployment,
      cache,
      sessions,
      registry: b.registry,
      networkServiceId: orgB.networkServiceId,
      networkGrant: () => bNet.grant(),
      catchUpMs: 500,
    });
    const rogue = await createDibsHost({
      privateKey: b.wallet.exportPrivateKey(),
      authority,
      listen: LISTEN,
      protocolPrefix: orgProtocolPrefix(orgA.id, orgA.networkLabel),
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    extraHosts.push(rogue);
    const target = orgHost(A[0]!, orgA);
    await assert.rejects(rogue.connect(target.multiaddrs()[0]!, 8_000), /admission|refused|closed|abort/i);
    assert.equal(target.admission.isAdmitted(rogue.peerId), false);
    await assert.rejects(
      rogue.libp2p.dialProtocol(
        target.multiaddrs()[0]!,
        `/${orgProtocolPrefix(orgA.id, orgA.networkLabel)}/kad/1.0.0`,
        {
          signal: AbortSignal.timeout(5_000),
        },
      ),
    );
    await rogue.stop();
    authority.close();
  });

  it("a relay of B refuses A's circuits, and the dual node never carries one organization's traffic into the other", async () => {
    const a = orgHost(A[0]!, orgA);
    const bRelay = orgHost(B[0]!, orgB);
    // A's node cannot reserve on or be relayed through B's relay: it is not admitted there.
    await assert.rejects(a.connect(bRelay.multiaddrs()[0]!, 5_000));
    await assert.rejects(
      a.libp2p.dial(multiaddr(`${bRelay.multiaddrs()[0]}/p2p-circuit/p2p/${idOf(B[1]!)}`), {
        signal: AbortSignal.timeout(5_000),
      }),
    );
    // Through the dual node's relay in A, a B-only node is not reachable: B's nodes are not in its A network.
    const dualA = orgHost(dual, orgA);
    assert.equal(dualA.admission.isAdmitted(orgHost(B[1]!, orgB).peerId), false);
    await assert.rejects(
      a.libp2p.dial(multiaddr(`${dualA.multiaddrs()[0]}/p2p-circuit/p2p/${idOf(B[1]!)}`), {
        signal: AbortSignal.timeout(5_000),
      }),
    );
    // The dual node's two networks are two hosts with disjoint peer sets besides itself.
    const inA = peerSet(dualA);
    for (const peer of peerSet(orgHost(dual, orgB))) {
      if (B.some((p) => idOf(p) === peer))
        assert.ok(!inA.has(peer), `B's ${peer} is in the dual node's A network`);
    }
  });

  it('fleet env set on chain is seen by every member node, and its relays key is applied', async () => {
    const relay = orgHost(dual, orgA).multiaddrs()[0]!.toString();
    await admin.orgs.setEnv(orgA.id, 'relays', relay);
    for (const p of [...A, dual]) {
      assert.ok(
        await waitFor(() => p.node!.fleet.get(orgA.id, 'relays') === relay, 15_000),
        `${p.name} sees it`,
      );
    }
    for (const p of B) assert.equal(p.node!.fleet.get(orgA.id, 'relays'), undefined);
    // In `auto` reachability the preferred relays make A's nodes keep reservations in A: on the dual
    // node's A host, A's own relay; B's nodes (no preferred relays in B) keep none there.
    for (const p of A) {
      const keeper = orgHost(p, orgA).relays;
      assert.ok(
        await waitFor(() => keeper.held().some((h) => h.peerId === idOf(dual)), 15_000),
        `${p.name} holds a reservation on A's preferred relay`,
      );
      assert.deepEqual(
        keeper.held().map((h) => h.peerId),
        [idOf(dual)],
        'only on A’s relay: neither B’s relay nor the public one',
      );
    }
    for (const p of B) assert.equal(p.node!.orgs.get(orgB.id)!.status().relays.target, 0);
  });

  it('removing a node from A ends its sessions in A within the bound, and leaves its B and public networks alone', async () => {
    const a1 = orgHost(A[0]!, orgA);
    const dualA = orgHost(dual, orgA);
    const dualB = orgHost(dual, orgB);
    await a1.connect(dualA.multiaddrs()[0]!, 10_000);
    await orgHost(B[1]!, orgB).connect(dualB.multiaddrs()[0]!, 10_000);
    assert.ok(a1.admission.isAdmitted(dualA.peerId));
    await admin.orgs.removeNode(orgA.id, dual.wallet.address as Address);
    assert.ok(
      await waitFor(
        () => !a1.admission.isAdmitted(dualA.peerId) && a1.libp2p.getConnections(dualA.peerId).length === 0,
        15_000,
      ),
      "A's nodes closed the removed node's sessions in A",
    );
    // B and the public network still admit it.
    assert.ok(orgHost(B[1]!, orgB).admission.isAdmitted(dualB.peerId), 'still admitted in B');
    assert.ok(dualB.admission.isAdmitted(orgHost(B[1]!, orgB).peerId), 'still admits B');
    assert.ok(admin.node!.host.admission.isAdmitted(dual.node!.host.peerId), 'still in the public network');
    // No node of A admits it any more, and it cannot come back.
    for (const p of A) {
      assert.ok(
        await waitFor(() => !orgHost(p, orgA).admission.isAdmitted(dualA.peerId), 15_000),
        `${p.name} dropped it`,
      );
    }
    // The removed node saw it on chain too: it left A's network, and cannot join it again.
    assert.ok(
      await waitFor(() => dual.node!.orgs.get(orgA.id) === undefined, 15_000),
      'the dual node left A',
    );
    assert.equal(dual.node!.orgs.left()[0]?.orgId, String(orgA.id));
    assert.ok(dual.node!.orgs.get(orgB.id), 'the dual node is still in B');
    await assert.rejects(
      dual.node!.orgs.join(orgA.id),
      (err: unknown) => err instanceof OrgNetworkError && err.code === 'NOT_A_MEMBER',
    );
  });

  it('join and leave at run time: a node that is not in the organization is refused, leaving stops only that network', async () => {
    await assert.rejects(
      B[2]!.node!.orgs.join(orgA.id),
      (err: unknown) => err instanceof OrgNetworkError && err.code === 'NOT_A_MEMBER',
    );
    const b3 = B[2]!;
    assert.equal(await b3.node!.orgs.leave(orgB.id), true);
    assert.equal(b3.node!.orgs.get(orgB.id), undefined);
    assert.deepEqual(b3.node!.status().orgs, []);
    assert.ok(admin.node!.host.admission.isAdmitted(b3.node!.host.peerId), 'still in the public network');
    const back = await b3.node!.orgs.join(orgB.id);
    assert.equal(back.orgId, String(orgB.id));
    assert.ok(await waitFor(() => peerSet(orgHost(b3, orgB)).size >= 1, 20_000), 'back in B');
  });
});
