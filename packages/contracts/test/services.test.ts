import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Address, zeroAddress } from 'viem';
import {
  accessGrantsAbi,
  type DeployedContracts,
  deployContracts,
  grantIdOf,
  Limits,
  organizationsAbi,
  orgTokenAbi,
  Policy,
  serviceIdOfGrant,
  servicesAbi,
  tokenAbi,
} from '../src/index.ts';
import { type Anvil, eventsOf, expectRevert, read, send, startAnvil } from './anvil-fixture.ts';

let chain: Anvil;
let c: DeployedContracts;
let operator: Address;
let owner: Address;
let host: Address;
let client: Address;
let stranger: Address;
let otherOwner: Address;

const UNIT = 10n ** 18n;
const PRICE = 3n * UNIT;
const DURATION = 3600n;

interface Service {
  owner: Address;
  host: Address;
  serviceType: string;
  name: string;
  price: bigint;
  paymentToken: Address;
  grantDuration: bigint;
  policy: number;
  policyRef: bigint;
  active: boolean;
  tokenThreshold: bigint;
}

before(async () => {
  chain = await startAnvil();
  [operator, owner, host, client, stranger, otherOwner] = chain.accounts as [
    Address,
    Address,
    Address,
    Address,
    Address,
    Address,
  ];
  c = await deployContracts({ walletClient: chain.localWallet(0), publicClient: chain.publicClient });
  for (const to of [client, stranger]) await tx(operator, c.token, tokenAbi, 'mint', [to, 100n * UNIT]);
});
after(() => chain?.stop());

const ag = (functionName: string, args: readonly unknown[] = []) => ({
  address: c.accessGrants,
  abi: accessGrantsAbi,
  functionName,
  args,
});
function tx(
  from: Address,
  address: Address,
  abi: typeof tokenAbi | typeof organizationsAbi | typeof orgTokenAbi,
  fn: string,
  args: readonly unknown[],
) {
  return send(chain, chain.wallet(chain.accounts.indexOf(from)), { address, abi, functionName: fn, args });
}
const agTx = (from: Address, fn: string, args: readonly unknown[] = []) =>
  send(chain, chain.wallet(chain.accounts.indexOf(from)), ag(fn, args));
const balance = (who: Address) =>
  read<bigint>(chain, { address: c.token, abi: tokenAbi, functionName: 'balanceOf', args: [who] });
const getService = (id: bigint) => read<Service>(chain, ag('getService', [id]));
const isValid = (grantId: bigint) => read<boolean>(chain, ag('isValid', [grantId]));
const getGrant = (grantId: bigint) =>
  read<readonly [Address, bigint, bigint, bigint, boolean]>(chain, ag('getGrant', [grantId]));

async function publish(
  from: Address,
  opts: { policy?: number; policyRef?: bigint; price?: bigint; type?: string; duration?: bigint } = {},
): Promise<bigint> {
  const price = opts.price ?? PRICE;
  const receipt = await agTx(from, 'publish', [
    opts.type ?? 'tcp',
    host,
    price,
    price === 0n ? zeroAddress : c.token,
    opts.duration ?? DURATION,
    opts.policy ?? Policy.Public,
    opts.policyRef ?? 0n,
    'ssh on host',
  ]);
  const [event] = eventsOf(receipt, c.accessGrants, accessGrantsAbi, 'ServicePublished');
  return event!.serviceId as bigint;
}

async function requestGrant(from: Address, serviceId: bigint) {
  const receipt = await agTx(from, 'request', [serviceId]);
  const [event] = eventsOf(receipt, c.accessGrants, accessGrantsAbi, 'GrantIssued');
  return { receipt, grantId: event!.grantId as bigint, event: event! };
}

