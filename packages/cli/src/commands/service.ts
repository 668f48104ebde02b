import {
  changeAllowlist,
  listServices,
  type PolicyChange,
  type PublishInput,
  readServicePolicy,
  type ServicePolicy,
  type ServicePolicyView,
  updateServicePolicy,
  publishService,
  resolveService,
  retireService,
  ServiceCatalog,
  type ServiceDirectory,
  type ServiceView,
} from '@dibs/node';
import { Command } from 'commander';
import type { Address } from 'viem';
import {
  type CommandContext,
  commandContext,
  connectChain,
  readIdentityFile,
  unlockWallet,
} from '../context.ts';
import { CliError } from '../errors.ts';
import { table } from '../output.ts';

/** Longest comma-separated list option accepted. */
const MAX_LIST_OPTION_CHARS = 64 * 1024;

function splitList(text: string | undefined, what: string): string[] | undefined {
  if (text === undefined) return undefined;
  if (text.length > MAX_LIST_OPTION_CHARS) {
    throw new CliError('BAD_ARGUMENT', `${what} is too long`, 'pass fewer entries');
  }
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function describeService(v: ServiceView): Array<[string, unknown]> {
  return [
    ['service', `${v.id} ${v.name} (${v.type})`],
    ['owner', v.owner],
    ['host', `${v.host}${v.hostPeerId ? ` · ${v.hostPeerId}` : ''}${v.own ? ' (this node)' : ''}`],
    ...(v.target ? ([['target', v.target]] as Array<[string, unknown]>) : []),
    ...(v.allow ? ([['allow', v.allow.join(', ')]] as Array<[string, unknown]>) : []),
    ['price', v.price === 0n ? 'free' : `${v.price}${v.token ? ` of ${v.token}` : ''}`],
    ['policy', v.policy],
    ['active', v.active],
  ];
}

const POLICY_CHOICES: ServicePolicy[] = [
  'public',
  'allowlist',
  'organization',
  'organization-network',
  'token-holders',
];
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

function describePolicy(p: ServicePolicyView): Array<[string, unknown]> {
  return [
    ['service', `${p.serviceId} ${p.name}`],
    ['policy', p.policy],
    ...(p.organizationId !== null ? ([['organization', p.organizationId]] as Array<[string, unknown]>) : []),
    ...(p.holderToken
      ? ([
          ['holders of', p.holderToken],
          [
            'token threshold',
            `${p.holderThreshold} (${p.holderThresholdBaseUnits} base unit${p.holderThresholdBaseUnits === 1n ? '' : 's'}, ${p.holderTokenDecimals} decimals)`,
          ],
        ] as Array<[string, unknown]>)
      : []),
    ['price', p.price === 0n ? 'free' : `${p.price}${p.paymentToken ? ` of ${p.paymentToken}` : ''}`],
    ['grant duration', `${p.grantDurationSeconds} s`],
    ['allowlist', p.allowlist.length === 0 ? '(empty)' : p.allowlist.join('\n')],
  ];
}

function addresses(list: string[]): Address[] {
  const bad = list.find((a) => !ADDRESS.test(a));
  if (bad !== undefined || list.length === 0) {
    throw new CliError(
      'BAD_ADDRESS',
      bad !== undefined ? `"${bad.slice(0, 60)}" is not an address` : 'no address given',
      'give 0x-prefixed 20-byte hex addresses',
    );
  }
  return list as Address[];
}

function integer(text: string | undefined, what: string): bigint | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,78}$/.test(text)) {
    throw new CliError(
      'BAD_ARGUMENT',
      `${what} "${text.slice(0, 40)}" is not a non-negative integer`,
      `give e.g. ${what} 10`,
    );
  }
  return BigInt(text);
}

/** Runs `fn` on the chain directory of this identity (wallet unlocked when `sign`), then closes. */
async function withDirectory<T>(
  ctx: CommandContext,
  sign: boolean,
  fn: (dir: ServiceDirectory) => Promise<T>,
): Promise<T> {
  const wallet = sign ? await unlockWallet(ctx) : undefined;
  const chain = await connectChain(ctx, wallet);
  try {
    // Reading needs no passphrase: the identity file beside the keystore names our address.
    const self = (wallet?.address ?? readIdentityFile(ctx).address) as Address;
    return await fn({ registry: chain.registry, catalog: new ServiceCatalog(chain.store), self });
  } finally {
    chain.close();
  }
}

