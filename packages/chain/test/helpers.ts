import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { type Hex, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { type AnvilOptions, AnvilSupervisor, isProcessAlive } from '../src/anvil.ts';
import { type ChainClients, createChainClients } from '../src/clients.ts';

/** Absolute path of the Node 24 binary that runs this code. */
export const NODE_BIN = process.execPath;

/** A fresh temporary directory removed after the test. */
export function tempDir(t: TestContext, prefix = 'dibs-chain-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts a supervised anvil for one test and stops it afterwards. */
export async function startAnvil(
  t: TestContext,
  options: Partial<AnvilOptions> = {},
): Promise<AnvilSupervisor> {
  const anvil = new AnvilSupervisor({ dataDir: options.dataDir ?? tempDir(t), ...options });
  t.after(() => anvil.stop());
  await anvil.start();
  return anvil;
}

/** Polls `check` until it returns a value other than undefined/false, at most `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A new random key whose address anvil funds with 1000 ETH. */
export async function fundedKey(rpcUrl: string): Promise<Hex> {
  const key = generatePrivateKey();
  const address = privateKeyToAccount(key).address;
  const res = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'anvil_setBalance',
      params: [address, `0x${parseEther('1000').toString(16)}`],
    }),
  });
  const body = (await res.json()) as { error?: { message: string } };
  if (body.error) throw new Error(`anvil_setBalance failed: ${body.error.message}`);
  return key;
}

/** Clients for `rpcUrl` signing with a freshly funded key. */
export async function fundedClients(rpcUrl: string): Promise<ChainClients> {
  return createChainClients({ rpcUrl, account: await fundedKey(rpcUrl) });
}

/** True while a process with this pid runs (zombies count as gone). */
export const isAlive = isProcessAlive;
