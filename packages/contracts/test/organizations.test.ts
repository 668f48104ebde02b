import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Address, getAddress, zeroAddress } from 'viem';
import {
  type DeployedContracts,
  deployContracts,
  organizationsAbi,
  orgTokenAbi,
  tokenAbi,
} from '../src/index.ts';
import { type Anvil, eventsOf, expectRevert, read, send, startAnvil } from './anvil-fixture.ts';

let chain: Anvil;
let c: DeployedContracts;
let operator: Address;
let admin: Address;
let member: Address;
let node: Address;
let stranger: Address;
let successor: Address;

before(async () => {
  chain = await startAnvil();
  [operator, admin, member, node, stranger, successor] = chain.accounts as [
    Address,
    Address,
    Address,
    Address,
    Address,
    Address,
  ];
  c = await deployContracts({ walletClient: chain.localWallet(0), publicClient: chain.publicClient });
});
after(() => chain?.stop());

const org = (functionName: string, args: readonly unknown[] = []) => ({
  address: c.organizations,
  abi: organizationsAbi,
  functionName,
  args,
});
const orgTx = (from: Address, fn: string, args: readonly unknown[] = []) =>
  send(chain, chain.wallet(chain.accounts.indexOf(from)), org(fn, args));
const getOrg = (id: bigint) =>
  read<readonly [string, string, Address, Address]>(chain, org('getOrganization', [id]));

async function create(name: string, token: Address = zeroAddress) {
  const receipt = await orgTx(admin, 'createOrganization', [name, `${name}-net`, token]);
  const [event] = eventsOf(receipt, c.organizations, organizationsAbi, 'OrganizationCreated');
  return { receipt, orgId: event!.orgId as bigint, event: event! };
}

test('createOrganization with an existing token records it and emits OrganizationCreated', async () => {
  const { orgId, event } = await create('acme', c.token);
  assert.equal(orgId, 1n);
  assert.deepEqual(event, { orgId, admin, token: c.token, name: 'acme', networkLabel: 'acme-net' });
  assert.deepEqual(await getOrg(orgId), ['acme', 'acme-net', admin, c.token]);
  assert.equal(await read<Address>(chain, org('adminOf', [orgId])), admin);
  assert.equal(await read<bigint>(chain, org('organizationCount')), 1n);
  await expectRevert(chain, admin, org('getOrganization', [42n]), 'OrganizationNotFound', [42n]);
});

test('createOrganization validates name, label and token', async () => {
  await expectRevert(
    chain,
    admin,
    org('createOrganization', ['', 'x', zeroAddress]),
    'InvalidOrganizationName',
    [0n, 64n],
  );
  await expectRevert(
    chain,
    admin,
    org('createOrganization', ['n'.repeat(65), 'x', zeroAddress]),
    'InvalidOrganizationName',
    [65n, 64n],
  );
  await expectRevert(chain, admin, org('createOrganization', ['n', '', zeroAddress]), 'InvalidNetworkLabel', [
    0n,
    32n,
  ]);
  await expectRevert(
    chain,
    admin,
    org('createOrganization', ['n', 'l'.repeat(33), zeroAddress]),
    'InvalidNetworkLabel',
    [33n, 32n],
  );
  await expectRevert(chain, admin, org('createOrganization', ['n', 'l', stranger]), 'InvalidToken', [
    stranger,
  ]);
});

test('without a token the organization gets its own OrgToken, minted by the admin only', async () => {
  const { orgId, event } = await create('beta');
  const token = getAddress(event.token as Address);
  assert.notEqual(token, zeroAddress);
  const tok = (functionName: string, args: readonly unknown[] = []) => ({
    address: token,
    abi: orgTokenAbi,
    functionName,
    args,
  });
  assert.equal(await read<string>(chain, tok('name')), 'beta');
  assert.equal(await read<string>(chain, tok('symbol')), 'ORG');
  assert.equal(await read<bigint>(chain, tok('orgId')), orgId);
  assert.equal(getAddress(await read<Address>(chain, tok('organizations'))), c.organizations);

  await expectRevert(chain, stranger, tok('mint', [stranger, 5n]), 'NotOrganizationAdmin', [orgId, stranger]);
  const receipt = await send(chain, chain.wallet(chain.accounts.indexOf(admin)), tok('mint', [member, 5n]));
  assert.deepEqual(eventsOf(receipt, token, orgTokenAbi, 'Transfer'), [
    { from: zeroAddress, to: member, value: 5n },
  ]);
  assert.equal(await read<bigint>(chain, tok('balanceOf', [member])), 5n);

  // Minting follows the admin role.
  await orgTx(admin, 'transferAdmin', [orgId, successor]);
  await expectRevert(chain, admin, tok('mint', [admin, 1n]), 'NotOrganizationAdmin', [orgId, admin]);
  await send(chain, chain.wallet(chain.accounts.indexOf(successor)), tok('mint', [member, 1n]));
  assert.equal(await read<bigint>(chain, tok('balanceOf', [member])), 6n);
});

