import type { OrganizationView } from '@dibs/chain';
import { OrgOperations, parseAddress, parseAmount, parseOrgId } from '@dibs/orgs';
import { Command } from 'commander';
import type { Address } from 'viem';
import {
  type CommandContext,
  commandContext,
  connectChain,
  readIdentityFile,
  unlockWallet,
} from '../context.ts';
import { table } from '../output.ts';
import { addOrgNetworkCommands } from './org-network.ts';

/** Runs `fn` with the organization operations of this identity (wallet unlocked when `sign`), then closes. */
async function withOrgs<T>(
  ctx: CommandContext,
  sign: boolean,
  fn: (orgs: OrgOperations, self: Address) => Promise<T>,
): Promise<T> {
  const wallet = sign ? await unlockWallet(ctx) : undefined;
  const chain = await connectChain(ctx, wallet);
  try {
    const self = (wallet?.address ?? readIdentityFile(ctx).address) as Address;
    return await fn(new OrgOperations({ clients: chain.clients, deployment: chain.deployment, self }), self);
  } finally {
    chain.close();
  }
}

function describeOrg(o: OrganizationView): Array<[string, unknown]> {
  return [
    ['organization', `${o.id} ${o.name}`],
    ['network label', o.networkLabel],
    ['admin', o.admin],
    ['token', o.token],
    ['network service', o.networkServiceId === 0n ? 'none' : o.networkServiceId],
  ];
}

/** One admin write on an organization member or node: `add-member`, `remove-node`, … */
function membershipCommand(
  name: string,
  description: string,
  what: string,
  run: (orgs: OrgOperations, orgId: bigint, address: Address) => Promise<unknown>,
  done: string,
): Command {
  return new Command(name)
    .description(description)
    .argument('<org>', 'organization id')
    .argument('<address>', `${what} wallet address`)
    .action(async (orgText: string, addressText: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const orgId = parseOrgId(orgText);
      const address = parseAddress(addressText, what);
      await withOrgs(ctx, true, async (orgs) => {
        await orgs.require(orgId);
        ctx.out.progress(`${name} ${address} in organization ${orgId}…`);
        await run(orgs, orgId, address);
        ctx.out.result(
          { orgId, [what]: address, done: name },
          () => `${address} ${done} organization ${orgId}`,
        );
      });
    });
}

/** `dibs org create|list|show|add-member|remove-member|add-node|remove-node|token|env|join|leave`. */
export function orgCommands(): Command {
  const org = new Command('org').description(
    'organizations: their members, nodes, token, network service and fleet configuration',
  );
  org
    .command('create')
    .description(
      'create an organization you administer, with its own network service (members and nodes only)',
    )
    .argument('<name>', 'organization name (1-64 bytes)')
    .option('--token <new|address>', 'its token: a fresh OrgToken (new) or an existing ERC-20', 'new')
    .option('--label <label>', 'network label (default: from the name)')
    .option('--price <amount>', 'price of its network service in its token, base units', '0')
    .action(async (name: string, opts: { token: string; label?: string; price: string }, cmd: Command) => {
      const ctx = commandContext(cmd);
      const token = opts.token === 'new' ? undefined : parseAddress(opts.token, 'token');
      const price = parseAmount(opts.price);
      await withOrgs(ctx, true, async (orgs) => {
        ctx.out.progress(`creating organization ${name} and its network service (3 transactions)…`);
        const created = await orgs.create({
          name,
          ...(opts.label !== undefined ? { networkLabel: opts.label } : {}),
          ...(token ? { token } : {}),
          networkPrice: price,
        });
        ctx.out.result(created, () => `organization created\n${table(describeOrg(created))}`);
      });
    });
  org
    .command('list')
    .description('organizations on chain, with your role in each')
    .option('--mine', 'only the ones you administer, are a member of or are a node of')
    .action(async (opts: { mine?: boolean }, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withOrgs(ctx, false, async (orgs) => {
        const list = opts.mine ? await orgs.mine() : await orgs.list();
        ctx.out.result({ organizations: list }, () =>
          list.length === 0
            ? 'no organizations yet — create one with: dibs org create <name>'
            : table(
                list.map((o) => [`${o.id}`, `${o.name} · ${o.networkLabel}${o.role ? ` · ${o.role}` : ''}`]),
              ),
        );
      });
    });
  org
    .command('show')
    .description('one organization: admin, token, network service, members and nodes')
    .argument('<org>', 'organization id')
    .action(async (orgText: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const orgId = parseOrgId(orgText);
      await withOrgs(ctx, false, async (orgs) => {
        const d = await orgs.show(orgId);
        ctx.out.result(d, () =>
          table([
            ...describeOrg(d),
            ['members', d.members.join(', ') || 'none'],
            ['nodes', d.nodes.join(', ') || 'none'],
            ['fleet keys', Object.keys(d.env).join(', ') || 'none'],
          ]),
        );
      });
    });
  org.addCommand(
    membershipCommand(
      'add-member',
      'admit a member (admin only)',
      'member',
      (o, id, a) => o.addMember(id, a),
      'joined',
    ),
  );
  org.addCommand(
    membershipCommand(
      'remove-member',
      'remove a member (admin only)',
      'member',
      (o, id, a) => o.removeMember(id, a),
      'left',
    ),
  );
  org.addCommand(
    membershipCommand(
      'add-node',
      'add a node, by its wallet address, to the organization’s network (admin only)',
      'node',
      (o, id, a) => o.addNode(id, a),
      'joined',
    ),
  );
  org.addCommand(
    membershipCommand(
      'remove-node',
      'remove a node from the organization’s network (admin only)',
      'node',
      (o, id, a) => o.removeNode(id, a),
      'left',
    ),
  );
  org.addCommand(tokenCommands());
  org.addCommand(envCommands());
  addOrgNetworkCommands(org);
  return org;
}

