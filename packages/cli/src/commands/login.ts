import { DEFAULT_LOGIN_HOST, DEFAULT_LOGIN_PORT, LOGIN_SERVICE_TYPE } from '@dibs/login/constants';
import { SecretBox, type Wallet } from '@dibs/core';
import { Policy } from '@dibs/contracts';
import { Command } from 'commander';
import { privateKeyToAccount } from 'viem/accounts';
import { type CommandContext, commandContext, connectChain, unlockWallet } from '../context.ts';
import { CliError } from '../errors.ts';
import { table } from '../output.ts';
import { parseLocalListen, untilStopSignal } from './connect.ts';

function parseId(text: string, what: string): bigint {
  if (!/^\d{1,78}$/.test(text)) {
    throw new CliError('BAD_ARGUMENT', `${what} "${text}" is not a number`, `pass the numeric ${what}`);
  }
  return BigInt(text);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The provider library, loaded only by the login commands (it brings oidc-provider and Koa). */
const loginLibrary = () => import('@dibs/login');

/** A login provider started beside a node (`dibs login serve`, `dibs up --login`). */
export interface RunningLoginProvider {
  info: { issuer: string; discovery: string; port: number };
  stop(): Promise<void>;
}

/**
 * Starts the OpenID Connect provider on `listen` (default DIBS_LOGIN_LISTEN, else
 * 127.0.0.1:7780) against the node's chain and database.
 */
export async function startLoginProvider(
  ctx: CommandContext,
  wallet: Wallet,
  opts: { listen?: string | undefined; issuer?: string | undefined },
  flag = '--listen',
): Promise<RunningLoginProvider> {
  const listenText =
    opts.listen ?? process.env.DIBS_LOGIN_LISTEN ?? `${DEFAULT_LOGIN_HOST}:${DEFAULT_LOGIN_PORT}`;
  const listen = parseLocalListen(listenText, flag);
  const issuer = opts.issuer ?? process.env.DIBS_LOGIN_ISSUER;
  if (issuer !== undefined && !/^https?:\/\/[^/]+$/.test(issuer.replace(/\/$/, ''))) {
    throw new CliError(
      'BAD_ARGUMENT',
      `issuer "${issuer}" is not an origin URL`,
      'give e.g. https://login.example.org (--issuer, --login-issuer or DIBS_LOGIN_ISSUER)',
    );
  }
  const chain = await connectChain(ctx, wallet);
  try {
    const { LoginServer } = await loginLibrary();
    ctx.out.progress('starting the login provider (catching up with the chain)…');
    const server = await LoginServer.start({
      clients: chain.clients,
      deployment: chain.deployment,
      store: chain.store,
      wallet,
      host: listen.host,
      port: listen.port,
      ...(issuer ? { issuer } : {}),
      log: {
        info: (msg, fields) => ctx.out.progress(`${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`),
        warn: (msg, fields) => ctx.out.warn(`${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`),
      },
    });
    return {
      info: {
        issuer: server.issuer,
        discovery: `${server.issuer}/.well-known/openid-configuration`,
        port: server.port,
      },
      async stop() {
        await server.stop();
        chain.close();
      },
    };
  } catch (err) {
    chain.close();
    throw err;
  }
}

/** `dibs login`: the "Sign in with DIBS" OpenID Connect provider and its clients. */
export function loginCommands(): Command {
  const login = new Command('login').description(
    '"Sign in with DIBS": an OpenID Connect provider (SIWE login, authorization by grants on chain) and its clients',
  );
  login
    .command('serve')
    .description('run the OpenID Connect provider on its own HTTP listener until Ctrl-C')
    .option(
      '--listen <host:port>',
      `where to listen (default ${DEFAULT_LOGIN_HOST}:${DEFAULT_LOGIN_PORT}, or DIBS_LOGIN_LISTEN)`,
    )
    .option('--issuer <url>', 'public issuer URL when a TLS proxy fronts the provider (or DIBS_LOGIN_ISSUER)')
    .action(async (opts: { listen?: string; issuer?: string }, cmd: Command) => {
      const ctx = commandContext(cmd);
      const wallet = await unlockWallet(ctx);
      const provider = await startLoginProvider(ctx, wallet, opts);
      try {
        ctx.out.result(provider.info, () =>
          table([
            ['issuer', provider.info.issuer],
            ['discovery', provider.info.discovery],
            ['clients', 'dibs login client add <service> --redirect-uri <url>'],
          ]),
        );
        await untilStopSignal();
        ctx.out.progress('stopping the login provider…');
      } finally {
        await provider.stop();
      }
    });

  login
    .command('publish')
    .description(
      'publish an application as a login service on chain: who may sign in to it is who may get a grant',
    )
    .argument('<name>', 'the application name shown on the login page')
    .option('--public', 'any wallet may get a grant (default)')
    .option('--allow <addresses>', 'only these comma-separated addresses')
    .option('--org <id>', 'only members of this organization')
    .option('--price <amount>', 'price per grant in token base units', '0')
    .option('--duration <seconds>', 'how long a grant (and so a login) lasts', String(30 * 24 * 3600))
    .action(
      async (
        name: string,
        opts: { public?: boolean; allow?: string; org?: string; price: string; duration: string },
        cmd: Command,
      ) => {
        const ctx = commandContext(cmd);
        if ([opts.public, opts.allow !== undefined, opts.org !== undefined].filter(Boolean).length > 1) {
          throw new CliError('BAD_ARGUMENT', 'choose one of --public, --allow and --org', 'pass only one');
        }
        if (!/^\d{1,29}$/.test(opts.price))
          throw new CliError(
            'BAD_ARGUMENT',
            `price "${opts.price}" is not a whole number`,
            'give base units',
          );
        if (!/^[1-9]\d{0,9}$/.test(opts.duration)) {
          throw new CliError(
            'BAD_ARGUMENT',
            `duration "${opts.duration}" is not a number of seconds`,
            'e.g. 86400',
          );
        }
        if (opts.org !== undefined && !/^[1-9]\d{0,20}$/.test(opts.org)) {
          throw new CliError('BAD_ARGUMENT', `organization "${opts.org}" is not an id`, 'give its number');
        }
        const allow = (opts.allow ?? '')
          .split(',')
          .map((a) => a.trim())
          .filter(Boolean);
        for (const a of allow) {
          if (!/^0x[0-9a-fA-F]{40}$/.test(a))
            throw new CliError('BAD_ARGUMENT', `"${a}" is not an address`, 'give 0x… addresses');
        }
        const wallet = await unlockWallet(ctx);
        const chain = await connectChain(ctx, wallet);
        try {
          ctx.out.progress(`publishing login service ${name} on chain…`);
          const price = BigInt(opts.price);
          const serviceId = await chain.registry.publishService({
            serviceType: LOGIN_SERVICE_TYPE,
            name,
            grantDuration: BigInt(opts.duration),
            ...(price > 0n ? { price, paymentToken: chain.deployment.token } : {}),
            policy:
              opts.allow !== undefined
                ? Policy.Allowlist
                : opts.org !== undefined
                  ? Policy.OrgMembers
                  : Policy.Public,
            ...(opts.org !== undefined ? { policyRef: BigInt(opts.org) } : {}),
          });
          if (allow.length > 0) await chain.registry.setAllowlist(serviceId, allow as `0x${string}`[], true);
          ctx.out.result({ serviceId, name, type: LOGIN_SERVICE_TYPE }, () =>
            table([
              ['service', serviceId],
              ['name', name],
              ['next', `dibs login client add ${serviceId} --redirect-uri <url>`],
            ]),
          );
        } finally {
          chain.close();
        }
      },
    );

  login
    .command('approve')
    .description("sign in to a website with this node's wallet (for users without a browser wallet)")
    .argument('<url>', 'the address the login page shows: <issuer>/interaction/<id>')
    .option('--request-access', 'request a grant on chain first when the application admits this wallet')
    .action(async (url: string, opts: { requestAccess?: boolean }, cmd: Command) => {
      const ctx = commandContext(cmd);
      const wallet = await unlockWallet(ctx);
      const account = privateKeyToAccount(wallet.exportPrivateKeyHex());
      const chain = opts.requestAccess ? await connectChain(ctx, wallet) : undefined;
      try {
        ctx.out.progress(`approving the login as ${wallet.address}…`);
        const { approveLogin } = await loginLibrary();
        const result = await approveLogin({
          url,
          address: wallet.address,
          sign: (message: string) => account.signMessage({ message }),
          ...(chain
            ? {
                requestAccess: async (serviceId: bigint) => {
                  ctx.out.progress(`requesting access to login service ${serviceId} on chain…`);
                  await chain.registry.requestAccess(serviceId);
                },
              }
            : {}),
        });
        if (result.status !== 'approved') {
          throw new CliError(
            'ACCESS_DENIED',
            `the login was refused: ${result.reason}`,
            'ask the application owner for access',
          );
        }
        ctx.out.result(
          { approved: true, address: wallet.address },
          () => `approved: the browser continues signed in as ${wallet.address}`,
        );
      } finally {
        chain?.close();
      }
    });

  const client = new Command('client').description(
    'applications allowed to use the provider (registered by the owner of their login service)',
  );
  client
    .command('add')
    .description('register an application for a login service you own; prints its client secret once')
    .argument('<service>', 'id of the login service (type "login") on chain')
    .requiredOption('--redirect-uri <url>', 'where the provider may send users back (repeatable)', collect)
    .option('--name <name>', 'name shown on the login page (default: the service name)')
    .action(async (serviceText: string, opts: { redirectUri: string[]; name?: string }, cmd: Command) => {
      const ctx = commandContext(cmd);
      const serviceId = parseId(serviceText, 'service id');
      const wallet = await unlockWallet(ctx);
      const chain = await connectChain(ctx, wallet);
      try {
        const service = await chain.registry.getService(serviceId);
        if (!service)
          throw new CliError(
            'UNKNOWN_SERVICE',
            `there is no service ${serviceId} on chain`,
            'see `dibs service list`',
          );
        if (service.serviceType !== LOGIN_SERVICE_TYPE) {
          throw new CliError(
            'NOT_A_LOGIN_SERVICE',
            `service ${serviceId} is a "${service.serviceType}" service`,
            `publish the application as a service of type "${LOGIN_SERVICE_TYPE}" first`,
          );
        }
        if (service.owner.toLowerCase() !== wallet.address.toLowerCase()) {
          throw new CliError(
            'NOT_SERVICE_OWNER',
            `service ${serviceId} is owned by ${service.owner}, not by this node's wallet`,
            'run this on the node of the service owner',
          );
        }
        if (!service.active)
          throw new CliError(
            'SERVICE_RETIRED',
            `service ${serviceId} is retired`,
            'publish a new login service',
          );
        const { ClientRegistry } = await loginLibrary();
        const added = new ClientRegistry(chain.store, new SecretBox(wallet)).add({
          serviceId,
          name: opts.name ?? service.name ?? `service ${serviceId}`,
          redirectUris: opts.redirectUri,
        });
        ctx.out.result(added, () =>
          [
            table([
              ['client id', added.clientId],
              ['client secret', added.clientSecret],
              ['service', `${serviceId} ${service.name}`],
              ['redirect URIs', added.redirectUris.join(' ')],
            ]),
            '',
            'The client secret is shown only now: store it in the application (environment or secret store).',
          ].join('\n'),
        );
      } finally {
        chain.close();
      }
    });
  client
    .command('list')
    .description('registered applications (never their secrets)')
    .option('--service <id>', 'only those of this login service')
    .action(async (opts: { service?: string }, cmd: Command) => {
      const ctx = commandContext(cmd);
      const chain = await connectChain(ctx);
      try {
        const { ClientRegistry } = await loginLibrary();
        const clients = new ClientRegistry(chain.store).list(
          opts.service === undefined ? undefined : parseId(opts.service, 'service id'),
        );
        ctx.out.result({ clients }, () =>
          clients.length === 0
            ? 'no clients yet — add one with: dibs login client add <service> --redirect-uri <url>'
            : clients
                .map((c) =>
                  table([
                    ['client id', c.clientId],
                    ['name', c.name],
                    ['service', c.serviceId],
                    ['redirect URIs', c.redirectUris.join(' ')],
                    ['added', new Date(c.createdAt).toISOString()],
                  ]),
                )
                .join('\n\n'),
        );
      } finally {
        chain.close();
      }
    });
  client
    .command('remove')
    .description('remove an application and every token issued to it')
    .argument('<client-id>', 'the client id from `dibs login client list`')
    .action(async (clientId: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const chain = await connectChain(ctx);
      try {
        const { ClientRegistry } = await loginLibrary();
        if (!new ClientRegistry(chain.store).remove(clientId)) {
          throw new CliError(
            'UNKNOWN_CLIENT',
            `there is no client ${clientId}`,
            'see `dibs login client list`',
          );
        }
        ctx.out.result({ clientId, removed: true }, () => `removed ${clientId}`);
      } finally {
        chain.close();
      }
    });
  login.addCommand(client);
  return login;
}