test('only the admin adds and removes members, with events and duplicate guards', async () => {
  const { orgId } = await create('gamma', c.token);
  await expectRevert(chain, stranger, org('addMember', [orgId, member]), 'NotOrganizationAdmin', [
    orgId,
    stranger,
  ]);
  await expectRevert(chain, admin, org('addMember', [999n, member]), 'OrganizationNotFound', [999n]);
  const added = await orgTx(admin, 'addMember', [orgId, member]);
  assert.deepEqual(eventsOf(added, c.organizations, organizationsAbi, 'MemberAdded'), [
    { orgId, account: member },
  ]);
  assert.equal(await read<boolean>(chain, org('isMember', [orgId, member])), true);
  assert.equal(await read<boolean>(chain, org('isMember', [orgId, stranger])), false);
  assert.equal(await read<boolean>(chain, org('isMember', [1n, member])), false);
  await expectRevert(chain, admin, org('addMember', [orgId, member]), 'AlreadyMember', [orgId, member]);
  await expectRevert(chain, admin, org('addMember', [orgId, zeroAddress]), 'ZeroAddress');
  await expectRevert(chain, member, org('removeMember', [orgId, member]), 'NotOrganizationAdmin', [
    orgId,
    member,
  ]);
  const removed = await orgTx(admin, 'removeMember', [orgId, member]);
  assert.deepEqual(eventsOf(removed, c.organizations, organizationsAbi, 'MemberRemoved'), [
    { orgId, account: member },
  ]);
  assert.equal(await read<boolean>(chain, org('isMember', [orgId, member])), false);
  await expectRevert(chain, admin, org('removeMember', [orgId, member]), 'NotMember', [orgId, member]);
});

test('only the admin adds and removes nodes, with events and duplicate guards', async () => {
  const { orgId } = await create('delta', c.token);
  await expectRevert(chain, stranger, org('addNode', [orgId, node]), 'NotOrganizationAdmin', [
    orgId,
    stranger,
  ]);
  const added = await orgTx(admin, 'addNode', [orgId, node]);
  assert.deepEqual(eventsOf(added, c.organizations, organizationsAbi, 'NodeAdded'), [{ orgId, node }]);
  assert.equal(await read<boolean>(chain, org('isNode', [orgId, node])), true);
  assert.equal(await read<boolean>(chain, org('isNode', [orgId, stranger])), false);
  await expectRevert(chain, admin, org('addNode', [orgId, node]), 'AlreadyNode', [orgId, node]);
  await expectRevert(chain, stranger, org('removeNode', [orgId, node]), 'NotOrganizationAdmin', [
    orgId,
    stranger,
  ]);
  const removed = await orgTx(admin, 'removeNode', [orgId, node]);
  assert.deepEqual(eventsOf(removed, c.organizations, organizationsAbi, 'NodeRemoved'), [{ orgId, node }]);
  assert.equal(await read<boolean>(chain, org('isNode', [orgId, node])), false);
  await expectRevert(chain, admin, org('removeNode', [orgId, node]), 'NotNode', [orgId, node]);
});

test('transferAdmin hands over every admin right and emits AdminTransferred', async () => {
  const { orgId } = await create('epsilon', c.token);
  await expectRevert(chain, stranger, org('transferAdmin', [orgId, stranger]), 'NotOrganizationAdmin', [
    orgId,
    stranger,
  ]);
  await expectRevert(chain, admin, org('transferAdmin', [orgId, zeroAddress]), 'ZeroAddress');
  const receipt = await orgTx(admin, 'transferAdmin', [orgId, successor]);
  assert.deepEqual(eventsOf(receipt, c.organizations, organizationsAbi, 'AdminTransferred'), [
    { orgId, previousAdmin: admin, newAdmin: successor },
  ]);
  assert.equal((await getOrg(orgId))[2], successor);
  await expectRevert(chain, admin, org('addMember', [orgId, member]), 'NotOrganizationAdmin', [orgId, admin]);
  await orgTx(successor, 'addMember', [orgId, member]);
  assert.equal(await read<boolean>(chain, org('isMember', [orgId, member])), true);
});