test('publish stores every field, numbers services from 1 and emits ServicePublished', async () => {
  const receipt = await agTx(owner, 'publish', [
    'http',
    host,
    PRICE,
    c.token,
    DURATION,
    Policy.Allowlist,
    0n,
    'intranet wiki',
  ]);
  assert.deepEqual(eventsOf(receipt, c.accessGrants, accessGrantsAbi, 'ServicePublished'), [
    { serviceId: 1n, owner, host, serviceType: 'http' },
  ]);
  assert.deepEqual(await getService(1n), {
    owner,
    host,
    serviceType: 'http',
    name: 'intranet wiki',
    price: PRICE,
    paymentToken: c.token,
    grantDuration: DURATION,
    policy: Policy.Allowlist,
    policyRef: 0n,
    active: true,
    tokenThreshold: 0n,
  });
  assert.equal(await read<bigint>(chain, ag('serviceCount')), 1n);
  // A "network" service has no single host.
  const free = await agTx(owner, 'publish', [
    'network',
    zeroAddress,
    0n,
    zeroAddress,
    60n,
    Policy.Public,
    0n,
    '',
  ]);
  assert.deepEqual(eventsOf(free, c.accessGrants, accessGrantsAbi, 'ServicePublished'), [
    { serviceId: 2n, owner, host: zeroAddress, serviceType: 'network' },
  ]);
  // The Services ABI alone decodes the same contract.
  const viaServicesAbi = await read<Service>(chain, {
    address: c.services,
    abi: servicesAbi,
    functionName: 'getService',
    args: [2n],
  });
  assert.equal(viaServicesAbi.serviceType, 'network');
  await expectRevert(chain, owner, ag('getService', [99n]), 'ServiceNotFound', [99n]);
});

test('publish rejects bad types, names, policies, prices, tokens and durations', async () => {
  const args = (over: Partial<Record<string, unknown>>) => [
    over.type ?? 'tcp',
    host,
    over.price ?? PRICE,
    over.token ?? c.token,
    over.duration ?? DURATION,
    over.policy ?? Policy.Public,
    over.ref ?? 0n,
    over.name ?? 'x',
  ];
  await expectRevert(chain, owner, ag('publish', args({ type: '' })), 'InvalidServiceType', [0n, 32n]);
  await expectRevert(chain, owner, ag('publish', args({ type: 'x'.repeat(33) })), 'InvalidServiceType', [
    33n,
    32n,
  ]);
  await expectRevert(
    chain,
    owner,
    ag('publish', args({ name: 'n'.repeat(Limits.maxServiceNameBytes + 1) })),
    'NameTooLong',
    [129n, 128n],
  );
  await expectRevert(chain, owner, ag('publish', args({ policy: 5 })), 'InvalidPolicy', [5]);
  await expectRevert(chain, owner, ag('publish', args({ token: zeroAddress })), 'PaymentTokenRequired', [
    PRICE,
  ]);
  await expectRevert(chain, owner, ag('publish', args({ token: stranger })), 'PaymentTokenRequired', [PRICE]);
  await expectRevert(chain, owner, ag('publish', args({ price: Limits.maxPrice + 1n })), 'PriceTooHigh', [
    Limits.maxPrice + 1n,
    Limits.maxPrice,
  ]);
  await expectRevert(chain, owner, ag('publish', args({ duration: 0n })), 'InvalidGrantDuration', [
    0n,
    Limits.maxGrantDuration,
  ]);
  await expectRevert(
    chain,
    owner,
    ag('publish', args({ duration: Limits.maxGrantDuration + 1n })),
    'InvalidGrantDuration',
    [Limits.maxGrantDuration + 1n, Limits.maxGrantDuration],
  );
  await expectRevert(
    chain,
    owner,
    ag('publish', args({ policy: Policy.OrgMembers, ref: 77n })),
    'InvalidPolicyRef',
    [Policy.OrgMembers, 77n],
  );
  await expectRevert(
    chain,
    owner,
    ag('publish', args({ policy: Policy.TokenHolders, ref: BigInt(stranger) })),
    'InvalidPolicyRef',
    [Policy.TokenHolders, BigInt(stranger)],
  );
});

