/**
 * A light node learns checkpoints from the DHT: its trusted full node does not answer
 * /dibs/checkpoint/1.0, yet keeps its newest signed checkpoint under `/dibs-checkpoint/<address>`,
 * and the light node's accepted checkpoint still moves forward from those records (relayed by a
 * third, full-trust node). A record under the full node's key signed by another key is refused by
 * the DHT nodes and never accepted.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Wallet } from '@dibs/core';
import {
  CHECKPOINT_PROTOCOL,
  checkpointRecordKey,
  decodeCheckpointRecord,
  encodeCheckpointRecord,
  signCheckpoint,
} from '@dibs/light';
import { multiaddr } from '@multiformats/multiaddr';
import { bytesToHex, getAddress } from 'viem';
import type { NetworkRuntime } from '../src/daemon/network.ts';
import { requestCheckpoint } from '../src/p2p/checkpoint-protocol.ts';
import { type ChainBed, startChainBed } from './chain-nodes.ts';

let bed: ChainBed;
let signer: NetworkRuntime;
let relay: NetworkRuntime;
let light: NetworkRuntime;
let pinned: bigint;

before(async () => {
  bed = await startChainBed('dibs-light-dht-');
  // Parties first: funding one rewrites the head block's state (anvil_setBalance).
  const relayParty = await bed.party('relay');
  const lightParty = await bed.party('light');
  // Records every 3 s instead of every 30 s, so the light node's checkpoint moves within seconds.
  signer = await bed.startNode(bed.operator, { signCheckpoints: true, checkpointRecordIntervalMs: 3_000 });
  // The signer serves no checkpoints over the protocol: only its DHT records remain.
  await signer.host.libp2p.unhandle(CHECKPOINT_PROTOCOL);
  relay = await bed.startNode(relayParty);
  await relay.host.connect(multiaddr(signer.host.multiaddrs()[0]!.toString()), 30_000);
  const head = await bed.operator.clients.publicClient.getBlock({ blockTag: 'latest' });
  pinned = head.number;
  await bed.mine();
  light = await bed.startNode(lightParty, {
    light: {
      enabled: true,
      checkpoint: {
        chainId: bed.deployment.chainId,
        number: head.number,
        blockHash: head.hash,
        stateRoot: head.stateRoot,
      },
      signers: [bed.operator.wallet.address],
    },
    // Records are put every CHECKPOINT_RECORD_INTERVAL_MS: a node fed by them alone needs a
    // revocation bound above that interval, or it fails closed between two records.
    chainView: {
      refuseAfterBlocks: 64,
      refuseAfterMs: 120_000,
      closeAfterBlocks: 128,
      closeAfterMs: 240_000,
    },
  });
  await light.host.connect(multiaddr(relay.host.multiaddrs()[0]!.toString()), 30_000);
});
after(async () => {
  await bed?.stop();
});

const accepted = () => BigInt(light.status().chainTrust?.checkpoint?.number ?? '0');

/** Mines a block a second until the light node accepted a checkpoint past `than` (bounded). */
async function advancedPast(than: bigint, attempts = 150): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (accepted() > than) return true;
    await bed.mine();
    await new Promise((r) => setTimeout(r, 1_000));
  }
  return accepted() > than;
}

test('the accepted checkpoint advances from DHT records while the signer does not answer the protocol', async () => {
  await assert.rejects(
    requestCheckpoint(light.host, signer.host.peerId),
    'the signer does not serve /dibs/checkpoint/1.0',
  );
  await bed.mine(2);
  const moved = await advancedPast(pinned);
  const status = light.status().chainTrust!;
  assert.ok(moved, `the light node accepted a checkpoint past #${pinned}: ${JSON.stringify(status)}`);
  assert.equal(status.mode, 'light');
  assert.deepEqual(status.signers, [bed.operator.wallet.address]);
  assert.deepEqual(status.nodeSet, [bed.operator.wallet.address], 'the node set proven at it');
  // What the DHT holds for the signer is what the light node accepted from (or older).
  const key = checkpointRecordKey(bed.operator.wallet.address);
  let seen = 0n;
  for await (const event of relay.host.dht.get(key, { signal: AbortSignal.timeout(10_000) })) {
    if (event.name !== 'PEER_RESPONSE' || !event.record) continue;
    const s = await decodeCheckpointRecord(key, event.record.value, bed.deployment.registry);
    if (s.checkpoint.number > seen) seen = s.checkpoint.number;
  }
  assert.ok(seen >= accepted(), `the DHT holds the signer's record #${seen}`);
});

test('a DHT record under the signer key signed by another key is refused and never accepted', async () => {
  const key = checkpointRecordKey(bed.operator.wallet.address);
  const rogue = Wallet.generate();
  const head = await bed.operator.clients.publicClient.getBlock({ blockTag: 'latest' });
  const forgedCheckpoint = {
    chainId: bed.deployment.chainId,
    number: head.number + 1_000_000n,
    blockHash: bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
    stateRoot: bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
  };
  const byRogue = signCheckpoint(rogue, forgedCheckpoint, bed.deployment.registry);
  // Claims the signer; and the rogue's own signature filed under the signer's key.
  const forgeries = [
    encodeCheckpointRecord({ ...byRogue, signer: getAddress(bed.operator.wallet.address) }),
    encodeCheckpointRecord(byRogue),
  ];
  for (const forged of forgeries) {
    await assert.rejects(
      decodeCheckpointRecord(key, forged, bed.deployment.registry),
      /signature is by|another node/,
    );
    try {
      for await (const _ of relay.host.dht.put(key, forged, { signal: AbortSignal.timeout(15_000) })) {
        // drain: the receiving DHT nodes validate and refuse
      }
    } catch {
      // refusals may end the query
    }
  }
  const before = accepted();
  const moved = await advancedPast(before);
  assert.ok(moved, 'the light node kept following the genuine records');
  const status = light.status().chainTrust!;
  assert.ok(
    BigInt(status.checkpoint!.number) < forgedCheckpoint.number,
    'the forged height was never accepted',
  );
  assert.notEqual(status.checkpoint!.blockHash, forgedCheckpoint.blockHash);
  // The light node's own DHT lookups discard the forgeries.
  for await (const event of light.host.dht.get(key, { signal: AbortSignal.timeout(10_000) })) {
    if (event.name !== 'PEER_RESPONSE' || !event.record) continue;
    const s = await decodeCheckpointRecord(key, event.record.value, bed.deployment.registry);
    assert.ok(s.checkpoint.number < forgedCheckpoint.number, 'no DHT answer carried the forgery');
  }
});
