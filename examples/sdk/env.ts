/** What the SDK examples read from the environment (secrets from files, never from the command line). */
import { readFileSync } from 'node:fs';
import type { Deployment } from '@dibs/chain';
import type { Wallet } from '@dibs/core';
import { readKeystoreFile } from '@dibs/core/node';
import { deploymentFromStatus } from '@dibs/sdk';

function need(name: string, what: string): string {
  const v = process.env[name];
  if (!v) {
    console.error(`set ${name}: ${what}`);
    process.exit(2);
  }
  return v;
}

/** Chain and wallet of an example process. */
export async function exampleEnv(): Promise<{ rpcUrl: string; deployment: Deployment; wallet: Wallet }> {
  const status = JSON.parse(
    readFileSync(need('DIBS_CHAIN', 'a file with the output of `dibs chain status --json`'), 'utf8'),
  );
  const { rpcUrl, deployment } = deploymentFromStatus(status);
  const keystore = need(
    'DIBS_KEYSTORE',
    'the wallet keystore file (e.g. made by `dibs init` in another data directory)',
  );
  const passphrase = readFileSync(
    need('DIBS_PASSPHRASE_FILE', 'a file holding the keystore passphrase'),
    'utf8',
  ).trim();
  return { rpcUrl, deployment, wallet: await readKeystoreFile(keystore, passphrase) };
}
