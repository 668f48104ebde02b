import { accessGrantsAbi, organizationsAbi, orgTokenAbi, registryAbi, tokenAbi } from '@dibs/contracts';
import {
  type Abi,
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  type Hex,
  type TransactionReceipt,
} from 'viem';
import type { ChainClients } from './clients.ts';
import { RECEIPT_TIMEOUT_MS } from './constants.ts';
import { ContractRevertError, NoAccountError } from './errors.ts';
import { transactionQueueFor } from './tx-queue.ts';

/** Every custom error the DIBS contracts (and the tokens they call) can revert with. */
export const dibsErrorsAbi: Abi = (() => {
  const seen = new Map<string, Abi[number]>();
  for (const abi of [
    registryAbi,
    accessGrantsAbi,
    organizationsAbi,
    tokenAbi,
    orgTokenAbi,
  ] as readonly Abi[]) {
    for (const item of abi) if (item.type === 'error' && !seen.has(item.name)) seen.set(item.name, item);
  }
  return [...seen.values()];
})();

/** The custom error name and arguments inside a viem error, when its revert data decodes. */
export function decodeRevert(err: unknown): {
  errorName?: string;
  args?: readonly unknown[];
  detail: string;
} {
  const detail = err instanceof BaseError ? err.shortMessage : ((err as Error)?.message ?? String(err));
  if (!(err instanceof BaseError)) return { detail };
  const reverted = err.walk(
    (e) => e instanceof ContractFunctionRevertedError,
  ) as ContractFunctionRevertedError | null;
  if (!reverted) return { detail };
  if (reverted.data?.errorName && reverted.data.errorName !== 'Error') {
    return { errorName: reverted.data.errorName, args: reverted.data.args ?? [], detail };
  }
  const raw = reverted.raw as Hex | undefined;
  if (raw && raw.length >= 10) {
    try {
      const decoded = decodeErrorResult({ abi: dibsErrorsAbi, data: raw });
      return { errorName: decoded.errorName, args: decoded.args ?? [], detail };
    } catch {
      // not one of ours
    }
  }
  if (reverted.reason) return { detail: reverted.reason };
  return { detail };
}

/** A contract write: which contract, which function, with what. */
export interface ContractWrite {
  /** Human name used in errors, e.g. "Services". */
  contract: string;
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
}

/**
 * Simulates, sends (through the wallet's transaction queue) and waits for one contract write; a revert (in simulation or on chain) becomes a
 * ContractRevertError carrying the contract's custom error name.
 */
export async function sendContractWrite(
  clients: ChainClients,
  write: ContractWrite,
): Promise<TransactionReceipt> {
  const { walletClient, publicClient } = clients;
  if (!walletClient) throw new NoAccountError(`call ${write.contract}.${write.functionName}`);
  const fail = (err: unknown, transactionHash?: string): never => {
    const { errorName, args, detail } = decodeRevert(err);
    throw new ContractRevertError(
      {
        contract: write.contract,
        functionName: write.functionName,
        errorName,
        args,
        detail,
        transactionHash,
      },
      { cause: err },
    );
  };
  let request: Parameters<typeof walletClient.writeContract>[0];
  try {
    const sim = await publicClient.simulateContract({
      account: walletClient.account,
      address: write.address,
      abi: write.abi,
      functionName: write.functionName,
      args: write.args,
    } as Parameters<typeof publicClient.simulateContract>[0]);
    request = sim.request as Parameters<typeof walletClient.writeContract>[0];
  } catch (err) {
    return fail(err);
  }
  const queue = transactionQueueFor(clients);
  let hash: Hex;
  try {
    hash = await queue.send(clients, (nonce) => walletClient.writeContract({ ...request, nonce }));
  } catch (err) {
    return fail(err);
  }
  const receipt = await queue.track(
    publicClient.waitForTransactionReceipt({ hash, timeout: RECEIPT_TIMEOUT_MS }),
  );
  if (receipt.status !== 'success') {
    // State changed between simulation and mining: replay at the receipt's block for the reason.
    try {
      await publicClient.simulateContract({
        ...(request as object),
        blockNumber: receipt.blockNumber,
      } as Parameters<typeof publicClient.simulateContract>[0]);
    } catch (err) {
      return fail(err, hash);
    }
    return fail(new Error(`transaction ${hash} reverted in block ${receipt.blockNumber}`), hash);
  }
  return receipt;
}