test('the DIBS token is minted by its owner only', async () => {
  const tok = (functionName: string, args: readonly unknown[] = []) => ({
    address: c.token,
    abi: tokenAbi,
    functionName,
    args,
  });
  await expectRevert(chain, stranger, tok('mint', [stranger, 1n]), 'OwnableUnauthorizedAccount', [stranger]);
  const receipt = await send(
    chain,
    chain.wallet(chain.accounts.indexOf(operator)),
    tok('mint', [member, 7n]),
  );
  assert.deepEqual(eventsOf(receipt, c.token, tokenAbi, 'Transfer'), [
    { from: zeroAddress, to: member, value: 7n },
  ]);
  assert.equal(await read<bigint>(chain, tok('balanceOf', [member])), 7n);
  assert.equal(await read<string>(chain, tok('name')), 'DIBS Token');
});

test('setNetworkService records the organization’s network service; admin only', async () => {
  const { orgId } = await create('zeta', c.token);
  assert.equal(await read<bigint>(chain, org('networkServiceOf', [orgId])), 0n);
  await expectRevert(chain, stranger, org('setNetworkService', [orgId, 5n]), 'NotOrganizationAdmin', [
    orgId,
    stranger,
  ]);
  const receipt = await orgTx(admin, 'setNetworkService', [orgId, 5n]);
  assert.deepEqual(eventsOf(receipt, c.organizations, organizationsAbi, 'NetworkServiceSet'), [
    { orgId, serviceId: 5n },
  ]);
  assert.equal(await read<bigint>(chain, org('networkServiceOf', [orgId])), 5n);
});

test('fleet configuration: admin-only writes, bounded keys and values, EnvChanged, removal by empty value', async () => {
  const { orgId } = await create('eta', c.token);
  const entries = () =>
    read<readonly [readonly string[], readonly string[]]>(chain, org('envEntries', [orgId]));
  await expectRevert(chain, member, org('setEnv', [orgId, 'relays', 'x']), 'NotOrganizationAdmin', [
    orgId,
    member,
  ]);
  await expectRevert(chain, admin, org('setEnv', [orgId, '', 'x']), 'InvalidEnvKey', [0n, 64n]);
  await expectRevert(chain, admin, org('setEnv', [orgId, 'k'.repeat(65), 'x']), 'InvalidEnvKey', [65n, 64n]);
  await expectRevert(chain, admin, org('setEnv', [orgId, 'k', 'v'.repeat(1025)]), 'EnvValueTooLong', [
    1025n,
    1024n,
  ]);
  const set = await orgTx(admin, 'setEnv', [orgId, 'relays', 'a,b']);
  assert.deepEqual(eventsOf(set, c.organizations, organizationsAbi, 'EnvChanged'), [
    { orgId, key: 'relays', value: 'a,b' },
  ]);
  await orgTx(admin, 'setEnv', [orgId, 'mtu', '1380']);
  await orgTx(admin, 'setEnv', [orgId, 'dns', 'v'.repeat(1024)]);
  await orgTx(admin, 'setEnv', [orgId, 'relays', 'c']);
  assert.equal(await read<string>(chain, org('getEnv', [orgId, 'relays'])), 'c');
  assert.deepEqual(await entries(), [
    ['relays', 'mtu', 'dns'],
    ['c', '1380', 'v'.repeat(1024)],
  ]);
  // Another organization's map is its own.
  assert.equal(await read<string>(chain, org('getEnv', [1n, 'relays'])), '');

  const removed = await orgTx(admin, 'setEnv', [orgId, 'relays', '']);
  assert.deepEqual(eventsOf(removed, c.organizations, organizationsAbi, 'EnvChanged'), [
    { orgId, key: 'relays', value: '' },
  ]);
  assert.deepEqual(await entries(), [
    ['dns', 'mtu'],
    ['v'.repeat(1024), '1380'],
  ]);
  assert.equal(await read<string>(chain, org('getEnv', [orgId, 'relays'])), '');

  // At most MAX_ENV_KEYS keys; removing one makes room again.
  for (let i = 0; i < 62; i++) await orgTx(admin, 'setEnv', [orgId, `k${i}`, '1']);
  await expectRevert(chain, admin, org('setEnv', [orgId, 'one-too-many', '1']), 'TooManyEnvKeys', [
    orgId,
    64n,
  ]);
  await orgTx(admin, 'setEnv', [orgId, 'k0', '']);
  await orgTx(admin, 'setEnv', [orgId, 'one-too-many', '1']);
  assert.equal((await entries())[0].length, 64);
});
