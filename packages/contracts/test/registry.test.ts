import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Address, Hex } from 'viem';
import { type DeployedContracts, deployContracts, Limits, Role, registryAbi } from '../src/index.ts';
import { type Anvil, eventsOf, expectRevert, read, send, startAnvil } from './anvil-fixture.ts';

let chain: Anvil;
let c: DeployedContracts;
let operator: Address;
let alice: Address;
let nodeA: Address;
let nodeB: Address;
let stranger: Address;

const key1 = `0x${'a1'.repeat(32)}` as Hex;
const key2 = `0x${'b2'.repeat(32)}` as Hex;
const peerA = `0x0025080212210${'3'}${'cd'.repeat(32)}` as Hex;
const peerB = `0x002508021221${'02'}${'ef'.repeat(32)}` as Hex;

before(async () => {
  chain = await startAnvil();
  [operator, alice, nodeA, nodeB, stranger] = chain.accounts as [Address, Address, Address, Address, Address];
  c = await deployContracts({ walletClient: chain.localWallet(0), publicClient: chain.publicClient });
});
after(() => chain?.stop());

const reg = (functionName: string, args: readonly unknown[] = []) => ({
  address: c.registry,
  abi: registryAbi,
  functionName,
  args,
});
const tx = (from: Address, functionName: string, args: readonly unknown[] = []) =>
  send(chain, chain.wallet(chain.accounts.indexOf(from)), reg(functionName, args));

test('registerIdentity stores the key with timestamps and emits IdentityRegistered', async () => {
  const before = await read<readonly [Hex, bigint, bigint]>(chain, reg('getIdentity', [alice]));
  assert.equal(before[0], `0x${'00'.repeat(32)}`);
  const receipt = await tx(alice, 'registerIdentity', [key1]);
  const block = await chain.publicClient.getBlock({ blockNumber: receipt.blockNumber });
  const [key, registeredAt, updatedAt] = await read<readonly [Hex, bigint, bigint]>(
    chain,
    reg('getIdentity', [alice]),
  );
  assert.equal(key, key1);
  assert.equal(registeredAt, block.timestamp);
  assert.equal(updatedAt, block.timestamp);
  assert.deepEqual(eventsOf(receipt, c.registry, registryAbi, 'IdentityRegistered'), [
    { account: alice, encryptionKey: key1 },
  ]);
});

test('identity guards: zero key, double registration, update before registration', async () => {
  await expectRevert(
    chain,
    stranger,
    reg('registerIdentity', [`0x${'00'.repeat(32)}`]),
    'InvalidEncryptionKey',
  );
  await expectRevert(chain, alice, reg('registerIdentity', [key2]), 'IdentityAlreadyRegistered', [alice]);
  await expectRevert(chain, stranger, reg('updateEncryptionKey', [key2]), 'IdentityNotRegistered', [
    stranger,
  ]);
  await expectRevert(
    chain,
    alice,
    reg('updateEncryptionKey', [`0x${'00'.repeat(32)}`]),
    'InvalidEncryptionKey',
  );
});

test('updateEncryptionKey rotates the key, keeps registeredAt and emits EncryptionKeyUpdated', async () => {
  const [, registeredAt] = await read<readonly [Hex, bigint, bigint]>(chain, reg('getIdentity', [alice]));
  await chain.testClient.increaseTime({ seconds: 100 });
  const receipt = await tx(alice, 'updateEncryptionKey', [key2]);
  const block = await chain.publicClient.getBlock({ blockNumber: receipt.blockNumber });
  const [key, registeredAt2, updatedAt] = await read<readonly [Hex, bigint, bigint]>(
    chain,
    reg('getIdentity', [alice]),
  );
  assert.equal(key, key2);
  assert.equal(registeredAt2, registeredAt);
  assert.equal(updatedAt, block.timestamp);
  assert.ok(updatedAt > registeredAt);
  assert.deepEqual(eventsOf(receipt, c.registry, registryAbi, 'EncryptionKeyUpdated'), [
    { account: alice, encryptionKey: key2 },
  ]);
});

test('registerNode stores the node record and emits NodeRegistered', async () => {
  const addrs = ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws'];
  const receipt = await tx(nodeA, 'registerNode', [peerA, Role.Bootstrap | Role.Relay, addrs]);
  const [peerId, roles, multiaddrs, active] = await read<readonly [Hex, number, string[], boolean]>(
    chain,
    reg('getNode', [nodeA]),
  );
  assert.equal(peerId, peerA);
  assert.equal(roles, Role.Bootstrap | Role.Relay);
  assert.deepEqual(multiaddrs, addrs);
  assert.equal(active, true);
  assert.deepEqual(eventsOf(receipt, c.registry, registryAbi, 'NodeRegistered'), [
    { node: nodeA, peerId: peerA, roles: Role.Bootstrap | Role.Relay },
  ]);
});

