import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  MethodNotFoundRpcError,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { probeChainId } from './anvil.ts';
import {
  DEFAULT_CHAIN_ID,
  RPC_POLLING_INTERVAL_MS,
  RPC_PROBE_TIMEOUT_MS,
  RPC_REQUEST_TIMEOUT_MS,
  RPC_RETRY_COUNT,
} from './constants.ts';
import { ChainIdMismatchError, ChainUnreachableError } from './errors.ts';

/** Options of `createChainClients`. */
export interface ChainClientsOptions {
  /** Any EVM JSON-RPC HTTP URL: the embedded anvil or an external network. */
  rpcUrl: string;
  /** Expected chain id; the endpoint's own id is used (and reported) when omitted. */
  chainId?: number;
  /** Signing account (a viem account or a raw private key); without it the clients are read-only. */
  account?: Account | Hex;
  probeTimeoutMs?: number;
  requestTimeoutMs?: number;
  retryCount?: number;
  pollingIntervalMs?: number;
}

/** A public client, and a wallet client when an account was given, bound to one chain. */
export interface ChainClients {
  rpcUrl: string;
  chainId: number;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account> | undefined;
  account: Account | undefined;
}

/**
 * HTTP transport that answers eth_fillTransaction locally as unsupported, so viem fills nonce, gas
 * and fees with the standard calls instead of a probe some nodes answer slowly or oddly.
 */
export function dibsHttpTransport(
  rpcUrl: string,
  options: { timeoutMs?: number; retryCount?: number } = {},
): Transport {
  const base = http(rpcUrl, {
    timeout: options.timeoutMs ?? RPC_REQUEST_TIMEOUT_MS,
    retryCount: options.retryCount ?? RPC_RETRY_COUNT,
  });
  return ((params) => {
    const inner = base(params);
    const request: typeof inner.request = async (args, opts) => {
      if (args.method === 'eth_fillTransaction') {
        throw new MethodNotFoundRpcError(new Error('eth_fillTransaction is not used by DIBS'), {
          method: 'eth_fillTransaction',
        });
      }
      return inner.request(args, opts);
    };
    return { ...inner, request };
  }) as Transport;
}

/** Describes a chain id as a viem chain (ETH-denominated, single RPC URL). */
export function chainFor(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: chainId === DEFAULT_CHAIN_ID ? 'DIBS devnet' : `chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

/**
 * Connects to a JSON-RPC endpoint: probes it (bounded), checks the chain id and returns viem clients
 * that behave the same for the embedded chain and any external network.
 */
export async function createChainClients(options: ChainClientsOptions): Promise<ChainClients> {
  const { rpcUrl } = options;
  let url: URL;
  try {
    url = new URL(rpcUrl);
  } catch (err) {
    throw new ChainUnreachableError(rpcUrl, 'not a valid URL', { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ChainUnreachableError(rpcUrl, `unsupported protocol ${url.protocol} (use http or https)`);
  }
  let actual: number;
  try {
    actual = await probeChainId(rpcUrl, options.probeTimeoutMs ?? RPC_PROBE_TIMEOUT_MS);
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const detail =
      e.name === 'TimeoutError'
        ? `no answer within ${options.probeTimeoutMs ?? RPC_PROBE_TIMEOUT_MS} ms`
        : (e.cause?.code ?? e.message);
    throw new ChainUnreachableError(rpcUrl, detail, { cause: err });
  }
  if (!Number.isSafeInteger(actual) || actual <= 0) {
    throw new ChainUnreachableError(rpcUrl, 'eth_chainId returned no valid chain id');
  }
  if (options.chainId !== undefined && options.chainId !== actual) {
    throw new ChainIdMismatchError(rpcUrl, options.chainId, actual);
  }
  const chain = chainFor(actual, rpcUrl);
  const transport = dibsHttpTransport(rpcUrl, {
    ...(options.requestTimeoutMs !== undefined ? { timeoutMs: options.requestTimeoutMs } : {}),
    ...(options.retryCount !== undefined ? { retryCount: options.retryCount } : {}),
  });
  const pollingInterval = options.pollingIntervalMs ?? RPC_POLLING_INTERVAL_MS;
  const publicClient = createPublicClient({ chain, transport, pollingInterval }) as PublicClient<
    Transport,
    Chain
  >;
  const account =
    typeof options.account === 'string' ? privateKeyToAccount(options.account) : options.account;
  const walletClient = account
    ? createWalletClient({ account, chain, transport, pollingInterval })
    : undefined;
  return { rpcUrl, chainId: actual, chain, publicClient, walletClient, account };
}