test('only the owner may update, setHost, retire or change the allowlist', async () => {
  const id = await publish(owner);
  await expectRevert(
    chain,
    stranger,
    ag('update', [id, 1n, c.token, 60n, Policy.Public, 0n]),
    'NotServiceOwner',
    [id, stranger],
  );
  await expectRevert(chain, stranger, ag('setHost', [id, stranger]), 'NotServiceOwner', [id, stranger]);
  await expectRevert(chain, stranger, ag('retire', [id]), 'NotServiceOwner', [id, stranger]);
  await expectRevert(chain, stranger, ag('setAllowlist', [id, [stranger], true]), 'NotServiceOwner', [
    id,
    stranger,
  ]);
  await expectRevert(
    chain,
    owner,
    ag('update', [999n, 1n, c.token, 60n, Policy.Public, 0n]),
    'ServiceNotFound',
    [999n],
  );
  assert.equal((await getService(id)).host, host);
});

test('update and setHost change the service and emit ServiceUpdated', async () => {
  const id = await publish(owner);
  const receipt = await agTx(owner, 'update', [id, 5n, c.token, 120n, Policy.TokenHolders, BigInt(c.token)]);
  assert.deepEqual(eventsOf(receipt, c.accessGrants, accessGrantsAbi, 'ServiceUpdated'), [{ serviceId: id }]);
  const s = await getService(id);
  assert.deepEqual(
    [s.price, s.paymentToken, s.grantDuration, s.policy, s.policyRef, s.active],
    [5n, c.token, 120n, Policy.TokenHolders, BigInt(c.token), true],
  );
  const moved = await agTx(owner, 'setHost', [id, otherOwner]);
  assert.deepEqual(eventsOf(moved, c.accessGrants, accessGrantsAbi, 'ServiceUpdated'), [{ serviceId: id }]);
  assert.equal((await getService(id)).host, otherOwner);
  await expectRevert(
    chain,
    owner,
    ag('update', [id, 1n, zeroAddress, 60n, Policy.Public, 0n]),
    'PaymentTokenRequired',
    [1n],
  );
});

test('the allowlist admits listed accounts only and emits AllowlistChanged', async () => {
  const id = await publish(owner, { policy: Policy.Allowlist, price: 0n });
  await expectRevert(chain, client, ag('request', [id]), 'NotAllowed', [id, client]);
  const receipt = await agTx(owner, 'setAllowlist', [id, [client, otherOwner], true]);
  assert.deepEqual(eventsOf(receipt, c.accessGrants, accessGrantsAbi, 'AllowlistChanged'), [
    { serviceId: id, account: client, allowed: true },
    { serviceId: id, account: otherOwner, allowed: true },
  ]);
  assert.equal(await read<boolean>(chain, ag('isAllowed', [id, client])), true);
  assert.equal(await read<boolean>(chain, ag('meetsPolicy', [id, client])), true);
  assert.equal(await read<boolean>(chain, ag('isAllowed', [id, stranger])), false);
  await expectRevert(chain, stranger, ag('request', [id]), 'NotAllowed', [id, stranger]);
  const { grantId } = await requestGrant(client, id);
  assert.equal(await isValid(grantId), true);

  await agTx(owner, 'setAllowlist', [id, [client], false]);
  assert.equal(await read<boolean>(chain, ag('isAllowed', [id, client])), false);
  assert.equal(
    await isValid(grantId),
    false,
    'a grant stops being valid once its holder leaves the allowlist',
  );
  await agTx(owner, 'setAllowlist', [id, [client], true]);
  assert.equal(await isValid(grantId), true, 'and is valid again when put back before it expires');
  await agTx(owner, 'setAllowlist', [id, [client], false]);
  await expectRevert(chain, client, ag('request', [id]), 'NotAllowed', [id, client]);
  const tooMany = Array.from({ length: Limits.maxAllowlistBatch + 1 }, () => client);
  await expectRevert(chain, owner, ag('setAllowlist', [id, tooMany, true]), 'AllowlistBatchTooLarge', [
    257n,
    256n,
  ]);
});