/** `dibs service publish|list|show|retire`. */
export function serviceCommands(): Command {
  const service = new Command('service').description('services this node hosts, and every service on chain');
  service
    .command('publish')
    .description('publish a service hosted by this node (its target stays private, in the node database)')
    .argument('<name>', 'service name (letters, digits, . _ -)')
    .option('--target <host:port>', 'where tunnels go (tcp/http)')
    .option('--type <type>', 'tcp, http or vpn', 'tcp')
    .option('--allow-dest <rules>', 'vpn: comma-separated cidr[:ports] rules, e.g. 10.0.0.0/8:22+80-443')
    .option('--subnet <cidrs>', 'vpn: comma-separated site subnets L3 clients route here (`dibs vpn up`)')
    .option('--pool <cidr>', "vpn: the L3 clients' address pool (default 100.64.<id mod 256>.0/24)")
    .option('--price <amount>', 'price per grant in token base units', '0')
    .option('--token <address>', 'ERC-20 payment token (default: the network token)')
    .option('--public', 'anyone may get access (default)')
    .option('--allow <addresses>', 'only these comma-separated addresses may get access')
    .option('--org <id>', 'only members of this organization may get access')
    .option('--holder-token <address>', 'only holders of this ERC-20 may get access')
    .option(
      '--token-threshold <amount>',
      'with --holder-token: the least balance admitted, in the token’s units (e.g. 2.5; default one base unit)',
    )
    .option('--duration <seconds>', 'how long each grant lasts (default 30 days)')
    .action(
      async (
        name: string,
        opts: {
          target?: string;
          type: string;
          allowDest?: string;
          subnet?: string;
          pool?: string;
          price: string;
          token?: string;
          public?: boolean;
          allow?: string;
          org?: string;
          holderToken?: string;
          tokenThreshold?: string;
          duration?: string;
        },
        cmd: Command,
      ) => {
        const ctx = commandContext(cmd);
        const policies = [
          opts.public,
          opts.allow !== undefined,
          opts.org !== undefined,
          opts.holderToken !== undefined,
        ].filter(Boolean).length;
        if (policies > 1) {
          throw new CliError(
            'BAD_ARGUMENT',
            'choose one of --public, --allow, --org and --holder-token',
            'pass only one',
          );
        }
        if (opts.tokenThreshold !== undefined && opts.holderToken === undefined) {
          throw new CliError(
            'BAD_ARGUMENT',
            '--token-threshold applies to token holders only',
            'name the token with --holder-token',
          );
        }
        if (!/^\d{1,29}$/.test(opts.price)) {
          throw new CliError(
            'BAD_ARGUMENT',
            `price "${opts.price}" is not a whole number`,
            'give base units',
          );
        }
        if (opts.org !== undefined && !/^[1-9]\d{0,20}$/.test(opts.org)) {
          throw new CliError('BAD_ARGUMENT', `organization "${opts.org}" is not an id`, 'give its number');
        }
        if (opts.duration !== undefined && !/^[1-9]\d{0,9}$/.test(opts.duration)) {
          throw new CliError(
            'BAD_ARGUMENT',
            `duration "${opts.duration}" is not a number of seconds`,
            'e.g. 86400',
          );
        }
        const input: PublishInput = {
          name,
          type: opts.type as PublishInput['type'],
          policy:
            opts.allow !== undefined
              ? 'allowlist'
              : opts.org !== undefined
                ? 'organization'
                : opts.holderToken !== undefined
                  ? 'token-holders'
                  : 'public',
          price: BigInt(opts.price),
        };
        if (opts.target !== undefined) input.target = opts.target;
        const allowDest = splitList(opts.allowDest, '--allow-dest');
        if (allowDest) input.allow = allowDest;
        const subnets = splitList(opts.subnet, '--subnet');
        if (subnets) input.subnets = subnets;
        if (opts.pool !== undefined) input.pool = opts.pool;
        if (opts.token !== undefined) input.token = opts.token as `0x${string}`;
        const allowlist = splitList(opts.allow, '--allow');
        if (allowlist) input.allowlist = allowlist as `0x${string}`[];
        if (opts.org !== undefined) input.organizationId = BigInt(opts.org);
        if (opts.holderToken !== undefined) input.holderToken = addresses([opts.holderToken])[0]!;
        if (opts.tokenThreshold !== undefined) input.tokenThreshold = opts.tokenThreshold;
        if (opts.duration !== undefined) input.grantDurationSeconds = Number(opts.duration);
        await withDirectory(ctx, true, async (dir) => {
          ctx.out.progress(`publishing ${name} on chain…`);
          const view = await publishService(dir, input);
          ctx.out.result(view, () => `service published\n${table(describeService(view))}`);
        });
      },
    );
  service
    .command('list')
    .description('services on chain: this node’s own and every active one')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withDirectory(ctx, false, async (dir) => {
        const services = await listServices(dir);
        ctx.out.result({ services }, () =>
          services.length === 0
            ? 'no services yet — publish one with: dibs service publish <name> --target host:port'
            : table(
                services.map(
                  (v) =>
                    [
                      `${v.id}`,
                      `${v.name} · ${v.type} · ${v.policy}${v.own ? ' · own' : ''}${v.active ? '' : ' · retired'}${v.target ? ` → ${v.target}` : ''}`,
                    ] as [string, unknown],
                ),
              ),
        );
      });
    });
  service
    .command('show')
    .description('one service')
    .argument('<service>', 'service id or name')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withDirectory(ctx, false, async (dir) => {
        const view = await resolveService(dir, ref);
        ctx.out.result(view, () => table(describeService(view)));
      });
    });
  service
    .command('retire')
    .description('retire one of your services on chain: no new grants, existing ones stop working')
    .argument('<service>', 'service id or name')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withDirectory(ctx, true, async (dir) => {
        const view = await resolveService(dir, ref);
        ctx.out.progress(`retiring ${view.id} ${view.name}…`);
        await retireService(dir, view.id);
        ctx.out.result(
          { id: view.id, name: view.name, retired: true },
          () => `service ${view.id} ${view.name} retired`,
        );
      });
    });
  service
    .command('policy')
    .description('who may request access to a service, its price and its allowlist, as the chain holds them')
    .argument('<service>', 'service id or name')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withDirectory(ctx, false, async (dir) => {
        const view = await resolveService(dir, ref);
        const policy = await readServicePolicy(dir, view.id);
        ctx.out.result(policy, () => table(describePolicy(policy)));
      });
    });
  service
    .command('update')
    .description(
      'change one of your services on chain: policy, organization, holder token and threshold, price, grant duration (holders who no longer qualify lose their tunnels)',
    )
    .argument('<service>', 'service id or name')
    .option('--policy <policy>', `who may request access (${POLICY_CHOICES.join(', ')})`)
    .option('--org <id>', 'organization id (organization policies)')
    .option('--holder-token <address>', 'ERC-20 an account must hold (token-holders policy)')
    .option(
      '--token-threshold <amount>',
      'least balance of the holder token admitted, in the token’s units (e.g. 2.5; 0: one base unit)',
    )
    .option('--price <amount>', 'price per grant in the payment token’s base units')
    .option('--duration <seconds>', 'how long each grant lasts')
    .action(
      async (
        ref: string,
        opts: {
          policy?: string;
          org?: string;
          holderToken?: string;
          tokenThreshold?: string;
          price?: string;
          duration?: string;
        },
        cmd: Command,
      ) => {
        const ctx = commandContext(cmd);
        if (opts.policy !== undefined && !(POLICY_CHOICES as string[]).includes(opts.policy)) {
          throw new CliError(
            'BAD_ARGUMENT',
            `unknown policy "${opts.policy.slice(0, 40)}"`,
            `use one of ${POLICY_CHOICES.join(', ')}`,
          );
        }
        const change: PolicyChange = {
          ...(opts.policy !== undefined ? { policy: opts.policy as ServicePolicy } : {}),
          ...(opts.org !== undefined ? { organizationId: integer(opts.org, '--org')! } : {}),
          ...(opts.holderToken !== undefined ? { holderToken: addresses([opts.holderToken])[0]! } : {}),
          ...(opts.tokenThreshold !== undefined ? { tokenThreshold: opts.tokenThreshold } : {}),
          ...(opts.price !== undefined ? { price: integer(opts.price, '--price')! } : {}),
          ...(opts.duration !== undefined
            ? { grantDurationSeconds: integer(opts.duration, '--duration')! }
            : {}),
        };
        if (Object.keys(change).length === 0) {
          throw new CliError(
            'BAD_ARGUMENT',
            'nothing to change',
            'give --policy, --org, --holder-token, --token-threshold, --price or --duration',
          );
        }
        await withDirectory(ctx, true, async (dir) => {
          const view = await resolveService(dir, ref);
          ctx.out.progress(`updating ${view.id} ${view.name} on chain…`);
          await updateServicePolicy(dir, view.id, change);
          const policy = await readServicePolicy(dir, view.id);
          ctx.out.result(policy, () => table(describePolicy(policy)));
        });
      },
    );
  for (const [name, allowed] of [
    ['allow', true],
    ['disallow', false],
  ] as const) {
    service
      .command(name)
      .description(
        allowed
          ? 'add accounts to one of your service’s allowlist'
          : 'remove accounts from one of your service’s allowlist (their live tunnels end)',
      )
      .argument('<service>', 'service id or name')
      .argument('<addresses...>', 'accounts (0x addresses)')
      .action(async (ref: string, list: string[], _opts: unknown, cmd: Command) => {
        const ctx = commandContext(cmd);
        const accounts = addresses(list);
        await withDirectory(ctx, true, async (dir) => {
          const view = await resolveService(dir, ref);
          ctx.out.progress(`${allowed ? 'adding' : 'removing'} ${accounts.length} account(s) on chain…`);
          await changeAllowlist(dir, view.id, allowed ? { add: accounts } : { remove: accounts });
          const policy = await readServicePolicy(dir, view.id);
          ctx.out.result(policy, () => table(describePolicy(policy)));
        });
      });
  }
  return service;
}
