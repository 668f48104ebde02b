/**
 * A light node on a real chain behind a lying RPC: the proxy hides a revocation from the node's event
 * feed and reports the revoked grant live in its proofs. The light node refuses the lie (logged with
 * the proxy's URL), proves the revocation through its other RPC URL, follows the checkpoints the full
 * node signs over /dibs/checkpoint/1.0, and admits a legitimate node whose grant is newer than its
 * pinned checkpoint. A full-trust node reading through the same proxy believes the grant is live.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createChainClients, RegistryWriter } from '@dibs/chain';
import { accessGrantsAbi } from '@dibs/contracts';
import { CHECKPOINT_PROTOCOL, GRANT_REVOKED_BIT, slots } from '@dibs/light';
import fc from 'fast-check';
import * as lp from 'it-length-prefixed';
import { multiaddr } from '@multiformats/multiaddr';
import { decodeFunctionData, encodeFunctionResult, type Hex, numberToHex, toEventSelector } from 'viem';
import type { NetworkRuntime } from '../src/daemon/network.ts';
import {
  decodeCheckpointRequest,
  requestCheckpoint,
  requestNodeSetProof,
} from '../src/p2p/checkpoint-protocol.ts';
import { type Lie, type LyingRpc, startLyingRpc } from '../../light/test/lying-rpc.ts';
import { type ChainBed, type ChainParty, startChainBed } from './chain-nodes.ts';
import { waitFor } from './helpers.ts';

let bed: ChainBed;
let proxy: LyingRpc;
let full: NetworkRuntime;
let victim: bigint;
let lightNode: NetworkRuntime | undefined;

before(async () => {
  bed = await startChainBed('dibs-light-node-');
  proxy = await startLyingRpc(bed.anvil.rpcUrl);
  full = await bed.startNode(bed.operator, { signCheckpoints: true });
  const v = await bed.party('victim');
  victim = (await v.registry.requestAccess(bed.deployment.networkServiceId)).grantId;
  await v.clients
    .walletClient!.writeContract({
      address: bed.deployment.accessGrants,
      abi: accessGrantsAbi,
      functionName: 'revoke',
      args: [victim],
      chain: v.clients.chain,
      account: v.clients.account!,
    })
    .then((hash) => v.clients.publicClient.waitForTransactionReceipt({ hash }));
  const revokedTopic = toEventSelector('GrantRevoked(uint256,uint256)');
  const victimSlot = slots.grantSlot(victim);
  const lies: Lie[] = [
    // Hide the revocation from the event feed.
    (method, _params, result) =>
      method === 'eth_getLogs' && Array.isArray(result)
        ? result.filter(
            (l: { topics: Hex[] }) => !(l.topics[0] === revokedTopic && BigInt(l.topics[1]!) === victim),
          )
        : result,
    // Report it live in proofs (the proof itself stays the honest one).
    (method, _params, result) => {
      if (method !== 'eth_getProof') return result;
      const r = result as { storageProof: Array<{ key: string; value: string }> };
      return {
        ...r,
        storageProof: r.storageProof.map((e) =>
          BigInt(e.key) === BigInt(victimSlot)
            ? { ...e, value: numberToHex(BigInt(e.value) & ~GRANT_REVOKED_BIT) }
            : e,
        ),
      };
    },
    // And in direct reads.
    (method, params, result) => {
      if (method !== 'eth_call' || typeof result !== 'string') return result;
      const tx = params[0] as { to?: string; data?: Hex; input?: Hex };
      if (tx.to?.toLowerCase() !== bed.deployment.accessGrants.toLowerCase()) return result;
      try {
        const call = decodeFunctionData({ abi: accessGrantsAbi, data: (tx.data ?? tx.input)! });
        if (call.functionName === 'isValid' && call.args[0] === victim) {
          return encodeFunctionResult({ abi: accessGrantsAbi, functionName: 'isValid', result: true });
        }
      } catch {
        // not an AccessGrants call we rewrite
      }
      return result;
    },
  ];
  proxy.lies = lies;
});
after(async () => {
  await proxy?.close();
  await bed?.stop();
});

/** A party whose node reads its chain through the lying proxy. */
async function behindProxy(name: string): Promise<ChainParty> {
  const p = await bed.party(name);
  const clients = await createChainClients({ rpcUrl: proxy.url, account: p.wallet.exportPrivateKeyHex() });
  const registry = new RegistryWriter(clients, bed.deployment);
  return { ...p, clients, registry, chain: { ...p.chain, clients, registry } };
}