test('request takes the price exactly once, to the service owner, and records expiry = timestamp + duration', async () => {
  const id = await publish(otherOwner, { price: PRICE });
  await tx(client, c.token, tokenAbi, 'approve', [c.accessGrants, 10n * PRICE]);
  const [clientBefore, ownerBefore, contractBefore] = await Promise.all([
    balance(client),
    balance(otherOwner),
    balance(c.accessGrants),
  ]);
  const { receipt, grantId, event } = await requestGrant(client, id);
  const block = await chain.publicClient.getBlock({ blockNumber: receipt.blockNumber });

  assert.equal(await balance(client), clientBefore - PRICE);
  assert.equal(await balance(otherOwner), ownerBefore + PRICE);
  assert.equal(await balance(c.accessGrants), contractBefore);
  const transfers = eventsOf(receipt, c.token, tokenAbi, 'Transfer');
  assert.deepEqual(transfers, [{ from: client, to: otherOwner, value: PRICE }]);

  assert.equal(grantId, grantIdOf(id, 1n));
  assert.equal(serviceIdOfGrant(grantId), id);
  assert.deepEqual(event, {
    grantId,
    serviceId: id,
    grantee: client,
    issuedAt: block.timestamp,
    expiresAt: block.timestamp + DURATION,
  });
  assert.deepEqual(await getGrant(grantId), [client, id, block.timestamp, block.timestamp + DURATION, false]);
  assert.equal(await isValid(grantId), true);
  assert.equal(await read<bigint>(chain, ag('grantsIssued', [id])), 1n);

  // Reading and validating charge nothing; only a further request charges again, once.
  assert.equal(await balance(client), clientBefore - PRICE);
  const second = await requestGrant(client, id);
  assert.equal(second.grantId, grantIdOf(id, 2n));
  assert.equal(await balance(client), clientBefore - 2n * PRICE);
  assert.equal(await balance(otherOwner), ownerBefore + 2n * PRICE);
  assert.equal(await read<bigint>(chain, ag('serviceOfGrant', [second.grantId])), id);
});

test('without enough allowance the request fails and no grant is recorded', async () => {
  const id = await publish(otherOwner, { price: PRICE });
  await tx(stranger, c.token, tokenAbi, 'approve', [c.accessGrants, PRICE - 1n]);
  const withTokenErrors = { ...ag('request', [id]), abi: [...accessGrantsAbi, ...tokenAbi] };
  await expectRevert(chain, stranger, withTokenErrors, 'ERC20InsufficientAllowance', [
    c.accessGrants,
    PRICE - 1n,
    PRICE,
  ]);
  // Sent for real, with a fixed gas limit so the node mines it: reverted, nothing recorded, nothing paid.
  const before = await balance(stranger);
  const wallet = chain.wallet(chain.accounts.indexOf(stranger));
  const hash = await wallet.writeContract({
    address: c.accessGrants,
    abi: accessGrantsAbi,
    functionName: 'request',
    args: [id],
    account: stranger,
    chain: null,
    gas: 300_000n,
  });
  const receipt = await chain.publicClient.waitForTransactionReceipt({
    hash,
    pollingInterval: 50,
    timeout: 30_000,
  });
  assert.equal(receipt.status, 'reverted');
  assert.equal(await read<bigint>(chain, ag('grantsIssued', [id])), 0n);
  assert.equal(await balance(stranger), before);
  await expectRevert(chain, stranger, ag('getGrant', [grantIdOf(id, 1n)]), 'GrantNotFound', [
    grantIdOf(id, 1n),
  ]);
});