test('node guards: bad PeerId, unknown role bits, too many or bad multiaddrs, double registration', async () => {
  await expectRevert(chain, nodeB, reg('registerNode', ['0x', 2, []]), 'InvalidPeerId', [0n, 64n]);
  const long = `0x${'00'.repeat(Limits.maxPeerIdBytes + 1)}` as Hex;
  await expectRevert(chain, nodeB, reg('registerNode', [long, 2, []]), 'InvalidPeerId', [65n, 64n]);
  await expectRevert(chain, nodeB, reg('registerNode', [peerB, 8, []]), 'InvalidRoles', [8]);
  const nine = Array.from({ length: Limits.maxMultiaddrs + 1 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1`);
  await expectRevert(chain, nodeB, reg('registerNode', [peerB, 2, nine]), 'TooManyMultiaddrs', [9n, 8n]);
  await expectRevert(
    chain,
    nodeB,
    reg('registerNode', [peerB, 2, ['/ip4/1.2.3.4/tcp/1', '']]),
    'InvalidMultiaddr',
    [1n, 0n, 256n],
  );
  await expectRevert(chain, nodeA, reg('registerNode', [peerA, 2, []]), 'NodeAlreadyRegistered', [nodeA]);
  await expectRevert(chain, stranger, reg('updateNode', [2, []]), 'NodeNotRegistered', [stranger]);
  await expectRevert(chain, stranger, reg('removeNode'), 'NodeNotRegistered', [stranger]);
  await expectRevert(chain, nodeA, reg('updateNode', [16, []]), 'InvalidRoles', [16]);
});

test('updateNode changes roles and multiaddrs and emits NodeUpdated', async () => {
  const receipt = await tx(nodeA, 'updateNode', [
    Role.Bootstrap | Role.ServiceHost,
    ['/dns4/a.example/tcp/443/wss'],
  ]);
  const [peerId, roles, multiaddrs, active] = await read<readonly [Hex, number, string[], boolean]>(
    chain,
    reg('getNode', [nodeA]),
  );
  assert.equal(peerId, peerA);
  assert.equal(roles, Role.Bootstrap | Role.ServiceHost);
  assert.deepEqual(multiaddrs, ['/dns4/a.example/tcp/443/wss']);
  assert.equal(active, true);
  assert.deepEqual(eventsOf(receipt, c.registry, registryAbi, 'NodeUpdated'), [
    { node: nodeA, roles: Role.Bootstrap | Role.ServiceHost },
  ]);
});

test('only the owner approves bootstrap nodes; the list holds approved, registered nodes with the role', async () => {
  await expectRevert(chain, stranger, reg('setBootstrap', [nodeA, true]), 'OwnableUnauthorizedAccount', [
    stranger,
  ]);
  await expectRevert(chain, nodeA, reg('setBootstrap', [nodeA, true]), 'OwnableUnauthorizedAccount', [nodeA]);
  assert.deepEqual(await read<Address[]>(chain, reg('bootstrapNodes')), []);

  const receipt = await tx(operator, 'setBootstrap', [nodeA, true]);
  assert.deepEqual(eventsOf(receipt, c.registry, registryAbi, 'BootstrapChanged'), [
    { node: nodeA, enabled: true },
  ]);
  assert.deepEqual(await read<Address[]>(chain, reg('bootstrapNodes')), [nodeA]);
  assert.equal(await read<boolean>(chain, reg('isBootstrap', [nodeA])), true);

  // nodeB is approved but does not claim the role: approved, yet not serving.
  await tx(nodeB, 'registerNode', [peerB, Role.Relay, ['/ip4/127.0.0.1/tcp/4003']]);
  await tx(operator, 'setBootstrap', [nodeB, true]);
  assert.deepEqual(await read<Address[]>(chain, reg('approvedBootstrapNodes')), [nodeA, nodeB]);
  assert.deepEqual(await read<Address[]>(chain, reg('bootstrapNodes')), [nodeA]);
  await tx(nodeB, 'updateNode', [Role.Bootstrap | Role.Relay, ['/ip4/127.0.0.1/tcp/4003']]);
  assert.deepEqual(await read<Address[]>(chain, reg('bootstrapNodes')), [nodeA, nodeB]);

  // A node claiming the role without approval is not listed.
  assert.equal(await read<boolean>(chain, reg('isBootstrap', [stranger])), false);

  const off = await tx(operator, 'setBootstrap', [nodeB, false]);
  assert.deepEqual(eventsOf(off, c.registry, registryAbi, 'BootstrapChanged'), [
    { node: nodeB, enabled: false },
  ]);
  assert.deepEqual(await read<Address[]>(chain, reg('bootstrapNodes')), [nodeA]);
  await expectRevert(
    chain,
    operator,
    reg('setBootstrap', ['0x0000000000000000000000000000000000000000', true]),
    'ZeroAddress',
  );
});

test('removeNode clears the record, emits NodeRemoved, drops it from the bootstrap list and allows re-registration', async () => {
  const receipt = await tx(nodeA, 'removeNode');
  assert.deepEqual(eventsOf(receipt, c.registry, registryAbi, 'NodeRemoved'), [{ node: nodeA }]);
  const [peerId, roles, multiaddrs, active] = await read<readonly [Hex, number, string[], boolean]>(
    chain,
    reg('getNode', [nodeA]),
  );
  assert.deepEqual([peerId, roles, multiaddrs, active], ['0x', 0, [], false]);
  assert.deepEqual(await read<Address[]>(chain, reg('bootstrapNodes')), []);
  await tx(nodeA, 'registerNode', [peerA, Role.Bootstrap, ['/ip4/127.0.0.1/tcp/4001']]);
  assert.deepEqual(await read<Address[]>(chain, reg('bootstrapNodes')), [nodeA]);
});