test('the light node refuses the lying RPC, follows signed checkpoints and admits a legitimate node; a full-trust node is fooled', async () => {
  const genesisBlock = await bed.operator.clients.publicClient.getBlock({ blockTag: 'latest' });
  const checkpoint = {
    chainId: bed.deployment.chainId,
    number: genesisBlock.number,
    blockHash: genesisBlock.hash,
    stateRoot: genesisBlock.stateRoot,
  };
  // anvil_setBalance (how test parties get gas) rewrites the head block's state in place, after which
  // that block's proofs no longer match its state root: move the head past the pinned block first.
  await bed.mine();
  const lightParty = await behindProxy('light');
  const light = await bed.startNode(lightParty, {
    light: {
      enabled: true,
      checkpoint,
      signers: [bed.operator.wallet.address],
      rpcUrls: [proxy.url, bed.anvil.rpcUrl],
    },
  });
  lightNode = light;
  const trusting = await bed.startNode(await behindProxy('trusting'));

  // The victim's grant: proven revoked by the light node, believed live by the full-trust node.
  assert.ok(
    await waitFor(() => light.cache.grant(victim)?.revoked === true, 30_000),
    'the light node proves the revocation',
  );
  assert.ok(
    await waitFor(() => trusting.cache.grant(victim) !== undefined, 30_000),
    'the full-trust node mirrors the grant',
  );
  assert.equal(trusting.cache.grant(victim)?.revoked, false, 'the full-trust node believes the lie');
  const status = light.status().chainTrust!;
  assert.equal(status.mode, 'light');
  assert.ok(status.refusedCount > 0);
  assert.ok(
    status.refusedAnswers.some(
      (r) => r.url === proxy.url && r.what === `grant ${victim}` && r.code === 'PROOF_INVALID',
    ),
    'the lie about the victim grant was refused, naming the proxy',
  );

  // A legitimate node whose grant is newer than the pinned checkpoint: admitted once the light node
  // accepted a newer checkpoint the full node signed.
  const legit = await bed.startNode(await bed.party('legit'));
  const lightAddr = multiaddr(light.host.multiaddrs()[0]!.toString());
  const admitted = await waitFor(async () => {
    await legit.host.connect(lightAddr, 5_000).catch(() => undefined);
    return (
      legit.host.admission.isAdmitted(light.host.peerId) && light.host.admission.isAdmitted(legit.host.peerId)
    );
  }, 60_000);
  assert.ok(admitted, 'the light node and the legitimate node admit each other');
  const after = light.status().chainTrust!;
  assert.ok(BigInt(after.checkpoint!.number) > checkpoint.number, 'a newer checkpoint was accepted');
  assert.deepEqual(after.signers, [bed.operator.wallet.address]);
  assert.deepEqual(after.nodeSet, [bed.operator.wallet.address]);
  assert.equal(full.status().chainTrust?.mode, 'full');
  assert.equal(light.cache.grant(victim)?.revoked, true, 'still refused');
});

test('/dibs/checkpoint/1.0: garbage, oversized and unknown requests end their stream; the full node keeps answering', async () => {
  assert.ok(lightNode, 'runs after the light node test');
  const host = lightNode.host;
  const peer = full.host.peerId;
  const exchange = async (frame: Uint8Array): Promise<string> => {
    const connection = await host.libp2p.dial(peer);
    const stream = await connection.newStream(CHECKPOINT_PROTOCOL);
    stream.send(lp.encode.single(frame));
    try {
      for await (const chunk of lp.decode(stream, { maxDataLength: 200_000 })) {
        return new TextDecoder().decode(chunk.subarray());
      }
      return 'ended';
    } catch (err) {
      return `reset: ${(err as Error).message}`;
    }
  };
  for (const bad of [
    new TextEncoder().encode('not json'),
    new TextEncoder().encode('{"number":"-1"}'),
    new TextEncoder().encode('{"evil":true}'),
    new TextEncoder().encode('{"nodeSet":true}'),
    new Uint8Array(4096).fill(0x7b),
  ]) {
    const answer = await exchange(bad);
    assert.ok(!answer.includes('checkpoint"'), `no checkpoint for a bad request: ${answer}`);
  }
  const good = await requestCheckpoint(host, peer);
  assert.equal(good.signer, bed.operator.wallet.address);
  const proof = await requestNodeSetProof(host, peer, good.checkpoint.number);
  assert.ok(proof.length > 0 && proof.length < 20_000);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        decodeCheckpointRequest(bytes);
        return true;
      } catch (err) {
        return (err as { code?: string }).code === 'MALFORMED_MESSAGE';
      }
    }),
    { numRuns: 2000 },
  );
});
