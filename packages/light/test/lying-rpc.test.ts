/**
 * A lying RPC between a node and a real anvil: a revoked grant reported live, an invented grant, a
 * changed service host, a forged checkpoint, a header whose hash does not match, a storage proof for
 * another slot. The verified reader refuses every lie (logged with the liar's URL), answers truthfully
 * from the next RPC, and keeps answering legitimate reads; a full-trust reader (eth_call, as nodes
 * read today) through the same proxy is fooled, which shows each lie would pass unnoticed without proofs.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { accessGrantsAbi } from '@dibs/contracts';
import { createChainClients, RegistryReader } from '@dibs/chain';
import { createBlockHeaderFromRPC, type JSONRPCBlock } from '@ethereumjs/block';
import { createCustomCommon, Hardfork, Mainnet } from '@ethereumjs/common';
import { Wallet } from '@dibs/core';
import {
  type Address,
  bytesToHex,
  decodeFunctionData,
  encodeFunctionResult,
  type Hex,
  numberToHex,
} from 'viem';
import type { Checkpoint } from '../src/checkpoint.ts';
import { CheckpointStore } from '../src/checkpoint-store.ts';
import { GRANT_EXPIRES_SHIFT, GRANT_ISSUED_SHIFT, GRANT_REVOKED_BIT } from '../src/constants.ts';
import { LightError } from '../src/errors.ts';
import { grantSlot, serviceSlots } from '../src/slots.ts';
import { VerifiedReader } from '../src/verified-reader.ts';
import { type Bed, type Party, startBed } from './fixture.ts';
import { type Lie, type LyingRpc, startLyingRpc } from './lying-rpc.ts';

let bed: Bed;
let proxy: LyingRpc;
let owner: Party;
let client: Party;
let full: Party[];
let serviceId: bigint;
let revoked: bigint;
let live: bigint;
let invented: bigint;
let checkpoint: Checkpoint;
const attacker = Wallet.generate();

before(async () => {
  bed = await startBed();
  proxy = await startLyingRpc(bed.rpcUrl);
  full = [await bed.party(), await bed.party(), await bed.party()];
  for (const p of full) await bed.addFullNode(p);
  owner = await bed.party();
  client = await bed.party();
  serviceId = await bed.publish(owner);
  revoked = (await client.registry.requestAccess(serviceId)).grantId;
  await bed.write(owner, 'accessGrants', 'revoke', [revoked]);
  live = (await client.registry.requestAccess(serviceId)).grantId;
  invented = live + 1n;
  checkpoint = await bed.checkpoint();
});
after(async () => {
  await proxy?.close();
  await bed?.stop();
});

const isAccessGrants = (params: unknown[]) =>
  String(params[0]).toLowerCase() === bed.deployment.accessGrants.toLowerCase();

/** eth_getProof: report `value` for storage key `key` (the proof stays the honest one). */
function proofValue(key: Hex, value: (honest: bigint) => bigint): Lie {
  return (method, params, result) => {
    if (method !== 'eth_getProof' || !isAccessGrants(params)) return result;
    const r = result as { storageProof: Array<{ key: string; value: string; proof: string[] }> };
    return {
      ...r,
      storageProof: r.storageProof.map((e) =>
        BigInt(e.key) === BigInt(key) ? { ...e, value: numberToHex(value(BigInt(e.value))) } : e,
      ),
    };
  };
}

/** eth_call to AccessGrants: rewrite the result of `fn` for the first argument `arg`. */
function callResult(
  fn: 'getGrant' | 'isValid' | 'getService',
  arg: bigint,
  rewrite: (honest: unknown) => unknown,
): Lie {
  return (method, params, result) => {
    if (method !== 'eth_call') return result;
    const tx = params[0] as { to?: string; data?: Hex; input?: Hex };
    if (tx.to?.toLowerCase() !== bed.deployment.accessGrants.toLowerCase()) return result;
    const call = decodeFunctionData({ abi: accessGrantsAbi, data: (tx.data ?? tx.input)! });
    if (call.functionName !== fn || call.args?.[0] !== arg) return result;
    const honest = result === undefined ? undefined : (result as Hex);
    return encodeFunctionResult({ abi: accessGrantsAbi, functionName: fn, result: rewrite(honest) } as never);
  };
}

