import {
  type Address,
  encodeDeployData,
  getAddress,
  getContractAddress,
  type Hex,
  type PublicClient,
  type WalletClient,
} from 'viem';
import { accessGrantsAbi, organizationsAbi, registryAbi, tokenAbi } from '../generated/abis.ts';
import {
  accessGrantsBytecode,
  organizationsBytecode,
  registryBytecode,
  tokenBytecode,
} from '../generated/bytecode.ts';
import {
  DEPLOY_GAS_MARGIN_PERCENT,
  DEPLOY_POLL_INTERVAL_MS,
  DEPLOY_RECEIPT_TIMEOUT_MS,
} from './constants.ts';
import { ContractsError } from './errors.ts';

/** What deployContracts needs. */
export interface DeployParams {
  /** Signs and sends the deployments; must carry an account. */
  walletClient: WalletClient;
  /** Reads nonce, fees and receipts. */
  publicClient: PublicClient;
  /** Owner of Token and Registry (mints DIBS, approves bootstrap nodes); default: the deploying account. */
  owner?: Address;
  /** How long to wait for each receipt; default DEPLOY_RECEIPT_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Receipt polling interval; default DEPLOY_POLL_INTERVAL_MS. */
  pollingIntervalMs?: number;
}

/** Addresses of a deployed suite. `services` and `accessGrants` are the same contract. */
export interface DeployedContracts {
  token: Address;
  registry: Address;
  services: Address;
  accessGrants: Address;
  organizations: Address;
  /** The block of the first deployment: scan events from here. */
  deployedAtBlock: bigint;
}

/**
 * Deploys Token, Registry, Organizations and AccessGrants (which is also Services) in four
 * transactions sent back to back with explicit nonce, gas and fees, so no slow transaction filling.
 */
export async function deployContracts(params: DeployParams): Promise<DeployedContracts> {
  const { walletClient, publicClient } = params;
  const account = walletClient.account;
  if (!account) {
    throw new ContractsError(
      'NO_ACCOUNT',
      'deployContracts needs a WalletClient created with an account (the deployer key)',
    );
  }
  const owner = params.owner ?? account.address;
  const [chainId, firstNonce, fees] = await Promise.all([
    publicClient.getChainId(),
    publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' }),
    publicClient.estimateFeesPerGas(),
  ]);
  const organizations = getContractAddress({ from: account.address, nonce: BigInt(firstNonce + 2) });
  const plan: { name: string; data: Hex }[] = [
    { name: 'Token', data: encodeDeployData({ abi: tokenAbi, bytecode: tokenBytecode, args: [owner] }) },
    {
      name: 'Registry',
      data: encodeDeployData({ abi: registryAbi, bytecode: registryBytecode, args: [owner] }),
    },
    {
      name: 'Organizations',
      data: encodeDeployData({ abi: organizationsAbi, bytecode: organizationsBytecode }),
    },
    {
      name: 'AccessGrants',
      data: encodeDeployData({ abi: accessGrantsAbi, bytecode: accessGrantsBytecode, args: [organizations] }),
    },
  ];
  const gasLimits = await Promise.all(
    plan.map(async (step) => {
      try {
        const estimate = await publicClient.estimateGas({ account: account.address, data: step.data });
        return estimate + (estimate * DEPLOY_GAS_MARGIN_PERCENT) / 100n;
      } catch (err) {
        throw new ContractsError(
          'DEPLOY_ESTIMATE_FAILED',
          `estimating gas to deploy ${step.name} failed (is the deployer funded and the RPC an EVM chain?): ${message(err)}`,
        );
      }
    }),
  );

  const hashes: Hex[] = [];
  for (const [i, step] of plan.entries()) {
    try {
      hashes.push(
        await walletClient.sendTransaction({
          account,
          chain: walletClient.chain ?? null,
          chainId,
          to: null,
          data: step.data,
          nonce: firstNonce + i,
          gas: gasLimits[i]!,
          maxFeePerGas: fees.maxFeePerGas,
          maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
          type: 'eip1559',
        } as Parameters<WalletClient['sendTransaction']>[0]),
      );
    } catch (err) {
      throw new ContractsError(
        'DEPLOY_SEND_FAILED',
        `sending the ${step.name} deployment failed: ${message(err)}`,
      );
    }
  }

  const receipts = await Promise.all(
    hashes.map(async (hash, i) => {
      const receipt = await publicClient
        .waitForTransactionReceipt({
          hash,
          timeout: params.timeoutMs ?? DEPLOY_RECEIPT_TIMEOUT_MS,
          pollingInterval: params.pollingIntervalMs ?? DEPLOY_POLL_INTERVAL_MS,
        })
        .catch((err: unknown) => {
          throw new ContractsError(
            'DEPLOY_RECEIPT_TIMEOUT',
            `no receipt for the ${plan[i]!.name} deployment ${hash}; check that the chain is mining: ${message(err)}`,
          );
        });
      if (receipt.status !== 'success' || !receipt.contractAddress) {
        throw new ContractsError(
          'DEPLOY_REVERTED',
          `the ${plan[i]!.name} deployment ${hash} reverted; the chain must support evmVersion cancun`,
        );
      }
      return receipt;
    }),
  );
  const address = (i: number): Address => getAddress(receipts[i]!.contractAddress!);
  if (address(2).toLowerCase() !== organizations.toLowerCase()) {
    throw new ContractsError(
      'DEPLOY_NONCE_RACE',
      `Organizations landed at ${address(2)}, not ${organizations}: another transaction from the deployer interfered; deploy again`,
    );
  }
  return {
    token: address(0),
    registry: address(1),
    organizations: address(2),
    services: address(3),
    accessGrants: address(3),
    // Nonce order means the first deployment is mined no later than the others.
    deployedAtBlock: receipts[0]!.blockNumber,
  };
}

function message(err: unknown): string {
  if (err instanceof Error) return (err as { shortMessage?: string }).shortMessage ?? err.message;
  return String(err);
}
