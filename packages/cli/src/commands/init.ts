import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { encryptionKeyFromWallet, formatDid, peerIdFromWallet, Wallet } from '@dibs/core';
import { writeKeystoreFile } from '@dibs/core/node';
import { Command } from 'commander';
import { saveConfig } from '../config.ts';
import { type CommandContext, commandContext, type IdentityFile } from '../context.ts';
import { CliError } from '../errors.ts';
import { writeFileAtomic } from '../fs.ts';
import { table } from '../output.ts';
import { readPassphrase } from '../passphrase.ts';

export interface InitResult {
  address: string;
  did: string;
  peerId: string;
  encryptionKey: string;
  dataDir: string;
  keystore: string;
  config: string;
}

export function initCommand(): Command {
  return new Command('init')
    .description('create the data directory, a wallet identity, its encrypted keystore and a config file')
    .option('--import-key-file <file>', 'use the hex private key in this file instead of a new random one')
    .addHelpText(
      'after',
      '\nThe passphrase comes from a prompt, --passphrase-file, DIBS_PASSPHRASE_FILE or DIBS_PASSPHRASE (never argv).',
    )
    .action(async (opts: { importKeyFile?: string }, cmd: Command) => {
      const ctx = commandContext(cmd);
      const result = await initialize(ctx, opts.importKeyFile);
      ctx.out.result(result, () => `DIBS identity created\n${table(Object.entries(result))}`);
    });
}

/** Creates wallet, keystore, public identity file and config; refuses to replace an existing keystore. */
export async function initialize(ctx: CommandContext, importKeyFile?: string): Promise<InitResult> {
  const { paths } = ctx;
  if (existsSync(paths.keystore)) {
    throw new CliError(
      'ALREADY_INITIALIZED',
      `${paths.root} already holds a DIBS identity (${paths.keystore})`,
      'use it as it is, or choose another --data-dir / DIBS_HOME',
    );
  }
  const wallet = importKeyFile ? importKey(importKeyFile) : Wallet.generate();
  const passphrase = await readPassphrase({
    file: ctx.globals.passphraseFile,
    dataDir: paths.root,
    confirm: true,
    purpose: `the new keystore in ${paths.root}`,
  });
  // A node started right after (the first `dibs up`) unlocks with it instead of asking a third time.
  ctx.passphrase = passphrase;
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  ctx.out.progress('encrypting keystore (scrypt)…');
  await writeKeystoreFile(paths.keystore, wallet, passphrase);
  const encryption = encryptionKeyFromWallet(wallet);
  const identity: IdentityFile = {
    address: wallet.address,
    publicKey: `0x${Buffer.from(wallet.publicKey).toString('hex')}`,
    peerId: peerIdFromWallet(wallet).toString(),
    encryptionKey: `0x${Buffer.from(encryption.publicKey).toString('hex')}`,
    createdAt: new Date().toISOString(),
  };
  writeFileAtomic(paths.identity, `${JSON.stringify(identity, null, 2)}\n`, 0o644);
  if (!existsSync(paths.config)) saveConfig(paths.config, ctx.config);
  return {
    address: identity.address,
    did: formatDid(identity.address, ctx.config.chain.chainId),
    peerId: identity.peerId,
    encryptionKey: identity.encryptionKey,
    dataDir: paths.root,
    keystore: paths.keystore,
    config: paths.config,
  };
}

function importKey(file: string): Wallet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(
      'KEY_FILE',
      `cannot read key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'pass the path of a file holding a 64-hex-digit private key',
    );
  }
  try {
    return Wallet.fromPrivateKey(text.trim());
  } catch (err) {
    throw new CliError('KEY_FILE', `key file ${file}: ${(err as Error).message}`, 'check the file content', {
      cause: err,
    });
  }
}
