import { existsSync, mkdirSync } from 'node:fs';
import { decodeJoinBundle } from '@dibs/node';
import { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { applyNodeFlags, type DibsConfig, loadConfig, type NodeFlags, saveConfig } from '../config.ts';
import { CliError } from '../errors.ts';
import { type NodeCommandOptions, nodeContext, parseApiPort, runNode, withNodeOptions } from './up.ts';

/** `dibs join <bundle>`: set this data dir up for the network the bundle names, then run the node. */
export function joinCommand(): Command {
  const cmd = new Command('join')
    .description(
      'join a DIBS network from the one-line bundle `dibs up` printed on one of its nodes: keeps it in the config and starts the node',
    )
    .argument('<bundle>', 'the join bundle (base64url text)')
    .option('--no-register', 'do not register the identity on chain')
    .option('--exit-after-start', 'stop again once everything is up (for scripts and tests)')
    .option('--force', 'replace a config that names another network');
  return withNodeOptions(cmd)
    .addHelpText(
      'after',
      '\nAfterwards a plain `dibs node start` on the same data dir starts the node again with the same network.',
    )
    .action(async (bundle: string, opts: NodeCommandOptions & { force?: boolean }, c: Command) => {
      const ctx = applyJoinBundle(nodeContext(c, opts), bundle, opts.force === true, opts);
      await runNode(ctx, {
        register: opts.register,
        p2p: true,
        exitAfterStart: opts.exitAfterStart,
        api: opts.api,
        apiPort: parseApiPort(opts.apiPort, process.env, ctx.paths.config),
        auditRetention: opts.auditRetention,
      });
    });
}

/**
 * Writes the bundle's chain (RPC URLs, chain id, contracts) and bootstrap nodes, and the node flags
 * given with it, into the data dir's config file, keeping everything else in it; returns the context with the new config (and `flags`
 * applied over it again). A config already naming other contracts is kept unless `force`.
 */
export function applyJoinBundle(
  ctx: CommandContext,
  text: string,
  force: boolean,
  flags: NodeFlags,
): CommandContext {
  let bundle: ReturnType<typeof decodeJoinBundle>;
  try {
    bundle = decodeJoinBundle(text);
  } catch (err) {
    const e = err as Error & { hint?: string };
    throw new CliError('BAD_JOIN_BUNDLE', e.message, e.hint ?? 'copy the whole join bundle line');
  }
  const file: DibsConfig = loadConfig(ctx.paths.config, {}, {});
  const had = file.chain.contracts?.registry;
  if (had && had.toLowerCase() !== bundle.contracts.registry.toLowerCase() && !force) {
    throw new CliError(
      'ALREADY_JOINED',
      `${ctx.paths.config} already names another network (registry ${had})`,
      'use another --data-dir for this network, or pass --force to replace it',
    );
  }
  const [rpcUrl, ...more] = bundle.rpc as [string, ...string[]];
  file.chain = {
    mode: 'rpc',
    rpcUrl,
    ...(more.length > 0 ? { rpcUrls: more } : {}),
    chainId: bundle.chainId,
    contracts: { ...bundle.contracts },
  };
  file.node.bootstrap = [...new Set([...bundle.bootstrap, ...file.node.bootstrap])];
  const fresh = !existsSync(ctx.paths.keystore);
  mkdirSync(ctx.paths.root, { recursive: true, mode: 0o700 });
  // The node flags given with the bundle (roles, addresses, relays) are kept too: a plain restart
  // brings the same node back.
  saveConfig(ctx.paths.config, applyNodeFlags(file, flags));
  ctx.out.progress(
    `${fresh ? 'new data dir: ' : ''}joined chain ${bundle.chainId} · network service ${bundle.contracts.networkServiceId} · ${bundle.rpc.length} RPC URL(s) · ${bundle.bootstrap.length} bootstrap node(s); kept in ${ctx.paths.config}`,
  );
  // The environment and flags still win over the file, as for any command.
  const merged = loadConfig(ctx.paths.config, ctx.globals.rpcUrl ? { rpcUrl: ctx.globals.rpcUrl } : {});
  return { ...ctx, config: applyNodeFlags(merged, flags) };
}

/**
 * A node started with its contracts from DIBS_CONTRACTS (and its chain from --rpc-url) keeps them in
 * its config when the config names none, so a plain `dibs node start` works the next time.
 */
export function keepContracts(ctx: CommandContext, contracts: Record<string, string>): void {
  const file = loadConfig(ctx.paths.config, {}, {});
  if (file.chain.contracts?.registry || !ctx.config.chain.rpcUrl) return;
  file.chain = {
    ...file.chain,
    mode: 'rpc',
    rpcUrl: ctx.config.chain.rpcUrl,
    chainId: ctx.config.chain.chainId,
    contracts: { ...contracts },
  };
  saveConfig(ctx.paths.config, file);
  ctx.out.progress(`kept the chain and contract addresses in ${ctx.paths.config} for the next start`);
}