test('a free public service issues grants without touching any token', async () => {
  const id = await agTx(owner, 'publish', ['vpn', host, 0n, zeroAddress, 60n, Policy.Public, 0n, 'vpn']).then(
    (r) => eventsOf(r, c.accessGrants, accessGrantsAbi, 'ServicePublished')[0]!.serviceId as bigint,
  );
  const before = await balance(stranger);
  const { receipt, grantId } = await requestGrant(stranger, id);
  assert.equal(receipt.logs.filter((l) => l.address.toLowerCase() === c.token.toLowerCase()).length, 0);
  assert.equal(await balance(stranger), before);
  assert.equal(await isValid(grantId), true);
  await expectRevert(chain, stranger, ag('request', [12345n]), 'ServiceNotFound', [12345n]);
});

test('a grant expires: isValid turns false once timestamp reaches expiresAt', async () => {
  const id = await publish(owner, { price: 0n, duration: 500n });
  const { grantId } = await requestGrant(client, id);
  const [, , , expiresAt] = await getGrant(grantId);
  await chain.testClient.increaseTime({ seconds: 400 });
  await chain.testClient.mine({ blocks: 1 });
  assert.equal(await isValid(grantId), true);
  await chain.testClient.increaseTime({ seconds: 100 });
  await chain.testClient.mine({ blocks: 1 });
  const now = (await chain.publicClient.getBlock()).timestamp;
  assert.ok(now >= expiresAt);
  assert.equal(await isValid(grantId), false);
  assert.equal(await isValid(grantIdOf(id, 99n)), false);
});

test('revoke: owner or grantee only, emits GrantRevoked, takes effect, cannot repeat', async () => {
  const id = await publish(owner, { price: 0n });
  const a = await requestGrant(client, id);
  const b = await requestGrant(client, id);
  await expectRevert(chain, stranger, ag('revoke', [a.grantId]), 'NotGrantParty', [a.grantId, stranger]);
  await expectRevert(chain, owner, ag('revoke', [grantIdOf(id, 50n)]), 'GrantNotFound', [grantIdOf(id, 50n)]);

  const byOwner = await agTx(owner, 'revoke', [a.grantId]);
  assert.deepEqual(eventsOf(byOwner, c.accessGrants, accessGrantsAbi, 'GrantRevoked'), [
    { grantId: a.grantId, serviceId: id },
  ]);
  assert.equal(await isValid(a.grantId), false);
  assert.equal((await getGrant(a.grantId))[4], true);
  assert.equal(await isValid(b.grantId), true);
  await expectRevert(chain, owner, ag('revoke', [a.grantId]), 'GrantAlreadyRevoked', [a.grantId]);

  const byGrantee = await agTx(client, 'revoke', [b.grantId]);
  assert.deepEqual(eventsOf(byGrantee, c.accessGrants, accessGrantsAbi, 'GrantRevoked'), [
    { grantId: b.grantId, serviceId: id },
  ]);
  assert.equal(await isValid(b.grantId), false);
  const [grantee, serviceId, issuedAt, expiresAt, revoked] = await getGrant(b.grantId);
  assert.deepEqual([grantee, serviceId, revoked], [client, id, true]);
  assert.equal(expiresAt - issuedAt, DURATION);
});

test('retire ends the service: existing grants invalid, requests and changes refused, ServiceRetired emitted', async () => {
  const id = await publish(owner, { price: 0n });
  const { grantId } = await requestGrant(client, id);
  assert.equal(await isValid(grantId), true);
  const receipt = await agTx(owner, 'retire', [id]);
  assert.deepEqual(eventsOf(receipt, c.accessGrants, accessGrantsAbi, 'ServiceRetired'), [{ serviceId: id }]);
  assert.equal((await getService(id)).active, false);
  assert.equal(await isValid(grantId), false);
  await expectRevert(chain, client, ag('request', [id]), 'ServiceInactive', [id]);
  await expectRevert(chain, owner, ag('retire', [id]), 'ServiceInactive', [id]);
  await expectRevert(chain, owner, ag('setHost', [id, host]), 'ServiceInactive', [id]);
  await expectRevert(
    chain,
    owner,
    ag('update', [id, 0n, zeroAddress, 60n, Policy.Public, 0n]),
    'ServiceInactive',
    [id],
  );
});

