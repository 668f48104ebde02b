/**
 * Chain reads an access decision depends on, each proven against the newest accepted checkpoint:
 * grant, service, identity encryption key, organization membership and the node set. An RPC whose
 * answer does not verify is refused, logged with its URL, and the next RPC URL is tried.
 */
import { type Address, getAddress, type Hex, hexToString, keccak256, numberToHex, toHex } from 'viem';
import type { Checkpoint } from './checkpoint.ts';
import {
  GRANT_EXPIRES_SHIFT,
  GRANT_ISSUED_SHIFT,
  GRANT_REVOKED_BIT,
  GRANT_TIME_MASK,
  MAX_REFUSALS_KEPT,
} from './constants.ts';
import { LightError, type LightErrorCode } from './errors.ts';
import { expandProof } from './compact-proof.ts';
import { nodeSetFrom } from './node-set.ts';
import { ProvenStorageRoots, verifyHeader, verifyProof } from './proof.ts';
import { type RpcCallOptions, rpcCall } from './rpc.ts';
import {
  field,
  grantSlot,
  identityKeySlot,
  memberSlot,
  type SlotField,
  serviceSlots,
  slotKey,
} from './slots.ts';

/** The contracts a verified reader proves values of. */
export interface VerifiedDeployment {
  chainId: number;
  registry: Address;
  accessGrants: Address;
  organizations: Address;
}

/** An RPC answer that was refused, kept for status and logs. */
export interface RefusedAnswer {
  /** Unix ms. */
  at: number;
  url: string;
  /** What was read (e.g. `grant 18446744073709551617`). */
  what: string;
  code: LightErrorCode;
  reason: string;
}

/** A grant as proven from AccessGrants storage. */
export interface ProvenGrant {
  grantId: bigint;
  serviceId: bigint;
  grantee: Address;
  issuedAt: bigint;
  expiresAt: bigint;
  revoked: boolean;
}

/** A service as proven from AccessGrants (Services) storage. */
export interface ProvenService {
  serviceId: bigint;
  owner: Address;
  host: Address;
  serviceType: string;
  active: boolean;
  policy: number;
  policyRef: bigint;
}

/** Options of {@link VerifiedReader}. */
export interface VerifiedReaderOptions {
  /** RPC URLs, tried in turn; the last one that answered truthfully is asked first. */
  rpcUrls: readonly string[];
  deployment: VerifiedDeployment;
  /** The newest accepted checkpoint (reads are proven against it). */
  checkpoint: () => Checkpoint | undefined;
  /** Called on every refused answer (the node logs it). */
  onRefused?: (refused: RefusedAnswer) => void;
  rpc?: Omit<RpcCallOptions, 'onBytes'>;
}

const GRANT_SERVICE_SHIFT = 64n;
const ZERO = '0x0000000000000000000000000000000000000000' as Address;

function address(word: bigint): Address {
  return getAddress(numberToHex(word & ((1n << 160n) - 1n), { size: 20 }));
}

/** Proves chain state against accepted checkpoints, failing over between RPC URLs. */
export class VerifiedReader {
  readonly #opts: VerifiedReaderOptions;
  #preferred = 0;
  #refusals: RefusedAnswer[] = [];
  /** `url blockHash` pairs whose header verified. */
  #headers = new Set<string>();
  #roots = new ProvenStorageRoots();
  /** Bytes of RPC answers downloaded. */
  bytesDownloaded = 0;
  /** Proof verifications that succeeded (one per storage slot). */
  verifiedSlots = 0;
  refusedCount = 0;

  constructor(options: VerifiedReaderOptions) {
    if (options.rpcUrls.length === 0)
      throw new LightError('INVALID_ARGUMENT', 'a verified reader needs at least one RPC URL');
    this.#opts = options;
  }

  /** The newest refused answers, newest last. */
  refusals(): RefusedAnswer[] {
    return [...this.#refusals];
  }

  /** The newest accepted checkpoint, which reads are proven against. */
  checkpoint(): Checkpoint | undefined {
    return this.#opts.checkpoint();
  }

  #checkpoint(at?: Checkpoint): Checkpoint {
    const cp = at ?? this.#opts.checkpoint();
    if (!cp)
      throw new LightError(
        'NO_CHECKPOINT',
        'no accepted checkpoint yet; the light node cannot prove chain state',
      );
    return cp;
  }

  #refuse(url: string, what: string, err: LightError): void {
    const r: RefusedAnswer = { at: Date.now(), url, what, code: err.code, reason: err.message };
    this.refusedCount++;
    this.#refusals.push(r);
    if (this.#refusals.length > MAX_REFUSALS_KEPT) this.#refusals.shift();
    this.#opts.onRefused?.(r);
  }

