import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { deployContracts, Policy, Role } from '@dibs/contracts';
import { parseEther, zeroAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createChainClients } from '../src/clients.ts';
import { ChainError, ContractRevertError, NoAccountError } from '../src/errors.ts';
import { RegistryWriter } from '../src/registry-writer.ts';
import { fundedKey, startAnvil } from './helpers.ts';

async function setup(t: TestContext) {
  const anvil = await startAnvil(t);
  const operator = await createChainClients({ rpcUrl: anvil.rpcUrl, account: await fundedKey(anvil.rpcUrl) });
  const addresses = await deployContracts({
    walletClient: operator.walletClient!,
    publicClient: operator.publicClient,
  });
  const as = async () =>
    new RegistryWriter(
      await createChainClients({ rpcUrl: anvil.rpcUrl, account: await fundedKey(anvil.rpcUrl) }),
      addresses,
    );
  return { anvil, addresses, operator: new RegistryWriter(operator, addresses), as };
}

function revertsWith(name: string, check?: (err: ContractRevertError) => void) {
  return (err: unknown) => {
    assert.ok(err instanceof ContractRevertError, `expected ContractRevertError, got ${String(err)}`);
    assert.equal(err.errorName, name, err.message);
    assert.equal(err.code, 'CONTRACT_REVERT');
    assert.ok(err.message.includes(name));
    check?.(err);
    return true;
  };
}

test('identities: register, read back the raw key, unknown is null, double registration is a named error', async (t) => {
  const { as } = await setup(t);
  const alice = await as();
  const key = new Uint8Array(randomBytes(32));
  assert.equal(await alice.getIdentity(alice.address), null);
  const receipt = await alice.registerIdentity(key);
  assert.equal(receipt.status, 'success');
  const identity = await alice.getIdentity(alice.address);
  assert.ok(identity);
  assert.deepEqual(identity.encryptionKey, key);
  assert.ok(identity.registeredAt > 0n);
  await assert.rejects(
    alice.registerIdentity(key),
    revertsWith('IdentityAlreadyRegistered', (err) => {
      assert.equal(err.contract, 'Registry');
      assert.equal(err.functionName, 'registerIdentity');
      assert.equal(String(err.args[0]).toLowerCase(), alice.address.toLowerCase());
    }),
  );
  await assert.rejects(alice.registerIdentity(new Uint8Array(31)), (err: unknown) => {
    return err instanceof ChainError && err.code === 'INVALID_ENCRYPTION_KEY';
  });
  const newKey = new Uint8Array(randomBytes(32));
  await alice.updateEncryptionKey(newKey);
  assert.deepEqual((await alice.getIdentity(alice.address))?.encryptionKey, newKey);
});

test('nodes and the bootstrap list: only the operator approves bootstrap nodes', async (t) => {
  const { operator, as } = await setup(t);
  const node = await as();
  const peerId = new Uint8Array(randomBytes(39));
  const multiaddrs = ['/ip4/127.0.0.1/tcp/4001'];
  assert.equal(await node.getNode(node.address), null);
  await node.registerNode({ peerId, roles: Role.Bootstrap | Role.Relay, multiaddrs });
  const record = await node.getNode(node.address);
  assert.ok(record);
  assert.deepEqual(record.peerId, peerId);
  assert.equal(record.roles, Role.Bootstrap | Role.Relay);
  assert.deepEqual(record.multiaddrs, multiaddrs);
  assert.equal(record.active, true);
  assert.deepEqual(await node.getBootstrapNodes(), [], 'not a bootstrap node before approval');

  await assert.rejects(node.setBootstrap(node.address, true), revertsWith('OwnableUnauthorizedAccount'));
  await operator.setBootstrap(node.address, true);
  assert.deepEqual(await node.getBootstrapNodes(), [node.address]);
  const list = await node.getBootstrapList();
  assert.equal(list.length, 1);
  assert.deepEqual(list[0]!.multiaddrs, multiaddrs);

  await node.removeNode();
  assert.deepEqual(await node.getBootstrapList(), []);
  await assert.rejects(node.removeNode(), revertsWith('NodeNotRegistered'));
});