test('org-members policy admits members of that organization only; an org-A member is refused by an org-B service', async () => {
  const orgTx = (from: Address, fn: string, args: readonly unknown[]) =>
    tx(from, c.organizations, organizationsAbi, fn, args);
  const created = async (name: string) => {
    const r = await orgTx(owner, 'createOrganization', [name, `${name}-net`, c.token]);
    return eventsOf(r, c.organizations, organizationsAbi, 'OrganizationCreated')[0]!.orgId as bigint;
  };
  const orgA = await created('alpha');
  const orgB = await created('beta');
  await orgTx(owner, 'addMember', [orgA, client]);
  await orgTx(owner, 'addMember', [orgB, stranger]);
  const serviceB = await publish(owner, { policy: Policy.OrgMembers, policyRef: orgB, price: 0n });

  await expectRevert(chain, client, ag('request', [serviceB]), 'NotAllowed', [serviceB, client]);
  assert.equal(await read<boolean>(chain, ag('meetsPolicy', [serviceB, client])), false);
  const { grantId } = await requestGrant(stranger, serviceB);
  assert.equal(await isValid(grantId), true);

  await orgTx(owner, 'removeMember', [orgB, stranger]);
  await expectRevert(chain, stranger, ag('request', [serviceB]), 'NotAllowed', [serviceB, stranger]);
  assert.equal(await isValid(grantId), false, 'a removed member holds no valid grant');
});

test('token-holder policy admits holders of the referenced token only', async () => {
  const id = await publish(owner, { policy: Policy.TokenHolders, policyRef: BigInt(c.token), price: 0n });
  assert.ok((await balance(client)) > 0n);
  assert.equal(await balance(host), 0n);
  await requestGrant(client, id);
  await expectRevert(chain, host, ag('request', [id]), 'NotAllowed', [id, host]);
  await tx(client, c.token, tokenAbi, 'transfer', [host, 1n]);
  const { grantId } = await requestGrant(host, id);
  assert.equal(await isValid(grantId), true);
  // The holder sells its last token: the grant stops being valid.
  await tx(host, c.token, tokenAbi, 'transfer', [client, 1n]);
  assert.equal(await balance(host), 0n);
  assert.equal(await isValid(grantId), false);
});

test('token threshold: set at publish or by the owner (TokenThresholdChanged), holders below it refused and their grants invalid', async () => {
  const receipt = await agTx(owner, 'publish', [
    'tcp',
    host,
    0n,
    zeroAddress,
    DURATION,
    Policy.TokenHolders,
    BigInt(c.token),
    'gated',
    5n * UNIT,
  ]);
  const [published] = eventsOf(receipt, c.accessGrants, accessGrantsAbi, 'ServicePublished');
  const id = published!.serviceId as bigint;
  const [set] = eventsOf(receipt, c.accessGrants, accessGrantsAbi, 'TokenThresholdChanged');
  assert.deepEqual([set!.serviceId, set!.threshold], [id, 5n * UNIT]);
  assert.equal((await getService(id)).tokenThreshold, 5n * UNIT);
  // host holds 4 tokens: below the threshold.
  await tx(client, c.token, tokenAbi, 'transfer', [host, 4n * UNIT]);
  await expectRevert(chain, host, ag('request', [id]), 'NotAllowed', [id, host]);
  assert.equal(await read<boolean>(chain, ag('meetsPolicy', [id, host])), false);
  const { grantId } = await requestGrant(client, id);
  assert.equal(await isValid(grantId), true);
  // Only the owner may change it.
  await expectRevert(chain, stranger, ag('setTokenThreshold', [id, 1n]), 'NotServiceOwner', [id, stranger]);
  // Raised above the client's balance: its grant stops being valid at once.
  const raise = await agTx(owner, 'setTokenThreshold', [id, (await balance(client)) + 1n]);
  assert.equal(eventsOf(raise, c.accessGrants, accessGrantsAbi, 'TokenThresholdChanged').length, 1);
  assert.equal(await isValid(grantId), false);
  // Lowered to 4 tokens: host now qualifies; 0 means one base unit.
  await agTx(owner, 'setTokenThreshold', [id, 4n * UNIT]);
  assert.equal(await isValid(grantId), true);
  await requestGrant(host, id);
  await agTx(owner, 'setTokenThreshold', [id, 0n]);
  assert.equal(await read<boolean>(chain, ag('meetsPolicy', [id, host])), true);
  assert.equal(await read<boolean>(chain, ag('meetsPolicy', [id, `0x${'de'.repeat(20)}`])), false);
  await tx(host, c.token, tokenAbi, 'transfer', [client, 4n * UNIT]);
});