  /** Proves `keys` of `contract`'s storage at `checkpoint` (default: the newest accepted one). */
  async readSlots(
    contract: Address,
    keys: readonly Hex[],
    what: string,
    at?: Checkpoint,
  ): Promise<Map<Hex, bigint>> {
    const cp = this.#checkpoint(at);
    const urls = this.#opts.rpcUrls;
    const rpc = { ...this.#opts.rpc, onBytes: (n: number) => (this.bytesDownloaded += n) };
    const failures: string[] = [];
    for (let i = 0; i < urls.length; i++) {
      const index = (this.#preferred + i) % urls.length;
      const url = urls[index]!;
      try {
        const headerKey = `${url} ${cp.blockHash}`;
        if (!this.#headers.has(headerKey)) {
          verifyHeader(await rpcCall(url, 'eth_getBlockByNumber', [toHex(cp.number), false], rpc), cp);
          if (this.#headers.size > 256) this.#headers.clear();
          this.#headers.add(headerKey);
        }
        const answer = await rpcCall(url, 'eth_getProof', [contract, keys, toHex(cp.number)], rpc);
        const values = await verifyProof(cp.stateRoot, contract, keys, answer, this.#roots);
        this.verifiedSlots += keys.length;
        this.#preferred = index;
        return values;
      } catch (err) {
        if (!(err instanceof LightError)) throw err;
        this.#refuse(url, what, err);
        failures.push(`${url}: ${err.message}`);
      }
    }
    throw new LightError(
      'ALL_RPCS_FAILED',
      `no RPC gave a verifiable answer for ${what}: ${failures.join('; ')}`,
    );
  }

  /** Grant `grantId` at the checkpoint, or null when it does not exist. */
  async grant(grantId: bigint, at?: Checkpoint): Promise<ProvenGrant | null> {
    const key = grantSlot(grantId);
    const g = (await this.readSlots(this.#opts.deployment.accessGrants, [key], `grant ${grantId}`, at)).get(
      key,
    )!;
    if (g === 0n) return null;
    return {
      grantId,
      serviceId: grantId >> GRANT_SERVICE_SHIFT,
      grantee: address(g),
      issuedAt: (g >> GRANT_ISSUED_SHIFT) & GRANT_TIME_MASK,
      expiresAt: (g >> GRANT_EXPIRES_SHIFT) & GRANT_TIME_MASK,
      revoked: (g & GRANT_REVOKED_BIT) !== 0n,
    };
  }

  /** Service `serviceId` at the checkpoint, or null when it was never published. */
  async service(serviceId: bigint, at?: Checkpoint): Promise<ProvenService | null> {
    const s = serviceSlots(serviceId);
    const contract = this.#opts.deployment.accessGrants;
    const fields: SlotField[] = [s.owner, s.active, s.policy, s.host, s.policyRef, s.serviceType];
    const keys = [...new Set(fields.map((f) => f.slot))];
    const what = `service ${serviceId}`;
    const words = await this.readSlots(contract, keys, what, at);
    const word = (f: SlotField) => field(words.get(f.slot)!, f);
    const owner = address(word(s.owner));
    if (owner === ZERO) return null;
    const typeWord = words.get(s.serviceType.slot)!;
    let serviceType: string;
    if ((typeWord & 1n) === 0n) {
      const length = Number((typeWord & 0xffn) / 2n);
      serviceType = hexToString(numberToHex(typeWord >> BigInt(8 * (32 - length)), { size: length }));
    } else {
      // Long form (32 bytes, the contract's maximum): the data sits at keccak256(slot).
      const length = Number((typeWord - 1n) / 2n);
      if (length > 32)
        throw new LightError('PROOF_INVALID', `service ${serviceId} type is ${length} bytes, over 32`);
      const dataKey = slotKey(BigInt(keccak256(s.serviceType.slot)));
      const data = (await this.readSlots(contract, [dataKey], what, at)).get(dataKey)!;
      serviceType = hexToString(numberToHex(data >> BigInt(8 * (32 - length)), { size: length }));
    }
    return {
      serviceId,
      owner,
      host: address(word(s.host)),
      serviceType,
      active: word(s.active) !== 0n,
      policy: Number(word(s.policy)),
      policyRef: word(s.policyRef),
    };
  }

  /** `account`'s registered X25519 encryption key, or null when it has none. */
  async identityKey(account: Address, at?: Checkpoint): Promise<Uint8Array | null> {
    const f = identityKeySlot(account);
    const v = (await this.readSlots(this.#opts.deployment.registry, [f.slot], `identity ${account}`, at)).get(
      f.slot,
    )!;
    const key = field(v, f);
    return key === 0n ? null : Uint8Array.from(Buffer.from(numberToHex(key, { size: 32 }).slice(2), 'hex'));
  }

  /** Whether `account` is a member of organization `orgId`. */
  async isMember(orgId: bigint, account: Address, at?: Checkpoint): Promise<boolean> {
    const key = memberSlot(orgId, account);
    const v = await this.readSlots(
      this.#opts.deployment.organizations,
      [key],
      `membership ${orgId} ${account}`,
      at,
    );
    return v.get(key)! !== 0n;
  }

  /**
   * The registered full nodes at the checkpoint: the Registry's approved bootstrap nodes that are
   * registered and claim the bootstrap role (what `bootstrapNodes()` returns), proven slot by slot.
   * `previous` (the set at the last checkpoint) lets one proof cover an unchanged set.
   */
  async nodeSet(at?: Checkpoint, previous: readonly Address[] = []): Promise<Address[]> {
    const registry = this.#opts.deployment.registry;
    return nodeSetFrom((keys) => this.readSlots(registry, keys, 'the node set', at), previous);
  }

  /**
   * The node set proven by a compact proof a full node sent (compact-proof.ts) against checkpoint
   * `at`: no RPC round trip. The proof must cover every slot the set is read from.
   */
  async nodeSetFromProof(at: Checkpoint, compact: Uint8Array): Promise<Address[]> {
    const registry = this.#opts.deployment.registry;
    const proof = expandProof(compact);
    const keys = proof.storageProof.map((e) => slotKey(BigInt(e.key)));
    const values = await verifyProof(at.stateRoot, registry, keys, proof, this.#roots);
    this.verifiedSlots += keys.length;
    return nodeSetFrom(async (wanted) => {
      const out = new Map<Hex, bigint>();
      for (const k of wanted) {
        const v = values.get(k);
        if (v === undefined) throw new LightError('PROOF_INVALID', `the node-set proof lacks slot ${k}`);
        out.set(k, v);
      }
      return out;
    }, []);
  }
}
