import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { transactionQueueFor } from '@dibs/chain';
import { ROLE_SERVICE_HOST } from '../src/p2p/constants.ts';
import { type ChainBed, type ChainParty, startChainBed } from './chain-nodes.ts';
import { waitFor } from './helpers.ts';

describe("one node's writes share one transaction queue", () => {
  let bed: ChainBed;
  let host: ChainParty;

  before(async () => {
    bed = await startChainBed('dibs-publish-queue-');
    await bed.startNode(bed.operator);
    host = await bed.party('host');
  });

  after(async () => {
    await bed?.stop();
  });

  it('publishes 10 services back to back while the node updates its roles: all land', async () => {
    const node = await bed.startNode(host);
    assert.equal(node.roles & ROLE_SERVICE_HOST, 0, 'the node hosts nothing yet');
    const queue = transactionQueueFor(host.clients);
    const sentBefore = queue.sent;
    // The first publish makes the node set its service-host role on chain, from the same wallet,
    // while the next publishes are being sent.
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const svc = await node.services.publish({
        name: `svc-${i}`,
        type: 'tcp',
        target: `127.0.0.1:${10_000 + i}`,
        policy: 'public',
      });
      ids.push(String(svc.id));
    }
    assert.equal(new Set(ids).size, 10);
    for (const [i, id] of ids.entries()) {
      const s = await host.registry.getService(BigInt(id));
      assert.equal(s?.name, `svc-${i}`);
      assert.equal(s?.active, true);
      assert.equal(s?.owner.toLowerCase(), host.wallet.address.toLowerCase());
    }
    assert.equal(node.services.hostedIds().length, 10);
    assert.ok(await waitFor(() => (node.roles & ROLE_SERVICE_HOST) !== 0, 30_000), 'the role update landed');
    const entry = await host.registry.getNode(host.wallet.address as `0x${string}`);
    assert.ok(entry && (entry.roles & ROLE_SERVICE_HOST) !== 0, 'the service-host role is on chain');
    assert.ok(queue.sent - sentBefore >= 11, `ten publishes and the role update went through the queue`);
    assert.equal(queue.depth, 0);
  });
});