test('a stricter policy set by update applies to grants already issued', async () => {
  const id = await publish(owner, { price: 0n });
  const { grantId } = await requestGrant(stranger, id);
  assert.equal(await isValid(grantId), true);
  await agTx(owner, 'update', [id, 0n, zeroAddress, DURATION, Policy.Allowlist, 0n]);
  assert.equal(await isValid(grantId), false);
  await agTx(owner, 'setAllowlist', [id, [stranger], true]);
  assert.equal(await isValid(grantId), true);
});

test('org-network policy admits the organization’s members and member nodes only, paid in its OrgToken', async () => {
  const orgTx = (from: Address, fn: string, args: readonly unknown[]) =>
    tx(from, c.organizations, organizationsAbi, fn, args);
  const r = await orgTx(owner, 'createOrganization', ['gamma', 'gamma-net', zeroAddress]);
  const created = eventsOf(r, c.organizations, organizationsAbi, 'OrganizationCreated')[0]!;
  const orgId = created.orgId as bigint;
  const orgToken = created.token as Address;
  await orgTx(owner, 'addMember', [orgId, client]);
  await orgTx(owner, 'addNode', [orgId, host]);
  const receipt = await agTx(owner, 'publish', [
    'network',
    zeroAddress,
    3n,
    orgToken,
    DURATION,
    Policy.OrgNetwork,
    orgId,
    'org:gamma',
  ]);
  const serviceId = eventsOf(receipt, c.accessGrants, accessGrantsAbi, 'ServicePublished')[0]!
    .serviceId as bigint;
  await expectRevert(chain, stranger, ag('request', [serviceId]), 'NotAllowed', [serviceId, stranger]);
  assert.equal(await read<boolean>(chain, ag('meetsPolicy', [serviceId, host])), true);
  assert.equal(await read<boolean>(chain, ag('meetsPolicy', [serviceId, client])), true);

  const tok = (who: Address) =>
    read<bigint>(chain, { address: orgToken, abi: orgTokenAbi, functionName: 'balanceOf', args: [who] });
  await tx(owner, orgToken, orgTokenAbi, 'mint', [client, 10n]);
  await tx(owner, orgToken, orgTokenAbi, 'mint', [host, 3n]);
  for (const who of [client, host]) {
    await tx(who, orgToken, orgTokenAbi, 'approve', [c.accessGrants, 3n]);
    const { grantId } = await requestGrant(who, serviceId);
    assert.equal(await isValid(grantId), true);
  }
  assert.equal(await tok(client), 7n);
  assert.equal(await tok(host), 0n);
  assert.equal(await tok(owner), 6n);
  await expectRevert(
    chain,
    owner,
    ag('publish', ['network', zeroAddress, 0n, zeroAddress, DURATION, Policy.OrgNetwork, 999n, 'x']),
    'InvalidPolicyRef',
    [Policy.OrgNetwork, 999n],
  );
});
