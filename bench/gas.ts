/**
 * Gas benchmark of the DIBS contracts on a fresh anvil, against a plain reference grant contract
 * compiled the same way. Prints a table, then one JSON line (the last line of output).
 * Run: npm run bench:gas   (after npm run build)
 */
import type { Abi, Address, Hex } from 'viem';
import {
  accessGrantsAbi,
  deployContracts,
  organizationsAbi,
  Policy,
  referenceGrantAbi,
  referenceGrantBytecode,
  Role,
  registryAbi,
  tokenAbi,
} from '../packages/contracts/src/index.ts';
import { type Anvil, send, startAnvil } from '../packages/contracts/test/anvil-fixture.ts';

const STEADY_GOAL = 80_000;
const UNIT = 10n ** 18n;
const PRICE = 1n * UNIT;
const DURATION = 3600n;

async function main(): Promise<void> {
  const chain: Anvil = await startAnvil();
  try {
    await run(chain);
  } finally {
    await chain.stop();
  }
}

async function run(chain: Anvil): Promise<void> {
  const [operator, serviceOwner, client, refOwner, refClient, node, member] = chain.accounts as [
    Address,
    Address,
    Address,
    Address,
    Address,
    Address,
    Address,
  ];
  const w = (a: Address) => chain.wallet(chain.accounts.indexOf(a));
  const figures: Record<string, number> = {};
  const rows: [string, number, string][] = [];
  const record = (key: string, label: string, gas: bigint, note = ''): number => {
    figures[key] = Number(gas);
    rows.push([label, Number(gas), note]);
    return Number(gas);
  };
  const tx = async (
    from: Address,
    address: Address,
    abi: Abi,
    functionName: string,
    args: readonly unknown[],
  ) => (await send(chain, w(from), { address, abi, functionName, args })).gasUsed;

  const c = await deployContracts({ walletClient: chain.localWallet(0), publicClient: chain.publicClient });
  const token = c.token;
  for (const to of [client, refClient, member])
    await tx(operator, token, tokenAbi, 'mint', [to, 1000n * UNIT]);

  // Registry
  const key = `0x${'11'.repeat(32)}` as Hex;
  record(
    'registerIdentity',
    'Registry.registerIdentity',
    await tx(node, c.registry, registryAbi, 'registerIdentity', [key]),
  );
  record(
    'updateEncryptionKey',
    'Registry.updateEncryptionKey',
    await tx(node, c.registry, registryAbi, 'updateEncryptionKey', [`0x${'22'.repeat(32)}`]),
  );
  const peerId = `0x0025${'08021221'}${'02'}${'ab'.repeat(32)}` as Hex; // 39-byte secp256k1 identity PeerId shape
  const addrs = ['/ip4/203.0.113.7/tcp/4001', '/ip4/203.0.113.7/tcp/4002/ws'];
  record(
    'registerNode',
    'Registry.registerNode',
    await tx(node, c.registry, registryAbi, 'registerNode', [peerId, Role.Relay | Role.ServiceHost, addrs]),
    '39-byte PeerId, 2 multiaddrs',
  );

  // Organizations
  record(
    'createOrganization',
    'Organizations.createOrganization',
    await tx(serviceOwner, c.organizations, organizationsAbi, 'createOrganization', [
      'Acme',
      'acme-net',
      token,
    ]),
    'existing token',
  );
  record(
    'createOrganizationWithOrgToken',
    'Organizations.createOrganization',
    await tx(serviceOwner, c.organizations, organizationsAbi, 'createOrganization', [
      'Acme Two',
      'acme2-net',
      '0x0000000000000000000000000000000000000000',
    ]),
    'deploys an OrgToken',
  );
  record(
    'addMember',
    'Organizations.addMember',
    await tx(serviceOwner, c.organizations, organizationsAbi, 'addMember', [1n, member]),
  );

  // Services
  const publish = (policy: number, price: bigint, ref: bigint) =>
    tx(serviceOwner, c.accessGrants, accessGrantsAbi, 'publish', [
      'tcp',
      node,
      price,
      price === 0n ? '0x0000000000000000000000000000000000000000' : token,
      DURATION,
      policy,
      ref,
      'ssh on node-1',
    ]);
  record('publish', 'Services.publish', await publish(Policy.Allowlist, PRICE, 0n), 'allowlist, paid');
  const allowlisted = 1n;
  record(
    'setAllowlist',
    'Services.setAllowlist',
    await tx(serviceOwner, c.accessGrants, accessGrantsAbi, 'setAllowlist', [allowlisted, [client], true]),
    '1 account',
  );
  await publish(Policy.Public, 0n, 0n);
  const publicFree = 2n;
  await publish(Policy.OrgMembers, PRICE, 1n);
  const orgPaid = 3n;

  // AccessGrants: allowlist + payment, the comparable case
  await tx(client, token, tokenAbi, 'approve', [c.accessGrants, 10n * PRICE]);
  const request = (from: Address, id: bigint) => tx(from, c.accessGrants, accessGrantsAbi, 'request', [id]);
  const first = record(
    'request_first',
    'AccessGrants.request (first)',
    await request(client, allowlisted),
    'allowlist + 1 DIBS',
  );
  const steady = record(
    'request_steady',
    'AccessGrants.request (steady)',
    await request(client, allowlisted),
    'repeat client, warm balances/allowance',
  );
  record('request_steady_again', 'AccessGrants.request (3rd)', await request(client, allowlisted));
  record(
    'request_public_free',
    'AccessGrants.request',
    await request(client, publicFree),
    'public, free, repeat',
  );
  record(
    'request_public_free_again',
    'AccessGrants.request',
    await request(client, publicFree),
    'public, free, 2nd',
  );
  await tx(member, token, tokenAbi, 'approve', [c.accessGrants, 10n * PRICE]);
  await request(member, orgPaid);
  record(
    'request_org_steady',
    'AccessGrants.request',
    await request(member, orgPaid),
    'org members + 1 DIBS, repeat',
  );
  const grantId = (allowlisted << 64n) | 1n;
  record(
    'revoke',
    'AccessGrants.revoke',
    await tx(serviceOwner, c.accessGrants, accessGrantsAbi, 'revoke', [grantId]),
    'by owner',
  );
  record(
    'retire',
    'Services.retire',
    await tx(serviceOwner, c.accessGrants, accessGrantsAbi, 'retire', [publicFree]),
  );

  // Reference grant contract, same token, same scenario (fresh owner, allowlisted client).
  const hash = await w(refOwner).deployContract({
    abi: referenceGrantAbi,
    bytecode: referenceGrantBytecode,
    args: [token, PRICE, DURATION],
    account: refOwner,
    chain: null,
  });
  const receipt = await chain.publicClient.waitForTransactionReceipt({
    hash,
    pollingInterval: 50,
    timeout: 30_000,
  });
  const ref = receipt.contractAddress!;
  await tx(refOwner, ref, referenceGrantAbi, 'allow', [1n, refClient]);
  await tx(refClient, token, tokenAbi, 'approve', [ref, 10n * PRICE]);
  const refFirst = record(
    'reference_request_first',
    'ReferenceGrant.request (first)',
    await tx(refClient, ref, referenceGrantAbi, 'request', [1n]),
    'allowlist + 1 DIBS',
  );
  const refSteady = record(
    'reference_request_steady',
    'ReferenceGrant.request (steady)',
    await tx(refClient, ref, referenceGrantAbi, 'request', [1n]),
    'repeat client',
  );
  figures.ratio_request_first = Math.round((first / refFirst) * 1000) / 1000;
  figures.ratio_request_steady = Math.round((steady / refSteady) * 1000) / 1000;

  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`${'operation'.padEnd(width)}  ${'gas'.padStart(9)}  note`);
  console.log(`${'-'.repeat(width)}  ${'-'.repeat(9)}  ${'-'.repeat(40)}`);
  for (const [label, gas, note] of rows)
    console.log(`${label.padEnd(width)}  ${String(gas).padStart(9)}  ${note}`);
  console.log('');
  console.log(
    `request ours/reference: first ${figures.ratio_request_first}, steady ${figures.ratio_request_steady}`,
  );
  console.log(
    `steady request goal <= ${STEADY_GOAL}: ${steady <= STEADY_GOAL ? 'met' : 'NOT met'} (${steady})`,
  );
  console.log(
    JSON.stringify({
      bench: 'gas',
      figures,
      goals: { request_steady_gas: { value: steady, goal: STEADY_GOAL, met: steady <= STEADY_GOAL } },
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
