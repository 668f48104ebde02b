import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { deployContracts, Policy } from '@dibs/contracts';
import { openStore } from '@dibs/store';
import { createChainClients } from '../src/clients.ts';
import { ChainError, ContractRevertError } from '../src/errors.ts';
import { FleetConfig } from '../src/fleet-config.ts';
import { OrganizationsClient } from '../src/organizations.ts';
import { RegistryWriter } from '../src/registry-writer.ts';
import { fundedKey, startAnvil, tempDir, waitFor } from './helpers.ts';

async function setup(t: TestContext) {
  const anvil = await startAnvil(t);
  const operator = await createChainClients({ rpcUrl: anvil.rpcUrl, account: await fundedKey(anvil.rpcUrl) });
  const deployment = await deployContracts({
    walletClient: operator.walletClient!,
    publicClient: operator.publicClient,
  });
  const as = async () => createChainClients({ rpcUrl: anvil.rpcUrl, account: await fundedKey(anvil.rpcUrl) });
  return { deployment, as };
}

const revertsWith = (name: string) => (err: unknown) =>
  err instanceof ContractRevertError && err.errorName === name;

test('create makes an organization with its own token and network service for members and member nodes', async (t) => {
  const { deployment, as } = await setup(t);
  const adminClients = await as();
  const admin = new OrganizationsClient(adminClients, deployment);
  const memberClients = await as();
  const nodeClients = await as();
  const strangerClients = await as();
  const memberAddr = memberClients.account!.address;
  const nodeAddr = nodeClients.account!.address;

  const org = await admin.create({ name: 'Acme Corp', networkPrice: 2n });
  assert.equal(org.networkLabel, 'acme-corp');
  assert.equal(org.admin, adminClients.account!.address);
  assert.deepEqual(await admin.get(org.id), org);
  assert.equal(await admin.get(99n), null);

  const registry = new RegistryWriter(adminClients, deployment);
  const service = await registry.getService(org.networkServiceId);
  assert.ok(service);
  assert.equal(service.serviceType, 'network');
  assert.equal(service.policy, Policy.OrgNetwork);
  assert.equal(service.policyRef, org.id);
  assert.equal(service.price, 2n);
  assert.equal(service.paymentToken, org.token);

  await admin.addMember(org.id, memberAddr);
  await admin.addNode(org.id, nodeAddr);
  await admin.mint(org.id, memberAddr, 5n);
  await admin.mint(org.id, nodeAddr, 2n);
  // Members and member nodes get the network grant, paying in the organization's token; others are refused.
  for (const clients of [memberClients, nodeClients]) {
    const grant = await new RegistryWriter(clients, deployment).requestAccess(org.networkServiceId);
    assert.equal(grant.serviceId, org.networkServiceId);
  }
  await assert.rejects(
    new RegistryWriter(strangerClients, deployment).requestAccess(org.networkServiceId),
    revertsWith('NotAllowed'),
  );
  const member = new OrganizationsClient(memberClients, deployment);
  assert.equal(await member.balance(org.id), 3n);
  assert.equal(await admin.balance(org.id), 4n);
  await member.transfer(org.id, nodeAddr, 1n);
  assert.equal(await admin.balance(org.id, nodeAddr), 1n);
  await assert.rejects(member.mint(org.id, memberAddr, 1n), revertsWith('NotOrganizationAdmin'));
  await assert.rejects(member.addMember(org.id, memberAddr), revertsWith('NotOrganizationAdmin'));

  const details = await admin.details(org.id);
  assert.deepEqual(details?.members, [memberAddr]);
  assert.deepEqual(details?.nodes, [nodeAddr]);
  await admin.removeMember(org.id, memberAddr);
  assert.deepEqual((await admin.details(org.id))?.members, []);

  const listed = await member.list(nodeAddr);
  assert.equal(listed.find((o) => o.id === org.id)?.role, 'node');
  assert.deepEqual(await member.organizationsOfNode(nodeAddr), [org.id]);
  await assert.rejects(
    admin.balance(42n),
    (err: unknown) => err instanceof ChainError && err.code === 'ORGANIZATION_NOT_FOUND',
  );
});

test('fleet configuration: bounded entries; a member node follows EnvChanged and its own NodeAdded/NodeRemoved', async (t) => {
  const { deployment, as } = await setup(t);
  const adminClients = await as();
  const admin = new OrganizationsClient(adminClients, deployment);
  const nodeClients = await as();
  const nodeAddr = nodeClients.account!.address;
  const orgA = await admin.create({ name: 'a' });
  const orgB = await admin.create({ name: 'b' });
  await admin.addNode(orgA.id, nodeAddr);
  await admin.setEnv(orgA.id, 'relays', 'r1');
  await admin.setEnv(orgB.id, 'relays', 'other');

  assert.throws(
    () => admin.setEnv(orgA.id, '', 'x'),
    (err: unknown) => err instanceof ChainError && err.code === 'INVALID_ENV_KEY',
  );
  assert.throws(
    () => admin.setEnv(orgA.id, 'k', 'v'.repeat(1025)),
    (err: unknown) => err instanceof ChainError && err.code === 'ENV_VALUE_TOO_LONG',
  );

  const store = openStore(join(tempDir(t), 'node.db'));
  t.after(() => store.close());
  const changes: Array<[bigint, number]> = [];
  const fleet = new FleetConfig({
    store,
    clients: nodeClients,
    deployment,
    node: nodeAddr,
    pollIntervalMs: 20,
    onChange: (orgId, env) => changes.push([orgId, env.size]),
  });
  await fleet.start();
  t.after(() => fleet.stop());
  assert.deepEqual(fleet.organizations(), [orgA.id]);
  assert.equal(fleet.get(orgA.id, 'relays'), 'r1');
  assert.equal(fleet.env(orgB.id), undefined, 'not a node of B: B’s configuration is not kept');

  await admin.setEnv(orgA.id, 'relays', 'r2');
  await admin.setEnv(orgA.id, 'mtu', '1380');
  await waitFor(
    'the new values',
    () => fleet.get(orgA.id, 'relays') === 'r2' && fleet.get(orgA.id, 'mtu') === '1380',
  );
  await admin.setEnv(orgA.id, 'mtu', '');
  await waitFor('mtu removed', () => fleet.get(orgA.id, 'mtu') === undefined);
  assert.deepEqual([...(fleet.env(orgA.id) ?? [])], [['relays', 'r2']]);

  await admin.addNode(orgB.id, nodeAddr);
  await waitFor('B joined', () => fleet.get(orgB.id, 'relays') === 'other');
  await admin.removeNode(orgA.id, nodeAddr);
  await waitFor('A left', () => fleet.env(orgA.id) === undefined);
  assert.deepEqual(fleet.organizations(), [orgB.id]);
  assert.ok(changes.some(([id, size]) => id === orgA.id && size === 0));
});