test('services and grants: paid access approves then requests; policy and ownership errors are named', async (t) => {
  const { operator, addresses, as } = await setup(t);
  const owner = await as();
  const client = await as();
  const price = parseEther('2');
  const serviceId = await owner.publishService({
    serviceType: 'tcp',
    name: 'ssh',
    host: owner.address,
    price,
    grantDuration: 3600n,
  });
  const service = await client.getService(serviceId);
  assert.ok(service);
  assert.equal(service.paymentToken, addresses.token, 'a priced service defaults to the DIBS token');
  assert.equal(service.price, price);
  assert.equal(await client.getService(serviceId + 1000n), null);
  assert.equal(await client.serviceCount(), serviceId);

  await assert.rejects(client.requestAccess(serviceId), revertsWith('ERC20InsufficientBalance'));
  await operator.mintToken(client.address, parseEther('5'));
  const grant = await client.requestAccess(serviceId);
  assert.equal(grant.serviceId, serviceId);
  assert.equal(grant.grantee, client.address);
  assert.equal(grant.expiresAt - grant.issuedAt, 3600n);
  assert.equal(await client.tokenBalance(client.address), parseEther('3'));
  assert.equal(await client.tokenBalance(owner.address), price);
  assert.deepEqual(await client.getGrant(grant.grantId), {
    id: grant.grantId,
    grantee: client.address,
    serviceId,
    issuedAt: grant.issuedAt,
    expiresAt: grant.expiresAt,
    revoked: false,
  });
  assert.equal(await client.isGrantValid(grant.grantId), true);
  assert.equal(await client.getGrant(grant.grantId + 99n), null);

  const stranger = await as();
  await assert.rejects(stranger.revokeGrant(grant.grantId), revertsWith('NotGrantParty'));
  await owner.revokeGrant(grant.grantId);
  assert.equal(await client.isGrantValid(grant.grantId), false);
  assert.equal((await client.getGrant(grant.grantId))?.revoked, true);

  const listed = await owner.publishService({
    serviceType: 'http',
    name: 'wiki',
    grantDuration: 60n,
    policy: Policy.Allowlist,
  });
  await assert.rejects(
    stranger.requestAccess(listed),
    revertsWith('NotAllowed', (err) => assert.equal(err.args[0], listed)),
  );
  await assert.rejects(
    stranger.setAllowlist(listed, [stranger.address], true),
    revertsWith('NotServiceOwner'),
  );
  await owner.setAllowlist(listed, [stranger.address], true);
  assert.equal(await stranger.meetsPolicy(listed, stranger.address), true);
  const free = await stranger.requestAccess(listed);
  assert.equal(free.serviceId, listed);
  await owner.retireService(listed);
  assert.equal(await stranger.isGrantValid(free.grantId), false);
  await assert.rejects(stranger.requestAccess(listed), revertsWith('ServiceInactive'));
});

test('organizations: create, add members and nodes; reads reflect them', async (t) => {
  const { as } = await setup(t);
  const admin = await as();
  const orgId = await admin.createOrganization({ name: 'Acme', networkLabel: 'acme-net' });
  const org = await admin.getOrganization(orgId);
  assert.ok(org);
  assert.equal(org.name, 'Acme');
  assert.equal(org.admin, admin.address);
  assert.notEqual(org.token, zeroAddress, 'a zero token makes the contract deploy one');
  const member = privateKeyToAccount(generatePrivateKey()).address;
  assert.equal(await admin.isMember(orgId, member), false);
  await admin.addMember(orgId, member);
  assert.equal(await admin.isMember(orgId, member), true);
  await admin.addOrganizationNode(orgId, member);
  assert.equal(await admin.isOrganizationNode(orgId, member), true);
  assert.equal(await admin.getOrganization(orgId + 50n), null);
  const other = await as();
  await assert.rejects(other.addMember(orgId, other.address), revertsWith('NotOrganizationAdmin'));
});

test('writes without an account fail with NoAccountError before touching the chain', async (t) => {
  const { anvil, addresses } = await setup(t);
  const readOnly = new RegistryWriter(await createChainClients({ rpcUrl: anvil.rpcUrl }), addresses);
  await assert.rejects(readOnly.registerIdentity(new Uint8Array(32)), NoAccountError);
});
