import { existsSync, readFileSync } from 'node:fs';
import {
  createChainClients,
  type ChainClients,
  type Deployment,
  loadDeployment,
  RegistryWriter,
} from '@dibs/chain';
import type { Wallet } from '@dibs/core';
import { readKeystoreFile } from '@dibs/core/node';
import { readRuntimeInfo } from '@dibs/node';
import { openStore, type Store } from '@dibs/store';
import type { Command } from 'commander';
import { type DibsConfig, loadConfig } from './config.ts';
import { CliError } from './errors.ts';
import { createOutput, type Output } from './output.ts';
import { readPassphrase } from './passphrase.ts';
import { type DataPaths, dataPaths, resolveDataDir } from './paths.ts';
import type { GlobalOptions } from './program.ts';

/** What every command starts from: where the data is, the merged config, and how to print. */
export interface CommandContext {
  globals: GlobalOptions;
  paths: DataPaths;
  config: DibsConfig;
  out: Output;
  /** The passphrase once given in this run (e.g. to `init`), so unlocking never asks again. */
  passphrase?: string;
}

export function commandContext(cmd: Command): CommandContext {
  const globals = cmd.optsWithGlobals<GlobalOptions>();
  const paths = dataPaths(resolveDataDir(globals.dataDir));
  const overrides: { rpcUrl?: string; chainId?: number; busyPollUs?: string } = {};
  if (globals.busyPollUs !== undefined) overrides.busyPollUs = globals.busyPollUs;
  if (globals.rpcUrl !== undefined) overrides.rpcUrl = globals.rpcUrl;
  if (globals.chainId !== undefined) overrides.chainId = Number(globals.chainId);
  const config = loadConfig(paths.config, overrides);
  return { globals, paths, config, out: createOutput(globals.json === true) };
}

/** Public facts about the identity kept beside the keystore, readable without the passphrase. */
export interface IdentityFile {
  address: string;
  publicKey: string;
  peerId: string;
  encryptionKey: string;
  createdAt: string;
}

export function requireInitialized(ctx: CommandContext): void {
  if (!existsSync(ctx.paths.keystore)) {
    throw new CliError(
      'NOT_INITIALIZED',
      `no DIBS identity in ${ctx.paths.root}`,
      'create one with `dibs init` (or pass --data-dir / set DIBS_HOME to where it is)',
    );
  }
}

export function readIdentityFile(ctx: CommandContext): IdentityFile {
  requireInitialized(ctx);
  try {
    return JSON.parse(readFileSync(ctx.paths.identity, 'utf8')) as IdentityFile;
  } catch (err) {
    throw new CliError(
      'CORRUPT_IDENTITY_FILE',
      `cannot read ${ctx.paths.identity}: ${(err as Error).message}`,
      '`dibs up` rewrites it from the keystore',
    );
  }
}

/** Asks for the passphrase and decrypts the keystore. */
export async function unlockWallet(ctx: CommandContext): Promise<Wallet> {
  requireInitialized(ctx);
  ctx.passphrase ??= await readPassphrase({
    file: ctx.globals.passphraseFile,
    dataDir: ctx.paths.root,
    purpose: ctx.paths.keystore,
  });
  const passphrase = ctx.passphrase;
  ctx.out.progress('unlocking keystore…');
  return readKeystoreFile(ctx.paths.keystore, passphrase);
}

/** A connection to the chain the node uses, for commands that run beside `dibs up`. */
export interface ChainAccess {
  clients: ChainClients;
  deployment: Deployment;
  store: Store;
  registry: RegistryWriter;
  embedded: boolean;
  close(): void;
}

export async function connectChain(ctx: CommandContext, wallet?: Wallet): Promise<ChainAccess> {
  let rpcUrl: string | undefined;
  let embedded = false;
  if (ctx.config.chain.mode === 'rpc') {
    rpcUrl = ctx.config.chain.rpcUrl;
  } else {
    const runtime = readRuntimeInfo(ctx.paths.runtime);
    if (!runtime) {
      throw new CliError(
        'CHAIN_NOT_RUNNING',
        `the embedded chain is not running: no DIBS node is up for ${ctx.paths.root}`,
        'start one with `dibs up` (or `npm start`) in another terminal, or use --rpc-url URL',
      );
    }
    rpcUrl = runtime.rpcUrl;
    embedded = runtime.embeddedChain;
  }
  if (!rpcUrl)
    throw new CliError('BAD_CONFIG', 'no RPC URL configured', 'set chain.rpcUrl or pass --rpc-url');
  const clients = await createChainClients({
    rpcUrl,
    chainId: ctx.config.chain.chainId,
    ...(wallet ? { account: wallet.exportPrivateKeyHex() } : {}),
  });
  const store = openStore(ctx.paths.database);
  const deployment = loadDeployment(store, clients.chainId);
  if (!deployment) {
    store.close();
    throw new CliError(
      'NOT_DEPLOYED',
      `no DIBS deployment is recorded for chain ${clients.chainId} in ${ctx.paths.database}`,
      'start the node once with `dibs up` so it deploys or finds the contracts',
    );
  }
  return {
    clients,
    deployment,
    store,
    registry: new RegistryWriter(clients, deployment),
    embedded,
    close: () => store.close(),
  };
}