const packedGrant = (grantee: Address, issuedAt: bigint, expiresAt: bigint) =>
  BigInt(grantee) | (issuedAt << GRANT_ISSUED_SHIFT) | (expiresAt << GRANT_EXPIRES_SHIFT);

function readers(urls: string[]) {
  const refusedLog: string[] = [];
  const reader = new VerifiedReader({
    rpcUrls: urls,
    deployment: bed.deployment,
    checkpoint: () => checkpoint,
    onRefused: (r) => refusedLog.push(`${r.url} ${r.what} ${r.code}`),
  });
  return { reader, refusedLog };
}

async function fullTrust() {
  const clients = await createChainClients({ rpcUrl: proxy.url, retryCount: 0 });
  return new RegistryReader(clients, bed.deployment);
}

async function refusedEverywhere(read: (r: VerifiedReader) => Promise<unknown>, code: string) {
  // Only the liar: the read fails closed, naming the liar.
  const alone = readers([proxy.url]);
  await assert.rejects(
    read(alone.reader),
    (err: unknown) => err instanceof LightError && err.code === 'ALL_RPCS_FAILED',
  );
  assert.equal(alone.reader.refusals()[0]?.code, code);
  assert.equal(alone.reader.refusals()[0]?.url, proxy.url);
  // The liar first, an honest RPC second: refused, logged, and answered truthfully by the next URL.
  const both = readers([proxy.url, bed.rpcUrl]);
  const value = await read(both.reader);
  assert.equal(both.refusedLog.length, 1);
  assert.match(both.refusedLog[0]!, new RegExp(`^${proxy.url} .* ${code}$`));
  // Legitimate reads keep being answered, and the liar stays refused on every read it lies in.
  assert.equal((await both.reader.grant(live))?.revoked, false);
  assert.equal((await both.reader.identityKey(client.wallet.address))?.length, 32);
  return value;
}

test('a revoked grant reported live: refused; a full-trust reader is fooled', async () => {
  proxy.lies = [
    proofValue(grantSlot(revoked), (v) => v & ~GRANT_REVOKED_BIT),
    callResult('getGrant', revoked, () => {
      throw new Error('replaced below');
    }),
  ];
  const chain = new RegistryReader(bed.operator.clients, bed.deployment);
  const honest = (await chain.getGrant(revoked))!;
  proxy.lies[1] = callResult('getGrant', revoked, () => [
    honest.grantee,
    honest.serviceId,
    honest.issuedAt,
    honest.expiresAt,
    false,
  ]);
  proxy.lies.push(callResult('isValid', revoked, () => true));
  const grant = (await refusedEverywhere((r) => r.grant(revoked), 'PROOF_INVALID')) as { revoked: boolean };
  assert.equal(grant.revoked, true, 'the honest RPC says revoked');
  const fooled = await fullTrust();
  assert.equal((await fooled.getGrant(revoked))?.revoked, false, 'the full-trust reader believes the lie');
  assert.equal(await fooled.isGrantValid(revoked), true);
});

test('an invented grant: refused; a full-trust reader is fooled', async () => {
  const now = BigInt(Math.floor(Date.now() / 1000));
  proxy.lies = [
    proofValue(grantSlot(invented), () => packedGrant(client.wallet.address, now, now + 3600n)),
    callResult('getGrant', invented, () => [client.wallet.address, serviceId, now, now + 3600n, false]),
  ];
  assert.equal(
    await refusedEverywhere((r) => r.grant(invented), 'PROOF_INVALID'),
    null,
    'the honest RPC proves it absent',
  );
  assert.equal((await (await fullTrust()).getGrant(invented))?.grantee, client.wallet.address);
});