function tokenCommands(): Command {
  const token = new Command('token').description('the organization’s token: mint, transfer, balance');
  token
    .command('mint')
    .description('mint the organization’s OrgToken to an address (admin only)')
    .argument('<org>', 'organization id')
    .argument('<to>', 'recipient address')
    .argument('<amount>', 'base units')
    .action(async (orgText: string, toText: string, amountText: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const orgId = parseOrgId(orgText);
      const to = parseAddress(toText, 'recipient');
      const amount = parseAmount(amountText);
      await withOrgs(ctx, true, async (orgs) => {
        ctx.out.progress(`minting ${amount} to ${to}…`);
        const balance = await orgs.mint(orgId, to, amount);
        ctx.out.result(
          { orgId, to, amount, balance },
          () => `minted ${amount} to ${to} (balance ${balance})`,
        );
      });
    });
  token
    .command('transfer')
    .description('move some of your organization tokens to an address')
    .argument('<org>', 'organization id')
    .argument('<to>', 'recipient address')
    .argument('<amount>', 'base units')
    .action(async (orgText: string, toText: string, amountText: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const orgId = parseOrgId(orgText);
      const to = parseAddress(toText, 'recipient');
      const amount = parseAmount(amountText);
      await withOrgs(ctx, true, async (orgs) => {
        ctx.out.progress(`transferring ${amount} to ${to}…`);
        const balance = await orgs.transfer(orgId, to, amount);
        ctx.out.result({ orgId, to, amount, balance }, () => `sent ${amount} to ${to} (you hold ${balance})`);
      });
    });
  token
    .command('balance')
    .description('a balance in the organization’s token (default: yours)')
    .argument('<org>', 'organization id')
    .argument('[address]', 'whose balance')
    .action(async (orgText: string, addressText: string | undefined, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const orgId = parseOrgId(orgText);
      await withOrgs(ctx, false, async (orgs, self) => {
        const account = addressText === undefined ? self : parseAddress(addressText, 'account');
        const org = await orgs.require(orgId);
        const balance = await orgs.balance(orgId, account);
        ctx.out.result({ orgId, token: org.token, account, balance }, () => `${account}: ${balance}`);
      });
    });
  return token;
}

function envCommands(): Command {
  const env = new Command('env').description(
    'the organization’s fleet configuration: a key/value map on chain its nodes read',
  );
  env
    .command('set')
    .description('set a key (admin only); an empty value removes it')
    .argument('<org>', 'organization id')
    .argument('<key>', 'key, 1-64 bytes')
    .argument('<value>', 'value, up to 1024 bytes ("" removes the key)')
    .action(async (orgText: string, key: string, value: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const orgId = parseOrgId(orgText);
      await withOrgs(ctx, true, async (orgs) => {
        ctx.out.progress(`setting ${key} in organization ${orgId}…`);
        await orgs.setEnv(orgId, key, value);
        ctx.out.result({ orgId, key, value }, () => (value === '' ? `${key} removed` : `${key} = ${value}`));
      });
    });
  env
    .command('get')
    .description('one key’s value')
    .argument('<org>', 'organization id')
    .argument('<key>', 'key')
    .action(async (orgText: string, key: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const orgId = parseOrgId(orgText);
      await withOrgs(ctx, false, async (orgs) => {
        const value = await orgs.getEnv(orgId, key);
        ctx.out.result({ orgId, key, value }, () => value);
      });
    });
  env
    .command('list')
    .description('every key and value')
    .argument('<org>', 'organization id')
    .action(async (orgText: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const orgId = parseOrgId(orgText);
      await withOrgs(ctx, false, async (orgs) => {
        const env = await orgs.env(orgId);
        ctx.out.result({ orgId, env }, () =>
          Object.keys(env).length === 0 ? 'no keys set' : table(Object.entries(env)),
        );
      });
    });
  return env;
}
