/**
 * Checkpoints, their acceptance rule and proven reads on a real anvil: the slots light nodes prove
 * are the compiled contracts' (checked against the contracts' own getters), k-of-n acceptance,
 * outsiders, too few signers and forks refused, and the full-node set rolled forward across a
 * registration and a removal.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RegistryReader } from '@dibs/chain';
import { Wallet } from '@dibs/core';
import fc from 'fast-check';
import type { Address } from 'viem';
import { CheckpointStore } from '../src/checkpoint-store.ts';
import { compactProof, expandProof } from '../src/compact-proof.ts';
import { buildNodeSetProof } from '../src/node-set.ts';
import { LightError } from '../src/errors.ts';
import { LightClient } from '../src/light-client.ts';
import { verifyHeader } from '../src/proof.ts';
import { rpcCall } from '../src/rpc.ts';
import { VerifiedReader } from '../src/verified-reader.ts';
import { type Bed, fullNodeSources, type Party, startBed } from './fixture.ts';

let bed: Bed;
let full: Party[];
let reader: VerifiedReader;
let latest: () => Awaited<ReturnType<Bed['checkpoint']>>;
let current: Awaited<ReturnType<Bed['checkpoint']>>;

before(async () => {
  bed = await startBed();
  full = [await bed.party(), await bed.party(), await bed.party()];
  for (const p of full) await bed.addFullNode(p);
  current = await bed.checkpoint();
  latest = () => current;
  reader = new VerifiedReader({
    rpcUrls: [bed.rpcUrl],
    deployment: bed.deployment,
    checkpoint: () => latest(),
  });
});
after(() => bed?.stop());

const byCode = (code: string) => (err: unknown) => err instanceof LightError && err.code === code;
const sorted = (ps: Party[]) => ps.map((p) => p.wallet.address as Address).sort();

test('proven grant, service, identity key, membership and node set equal what the contracts return', async () => {
  const owner = await bed.party();
  const client = await bed.party();
  const serviceId = await bed.publish(owner);
  const grant = await client.registry.requestAccess(serviceId);
  await bed.write(owner, 'accessGrants', 'revoke', [grant.grantId]);
  const live = await client.registry.requestAccess(serviceId);
  const orgId = await owner.registry.createOrganization({ name: 'acme', networkLabel: 'acme' });
  await bed.write(owner, 'organizations', 'addMember', [orgId, client.wallet.address]);
  current = await bed.checkpoint();
  const chain = new RegistryReader(bed.operator.clients, bed.deployment);

  for (const id of [grant.grantId, live.grantId]) {
    const proven = await reader.grant(id);
    const called = await chain.getGrant(id);
    assert.ok(proven && called);
    assert.equal(proven.grantee, called.grantee);
    assert.equal(proven.serviceId, called.serviceId);
    assert.equal(proven.issuedAt, called.issuedAt);
    assert.equal(proven.expiresAt, called.expiresAt);
    assert.equal(proven.revoked, called.revoked);
  }
  assert.equal((await reader.grant(grant.grantId))?.revoked, true);
  assert.equal(await reader.grant(live.grantId + 1000n), null, 'an absent grant proves as absent');

  const service = await reader.service(serviceId);
  const calledService = await chain.getService(serviceId);
  assert.ok(service && calledService);
  assert.equal(service.host, calledService.host);
  assert.equal(service.owner, calledService.owner);
  assert.equal(service.serviceType, calledService.serviceType);
  assert.equal(service.active, calledService.active);
  assert.equal(service.policy, calledService.policy);
  assert.equal(await reader.service(9_999n), null);

  const key = await reader.identityKey(client.wallet.address);
  assert.deepEqual(key, (await chain.getIdentity(client.wallet.address))?.encryptionKey);
  assert.equal(await reader.identityKey(Wallet.generate().address), null);
  assert.equal(await reader.isMember(orgId, client.wallet.address), true);
  assert.equal(await reader.isMember(orgId, bed.operator.wallet.address), false);
  assert.deepEqual(await reader.nodeSet(), [...(await chain.getBootstrapNodes())].sort());
  assert.deepEqual(await reader.nodeSet(), sorted(full));
});

test('a header checks against the checkpoint by its recomputed hash', async () => {
  const cp = await bed.checkpoint();
  const raw = (await rpcCall(bed.rpcUrl, 'eth_getBlockByNumber', [
    `0x${cp.number.toString(16)}`,
    false,
  ])) as Record<string, string>;
  verifyHeader(raw, cp);
  assert.throws(
    () => verifyHeader({ ...raw, stateRoot: `0x${'11'.repeat(32)}` }, cp),
    byCode('HEADER_MISMATCH'),
  );
  assert.throws(
    () => verifyHeader(raw, { ...cp, stateRoot: `0x${'22'.repeat(32)}` }),
    byCode('HEADER_MISMATCH'),
  );
  assert.throws(() => verifyHeader(raw, { ...cp, number: cp.number + 1n }), byCode('HEADER_MISMATCH'));
});

test('checkpoint acceptance: k of n, outsiders, too few, forks; the set rolls across a registration and a removal', async () => {
  const genesis = await bed.checkpoint();
  const store = new CheckpointStore({ genesis, signers: sorted(full), registry: bed.deployment.registry });
  const prove = (cp: typeof genesis, previous: Address[]) => reader.nodeSet(cp, previous);
  const [a, b, c] = full.map((p) => p.wallet) as [Wallet, Wallet, Wallet];
  assert.equal(store.required(), 2);

  await bed.mine();
  const one = await bed.checkpoint();
  await assert.rejects(store.accept(one, bed.sign([a], one), prove), byCode('TOO_FEW_SIGNERS'));
  const outsiders = [Wallet.generate(), Wallet.generate(), Wallet.generate()];
  await assert.rejects(store.accept(one, bed.sign(outsiders, one), prove), byCode('UNTRUSTED_SIGNER'));
  await assert.rejects(
    store.accept(one, [...bed.sign([a], one), ...bed.sign(outsiders, one)], prove),
    byCode('TOO_FEW_SIGNERS'),
  );
  // A signature copied onto a checkpoint it was not made for counts for nothing.
  const [forged] = bed.sign([b], one);
  await assert.rejects(
    store.accept(
      one,
      [
        ...bed.sign([a], one),
        { ...forged!, checkpoint: { ...one, stateRoot: `0x${'ee'.repeat(32)}` as const } },
      ],
      prove,
    ),
    byCode('TOO_FEW_SIGNERS'),
  );
  const accepted = await store.accept(one, bed.sign([a, b], one), prove);
  assert.deepEqual(accepted.signers, [a.address, b.address].sort());
  assert.equal(store.latest().checkpoint.number, one.number);

  const other = { ...one, blockHash: `0x${'ab'.repeat(32)}` as const };
  await assert.rejects(store.accept(other, bed.sign([a, b, c], other), prove), byCode('FORK'));
  assert.equal(
    (await store.accept(genesis, [], prove)).checkpoint,
    genesis,
    'an accepted checkpoint again is a no-op',
  );
  const older = await bed.checkpoint(genesis.number - 1n);
  await assert.rejects(store.accept(older, bed.sign([a, b, c], older), prove), byCode('STALE_CHECKPOINT'));
  await bed.mine();
  const two = await bed.checkpoint();
  const twin = { ...two, blockHash: `0x${'cd'.repeat(32)}` as const };
  await assert.rejects(
    store.accept(two, [...bed.sign([a, b], two), ...bed.sign([c], twin)], prove),
    byCode('FORK'),
  );

  // Roll forward: d registers as a full node, c withdraws; the next accepted checkpoint proves it.
  const d = await bed.party();
  await bed.addFullNode(d);
  await bed.removeNode(full[2]!);
  const three = await bed.checkpoint();
  const rolled = await store.accept(three, bed.sign([a, b], three), prove);
  assert.deepEqual(rolled.nodeSet, sorted([full[0]!, full[1]!, d]));
  await bed.mine();
  const four = await bed.checkpoint();
  await assert.rejects(
    store.accept(four, bed.sign([a, c], four), prove),
    byCode('TOO_FEW_SIGNERS'),
    'the removed node no longer counts',
  );
  const fourAccepted = await store.accept(four, bed.sign([a, d.wallet], four), prove);
  assert.deepEqual(fourAccepted.signers, [a.address, d.wallet.address].sort());
  await bed.addFullNode(full[2]!); // restore for the next test

  const strict = new CheckpointStore({
    genesis,
    signers: sorted(full),
    registry: bed.deployment.registry,
    threshold: 2 / 3,
  });
  assert.equal(strict.required(), 3);
  await assert.rejects(strict.accept(four, bed.sign([a, b], four), prove), byCode('TOO_FEW_SIGNERS'));
});

test('a node-set proof from a full node: compact, verified like an RPC answer, refused when tampered or partial', async () => {
  const cp = await bed.checkpoint();
  const compact = await buildNodeSetProof(bed.rpcUrl, bed.deployment.registry, cp.number);
  const fresh = new VerifiedReader({
    rpcUrls: [bed.rpcUrl],
    deployment: bed.deployment,
    checkpoint: () => cp,
  });
  assert.deepEqual(await fresh.nodeSetFromProof(cp, compact), await fresh.nodeSet(cp));
  const expanded = expandProof(compact);
  // A different value for the length slot: the proof no longer proves it.
  const lying = {
    ...expanded,
    storageProof: expanded.storageProof.map((e, i) => (i === 0 ? { ...e, value: '0x1' } : e)),
  };
  await assert.rejects(
    new VerifiedReader({
      rpcUrls: [bed.rpcUrl],
      deployment: bed.deployment,
      checkpoint: () => cp,
    }).nodeSetFromProof(cp, compactProof(lying)),
    byCode('PROOF_INVALID'),
  );
  // Leaving out a node's entry (say, to hide a removal): the set cannot be read from it.
  const partial = { ...expanded, storageProof: expanded.storageProof.slice(0, -1) };
  await assert.rejects(
    new VerifiedReader({
      rpcUrls: [bed.rpcUrl],
      deployment: bed.deployment,
      checkpoint: () => cp,
    }).nodeSetFromProof(cp, compactProof(partial)),
    byCode('PROOF_INVALID'),
  );
  // Against another checkpoint's state root it proves nothing.
  await bed.write(bed.operator, 'registry', 'setBootstrap', [Wallet.generate().address, true]);
  const next = await bed.checkpoint();
  await assert.rejects(
    new VerifiedReader({
      rpcUrls: [bed.rpcUrl],
      deployment: bed.deployment,
      checkpoint: () => next,
    }).nodeSetFromProof(next, compact),
    byCode('PROOF_INVALID'),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      try {
        expandProof(bytes);
        return true;
      } catch (err) {
        return err instanceof LightError && err.code === 'MALFORMED';
      }
    }),
    { numRuns: 3000 },
  );
});

test('a light client follows checkpoints its full nodes sign, over their real chain', async () => {
  const genesis = await bed.checkpoint();
  const nodes = await reader.nodeSet(genesis);
  const store = new CheckpointStore({ genesis, signers: nodes, registry: bed.deployment.registry });
  const sources = fullNodeSources(bed, full);
  const followReader = new VerifiedReader({
    rpcUrls: [bed.rpcUrl],
    deployment: bed.deployment,
    checkpoint: () => store.latest().checkpoint,
  });
  const client = new LightClient({ store, reader: followReader, sources: () => sources });
  assert.equal(await client.syncOnce(), null, 'nothing newer yet');
  await bed.mine();
  await bed.mine();
  const moved = await client.syncOnce();
  assert.ok(moved);
  assert.equal(moved.checkpoint.number, genesis.number + 2n);
  assert.equal(moved.signers.length, 3);
  assert.deepEqual(moved.nodeSet, nodes);
  assert.ok(client.checkpointBytes > 0 && client.proofBytes > 0);
  assert.equal(
    followReader.bytesDownloaded,
    0,
    'the node set came proven from the full nodes, no RPC round trip',
  );
});
