/**
 * Sign-In with Ethereum (EIP-4361) for the login step: the provider writes the message (its own
 * domain and URI, the chain, a one-time nonce), the wallet signs it (EIP-191), and the provider checks
 * every field and the signature — by recovering the signer for key accounts, and by asking the
 * account's contract (ERC-1271 `isValidSignature`) for smart-contract wallets.
 */
import {
  type Address,
  getAddress,
  hashMessage,
  type Hex,
  isAddress,
  isHex,
  type PublicClient,
  recoverMessageAddress,
} from 'viem';
import { createSiweMessage, parseSiweMessage, type SiweMessage } from 'viem/siwe';
import {
  ERC1271_MAGIC_VALUE,
  MAX_SIGNATURE_HEX_CHARS,
  MAX_SIWE_MESSAGE_BYTES,
  SIWE_NONCE_TTL_MS,
  SIWE_VERSION,
} from './constants.ts';
import { LoginError } from './errors.ts';
import type { NonceBook } from './nonces.ts';

const erc1271Abi = [
  {
    type: 'function',
    name: 'isValidSignature',
    stateMutability: 'view',
    inputs: [
      { name: 'hash', type: 'bytes32' },
      { name: 'signature', type: 'bytes' },
    ],
    outputs: [{ name: '', type: 'bytes4' }],
  },
] as const;

/** Options of {@link SiweVerifier}. */
export interface SiweVerifierOptions {
  /** The provider's issuer URL; its authority is the SIWE `domain`, its origin the `uri`. */
  issuer: string;
  chainId: number;
  publicClient: PublicClient;
  nonces: NonceBook;
  now?: () => number;
}

/** A verified sign-in: who signed, and whether a contract wallet vouched for the signature. */
export interface VerifiedSiwe {
  address: Address;
  message: SiweMessage;
  contractWallet: boolean;
}

/** Writes and checks the SIWE messages of one provider. */
export class SiweVerifier {
  readonly domain: string;
  readonly uri: string;
  readonly chainId: number;
  readonly #client: PublicClient;
  readonly #nonces: NonceBook;
  readonly #now: () => number;

  constructor(options: SiweVerifierOptions) {
    const issuer = new URL(options.issuer);
    this.domain = issuer.host;
    this.uri = issuer.origin;
    this.chainId = options.chainId;
    this.#client = options.publicClient;
    this.#nonces = options.nonces;
    this.#now = options.now ?? Date.now;
  }

