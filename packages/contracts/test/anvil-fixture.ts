/**
 * Test fixture: a real anvil on a free loopback port, clients for the dev accounts, and helpers to
 * send transactions and assert custom-error reverts. One anvil per test file; stop() kills it by PID.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  type Abi,
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createTestClient,
  createWalletClient,
  http,
  parseEventLogs,
  type PublicClient,
  type TestClient,
  type TransactionReceipt,
  type WalletClient,
} from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { anvil } from 'viem/chains';

const ANVIL_BIN = fileURLToPath(
  new URL('../../../node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil', import.meta.url),
);
/** anvil's well-known dev mnemonic; its first accounts are funded with 10,000 ETH. */
export const DEV_MNEMONIC = 'test test test test test test test test test test test junk';
const START_ATTEMPTS = 3;
const READY_POLLS = 200;
const READY_POLL_MS = 50;
const RECEIPT_TIMEOUT_MS = 30_000;
const GAS_MARGIN = 20_000n;

/** A running anvil and clients bound to it. */
export interface Anvil {
  url: string;
  pid: number;
  publicClient: PublicClient;
  testClient: TestClient;
  /** Dev account addresses by index (0 = deployer/owner). */
  accounts: Address[];
  /** A wallet client for dev account `index`, using anvil's unlocked account (anvil fills gas). */
  wallet(index: number): WalletClient;
  /** A wallet client that signs locally with dev account `index`'s key, as production does. */
  localWallet(index: number): WalletClient;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < READY_POLLS; i++) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      });
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  return false;
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined)
    return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      process.kill(child.pid!, 'SIGKILL');
    }, 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    process.kill(child.pid!, 'SIGTERM');
  });
}

/** Starts anvil (cancun, chain id 31337) on a free port and waits until it answers eth_chainId. */
export async function startAnvil(): Promise<Anvil> {
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freePort();
    const child = spawn(
      ANVIL_BIN,
      [
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--silent',
        '--hardfork',
        'cancun',
        '--chain-id',
        '31337',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    const url = `http://127.0.0.1:${port}`;
    if (!(await waitReady(url, child))) {
      await kill(child);
      if (attempt === START_ATTEMPTS) throw new Error(`anvil did not start on ${url}: ${stderr}`);
      continue;
    }
    const transport = http(url, { retryCount: 0 });
    const publicClient = createPublicClient({ chain: anvil, transport, pollingInterval: 50 });
    const testClient = createTestClient({ chain: anvil, mode: 'anvil', transport });
    const hd = Array.from({ length: 10 }, (_, i) => mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i }));
    return {
      url,
      pid: child.pid!,
      publicClient,
      testClient,
      accounts: hd.map((a) => a.address),
      wallet: (i) => createWalletClient({ account: hd[i]!.address, chain: anvil, transport }),
      localWallet: (i) => createWalletClient({ account: hd[i]!, chain: anvil, transport }),
      stop: () => kill(child),
    };
  }
  throw new Error('unreachable');
}

/** A contract write: address, abi, function and arguments. */
export interface Call {
  address: Address;
  abi: Abi;
  functionName: string;
  args?: readonly unknown[];
}

/**
 * Sends `call` from `wallet`, waits for the receipt and asserts it succeeded. The gas limit is the
 * estimate plus a margin: anvil estimates against the latest block's timestamp, so a transaction
 * whose storage writes depend on block.timestamp after evm_increaseTime can need more than estimated.
 */
export async function send(chain: Anvil, wallet: WalletClient, call: Call): Promise<TransactionReceipt> {
  const account = wallet.account!;
  const estimate = await chain.publicClient.estimateContractGas({
    ...call,
    account: account.address,
  } as Parameters<PublicClient['estimateContractGas']>[0]);
  const hash = await wallet.writeContract({
    ...call,
    account,
    chain: anvil,
    gas: (estimate * 5n) / 4n + GAS_MARGIN,
  } as Parameters<WalletClient['writeContract']>[0]);
  const receipt = await chain.publicClient.waitForTransactionReceipt({
    hash,
    timeout: RECEIPT_TIMEOUT_MS,
    pollingInterval: 50,
  });
  assert.equal(receipt.status, 'success', `${call.functionName} reverted`);
  return receipt;
}

/** Reads a view function. */
export function read<T>(chain: Anvil, call: Call): Promise<T> {
  return chain.publicClient.readContract(call as Parameters<PublicClient['readContract']>[0]) as Promise<T>;
}

/** The decoded custom error a call from `from` reverts with (via eth_call on the real chain). */
export async function revertOf(
  chain: Anvil,
  from: Address,
  call: Call,
): Promise<{ errorName: string; args: readonly unknown[] }> {
  try {
    await chain.publicClient.simulateContract({ ...call, account: from } as Parameters<
      PublicClient['simulateContract']
    >[0]);
  } catch (err) {
    if (err instanceof BaseError) {
      const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
      if (reverted instanceof ContractFunctionRevertedError && reverted.data) {
        return { errorName: reverted.data.errorName, args: reverted.data.args ?? [] };
      }
    }
    throw err;
  }
  assert.fail(`${call.functionName} from ${from} did not revert`);
}

/** Asserts that `call` from `from` reverts with custom error `errorName` (and `args`, if given). */
export async function expectRevert(
  chain: Anvil,
  from: Address,
  call: Call,
  errorName: string,
  args?: readonly unknown[],
): Promise<void> {
  const got = await revertOf(chain, from, call);
  assert.equal(got.errorName, errorName, `${call.functionName} reverted with ${got.errorName}`);
  if (args) assert.deepEqual(got.args, args);
}

/** The decoded arguments of every `eventName` log in `receipt` emitted by `address`. */
export function eventsOf(
  receipt: TransactionReceipt,
  address: Address,
  abi: Abi,
  eventName: string,
): Record<string, unknown>[] {
  const logs = receipt.logs.filter((l) => l.address.toLowerCase() === address.toLowerCase());
  return parseEventLogs({ abi, logs, eventName }).map((l) => l.args as Record<string, unknown>);
}