test('a changed service host: refused; a full-trust reader is fooled', async () => {
  const hostSlot = serviceSlots(serviceId).host.slot;
  proxy.lies = [
    proofValue(hostSlot, () => BigInt(attacker.address)),
    callResult('getService', serviceId, () => {
      throw new Error('set below');
    }),
  ];
  const honest = (await new RegistryReader(bed.operator.clients, bed.deployment).getService(serviceId))!;
  proxy.lies[1] = callResult('getService', serviceId, () => ({
    owner: honest.owner,
    host: attacker.address,
    serviceType: honest.serviceType,
    name: honest.name,
    price: honest.price,
    paymentToken: honest.paymentToken,
    grantDuration: honest.grantDuration,
    policy: honest.policy,
    policyRef: honest.policyRef,
    active: honest.active,
    tokenThreshold: honest.tokenThreshold,
  }));
  const service = (await refusedEverywhere((r) => r.service(serviceId), 'PROOF_INVALID')) as {
    host: Address;
  };
  assert.equal(service.host, owner.wallet.address);
  assert.equal((await (await fullTrust()).getService(serviceId))?.host, attacker.address);
});

test('a header whose hash does not match its fields: refused', async () => {
  proxy.lies = [
    (method, _params, result) =>
      method === 'eth_getBlockByNumber' && result
        ? { ...(result as object), stateRoot: `0x${'42'.repeat(32)}` }
        : result,
  ];
  await refusedEverywhere((r) => r.grant(live), 'HEADER_MISMATCH');
});

test('a forged checkpoint: a self-consistent forged header is refused, and its checkpoint signed outside the set is not accepted', async () => {
  const forge = (raw: Record<string, unknown>) => {
    const forged = { ...raw, stateRoot: `0x${'66'.repeat(32)}` };
    const common = createCustomCommon({ chainId: bed.deployment.chainId }, Mainnet, {
      hardfork: Hardfork.Cancun,
    });
    const header = createBlockHeaderFromRPC(forged as unknown as JSONRPCBlock, {
      common,
      setHardfork: false,
    });
    return { ...forged, hash: bytesToHex(header.hash()) };
  };
  proxy.lies = [
    (method, _p, result) =>
      method === 'eth_getBlockByNumber' && result ? forge(result as Record<string, unknown>) : result,
  ];
  await refusedEverywhere((r) => r.grant(live), 'HEADER_MISMATCH');
  // The liar also signs a checkpoint naming its forged block: the light node's store refuses it.
  const forgedHeader = forge(
    (await bed.operator.clients.publicClient.request({
      method: 'eth_getBlockByNumber',
      params: [numberToHex(checkpoint.number), false],
    } as never)) as Record<string, unknown>,
  );
  const forgedCheckpoint: Checkpoint = {
    ...checkpoint,
    number: checkpoint.number + 1n,
    blockHash: forgedHeader.hash as Hex,
    stateRoot: forgedHeader.stateRoot as Hex,
  };
  const store = new CheckpointStore({
    genesis: checkpoint,
    signers: full.map((p) => p.wallet.address),
    registry: bed.deployment.registry,
  });
  const { reader } = readers([proxy.url]);
  await assert.rejects(
    store.accept(forgedCheckpoint, bed.sign([attacker, Wallet.generate()], forgedCheckpoint), (cp, prev) =>
      reader.nodeSet(cp, prev),
    ),
    (err: unknown) => err instanceof LightError && err.code === 'UNTRUSTED_SIGNER',
  );
  assert.equal(store.latest().checkpoint.number, checkpoint.number);
});

test('a storage proof for another slot: refused', async () => {
  const victim = grantSlot(revoked);
  const donor = grantSlot(live);
  proxy.lies = [
    async (method, params, result, upstream) => {
      if (method !== 'eth_getProof' || !isAccessGrants(params)) return result;
      const keys = params[1] as Hex[];
      if (!keys.some((k) => BigInt(k) === BigInt(victim))) return result;
      const other = (await upstream('eth_getProof', [params[0], [donor], params[2]])).result as {
        storageProof: Array<{ key: string; value: string; proof: string[] }>;
      };
      const r = result as typeof other;
      return {
        ...r,
        storageProof: r.storageProof.map((e) =>
          BigInt(e.key) === BigInt(victim)
            ? { key: e.key, value: other.storageProof[0]!.value, proof: other.storageProof[0]!.proof }
            : e,
        ),
      };
    },
  ];
  const grant = (await refusedEverywhere((r) => r.grant(revoked), 'PROOF_INVALID')) as { revoked: boolean };
  assert.equal(grant.revoked, true);
  assert.ok(proxy.rewritten > 0);
});