  /** The message `address` is asked to sign for login interaction `interaction`. */
  message(params: { address: string; interaction: string; statement: string; resources?: string[] }): string {
    if (!isAddress(params.address, { strict: false })) {
      throw new LoginError(
        'BAD_REQUEST',
        `"${params.address}" is not an Ethereum address`,
        'connect a wallet',
      );
    }
    const { nonce, expiresAt } = this.#nonces.issue(params.interaction);
    return createSiweMessage({
      address: getAddress(params.address),
      chainId: this.chainId,
      domain: this.domain,
      uri: this.uri,
      version: SIWE_VERSION,
      nonce,
      issuedAt: new Date(this.#now()),
      expirationTime: new Date(expiresAt),
      statement: params.statement,
      requestId: params.interaction,
      ...(params.resources ? { resources: params.resources } : {}),
    });
  }

  /** Checks a signed message for login interaction `interaction`; consumes its nonce. */
  async verify(params: { message: string; signature: string; interaction: string }): Promise<VerifiedSiwe> {
    const { message, signature, interaction } = params;
    if (typeof message !== 'string' || Buffer.byteLength(message) > MAX_SIWE_MESSAGE_BYTES) {
      throw new LoginError(
        'BAD_SIWE_MESSAGE',
        `the sign-in message must be a string of at most ${MAX_SIWE_MESSAGE_BYTES} bytes`,
        'sign the message the login page gave you',
      );
    }
    if (typeof signature !== 'string' || signature.length > MAX_SIGNATURE_HEX_CHARS || !isHex(signature)) {
      throw new LoginError('BAD_SIGNATURE', 'the signature must be 0x-prefixed hex', 'sign with your wallet');
    }
    const parsed = parseSiweMessage(message);
    const { address, nonce } = parsed;
    if (!address || !isAddress(address, { strict: false }) || !nonce || !parsed.uri || !parsed.domain) {
      throw new LoginError(
        'BAD_SIWE_MESSAGE',
        'the sign-in message is not an EIP-4361 message (address, domain, uri and nonce are required)',
        'sign the message the login page gave you',
      );
    }
    if (parsed.version !== SIWE_VERSION) {
      throw new LoginError(
        'BAD_SIWE_MESSAGE',
        `SIWE version ${parsed.version} is not supported`,
        'use version 1',
      );
    }
    if (parsed.domain !== this.domain) {
      throw new LoginError(
        'WRONG_DOMAIN',
        `the message signs in to ${parsed.domain}, not to ${this.domain}`,
        'a message signed for another site is never accepted here; sign in again',
      );
    }
    if (parsed.uri !== this.uri) {
      throw new LoginError('WRONG_URI', `the message names ${parsed.uri}, not ${this.uri}`, 'sign in again');
    }
    if (parsed.chainId !== this.chainId) {
      throw new LoginError(
        'WRONG_CHAIN',
        `the message is for chain ${parsed.chainId}; this provider runs on chain ${this.chainId}`,
        'switch the wallet to the right chain and sign in again',
      );
    }
    if (parsed.requestId !== undefined && parsed.requestId !== interaction) {
      throw new LoginError('BAD_NONCE', 'the message belongs to another login', 'sign in again');
    }
    const now = this.#now();
    if (parsed.expirationTime && parsed.expirationTime.getTime() <= now) {
      throw new LoginError('SIWE_EXPIRED', 'the sign-in message has expired', 'sign in again');
    }
    if (parsed.notBefore && parsed.notBefore.getTime() > now) {
      throw new LoginError(
        'SIWE_EXPIRED',
        'the sign-in message is not valid yet',
        "check the computer's clock",
      );
    }
    if (parsed.issuedAt && Math.abs(parsed.issuedAt.getTime() - now) > SIWE_NONCE_TTL_MS) {
      throw new LoginError('SIWE_EXPIRED', 'the sign-in message was issued too long ago', 'sign in again');
    }
    // The nonce is spent on the first attempt, good or bad: a failed signature cannot be retried.
    if (!this.#nonces.take(nonce, interaction)) {
      throw new LoginError(
        'BAD_NONCE',
        'the message nonce is unknown, used or expired',
        'reload the login page and sign the new message',
      );
    }
    const account = getAddress(address);
    const contractWallet = await this.#checkSignature(account, message, signature as Hex);
    return { address: account, message: parsed as SiweMessage, contractWallet };
  }

  /** True when a contract wallet vouched for the signature, false for a key account; throws if neither. */
  async #checkSignature(account: Address, message: string, signature: Hex): Promise<boolean> {
    let recovered: Address | undefined;
    if (signature.length === 132) {
      try {
        recovered = await recoverMessageAddress({ message, signature });
      } catch {
        recovered = undefined;
      }
    }
    if (recovered === account) return false;
    let code: Hex | undefined;
    try {
      code = await this.#client.getCode({ address: account });
    } catch (err) {
      throw new LoginError(
        'CHAIN_UNAVAILABLE',
        'cannot reach the chain to check a contract wallet',
        'retry',
        {
          cause: err,
        },
      );
    }
    if (code && code !== '0x') {
      try {
        const result = await this.#client.readContract({
          address: account,
          abi: erc1271Abi,
          functionName: 'isValidSignature',
          args: [hashMessage(message), signature],
        });
        if (result.toLowerCase() === ERC1271_MAGIC_VALUE) return true;
      } catch {
        // a contract without ERC-1271, or one that reverts: the signature is not its
      }
    }
    throw new LoginError(
      'BAD_SIGNATURE',
      `the signature was not made by ${account}`,
      'sign the message with the wallet it names',
    );
  }
}
