/**
 * The light node's acceptance rule (BlockQuick's sliding window): starting from a pinned genesis
 * checkpoint and the full nodes it names, a newer checkpoint is accepted only when more than
 * `threshold` of the currently trusted full-node set signed it; the set then rolls forward to the
 * registered full nodes proven at the accepted checkpoint. Signers outside the set count for nothing,
 * too few signers, a second block at an accepted height, or trusted signers disagreeing about a
 * height are refused.
 */
import { type Address, getAddress } from 'viem';
import {
  type Checkpoint,
  checkCheckpoint,
  type SignedCheckpoint,
  sameCheckpoint,
  verifySignedCheckpoint,
} from './checkpoint.ts';
import { MAX_KEPT_CHECKPOINTS, MAX_TRUSTED_SIGNERS } from './constants.ts';
import { LightError } from './errors.ts';

/** An accepted checkpoint, who signed it, and the full-node set trusted from it on. */
export interface AcceptedCheckpoint {
  checkpoint: Checkpoint;
  /** Trusted signers whose signatures carried it (empty for the pinned genesis). */
  signers: Address[];
  /** The full-node set trusted after it (proven at this checkpoint). */
  nodeSet: Address[];
  /** Unix ms. */
  acceptedAt: number;
}

/** Options of {@link CheckpointStore}. */
export interface CheckpointStoreOptions {
  /** The pinned starting point (from config or the join bundle). */
  genesis: Checkpoint;
  /** The full nodes trusted at genesis. */
  signers: readonly string[];
  /** The deployment's Registry (the EIP-712 domain). */
  registry: Address;
  /** Share of the set that must sign, strictly exceeded: 0.5 = more than half (default). */
  threshold?: number;
}

/** Signatures needed from a set of `n` at `threshold`: more than threshold·n, at least one. */
export function requiredSigners(n: number, threshold: number): number {
  return Math.min(n, Math.floor(n * threshold) + 1);
}

function normalizeSet(addresses: readonly string[]): Address[] {
  const set = [...new Set(addresses.map((a) => getAddress(a)))].sort();
  if (set.length === 0) throw new LightError('INVALID_ARGUMENT', 'the trusted full-node set is empty');
  if (set.length > MAX_TRUSTED_SIGNERS) {
    throw new LightError(
      'INVALID_ARGUMENT',
      `the trusted full-node set has ${set.length} nodes, over ${MAX_TRUSTED_SIGNERS}`,
    );
  }
  return set;
}

/** Accepted checkpoints, newest last, and the rule that admits the next. */
export class CheckpointStore {
  readonly registry: Address;
  readonly threshold: number;
  readonly chainId: number;
  #accepted: AcceptedCheckpoint[];

  constructor(options: CheckpointStoreOptions) {
    checkCheckpoint(options.genesis);
    const threshold = options.threshold ?? 0.5;
    if (!(threshold >= 0 && threshold < 1)) {
      throw new LightError(
        'INVALID_ARGUMENT',
        `threshold ${threshold} must be in [0, 1): the share of signers that must be exceeded`,
      );
    }
    this.threshold = threshold;
    this.registry = getAddress(options.registry);
    this.chainId = options.genesis.chainId;
    this.#accepted = [
      {
        checkpoint: options.genesis,
        signers: [],
        nodeSet: normalizeSet(options.signers),
        acceptedAt: Date.now(),
      },
    ];
  }

  /** The newest accepted checkpoint. */
  latest(): AcceptedCheckpoint {
    return this.#accepted.at(-1)!;
  }

  /** Accepted checkpoints kept (bounded), oldest first. */
  history(): AcceptedCheckpoint[] {
    return [...this.#accepted];
  }

  /** The full nodes whose signatures count now. */
  trusted(): Address[] {
    return [...this.latest().nodeSet];
  }

  /** Signatures a new checkpoint needs now. */
  required(): number {
    return requiredSigners(this.latest().nodeSet.length, this.threshold);
  }

  /**
   * Accepts `candidate` if enough trusted signatures among `signatures` name it, then rolls the set
   * forward with `proveNodeSet` (the registered full nodes proven at the candidate). Returns the new
   * entry; the same checkpoint again returns the existing entry. Throws a LightError saying why not.
   */
  async accept(
    candidate: Checkpoint,
    signatures: readonly SignedCheckpoint[],
    proveNodeSet: (checkpoint: Checkpoint, previous: Address[]) => Promise<Address[]>,
  ): Promise<AcceptedCheckpoint> {
    checkCheckpoint(candidate);
    if (candidate.chainId !== this.chainId) {
      throw new LightError(
        'WRONG_CHAIN',
        `checkpoint is for chain ${candidate.chainId}, this node follows chain ${this.chainId}`,
      );
    }
    const known = this.#accepted.find((a) => a.checkpoint.number === candidate.number);
    if (known) {
      if (sameCheckpoint(known.checkpoint, candidate)) return known;
      throw new LightError(
        'FORK',
        `block ${candidate.number} was accepted as ${known.checkpoint.blockHash}; refusing ${candidate.blockHash} at the same height`,
      );
    }
    const latest = this.latest();
    if (candidate.number < latest.checkpoint.number) {
      throw new LightError(
        'STALE_CHECKPOINT',
        `checkpoint ${candidate.number} is older than the accepted ${latest.checkpoint.number}`,
      );
    }
    const trusted = new Set(latest.nodeSet);
    const forIt = new Set<Address>();
    const conflicting = new Set<Address>();
    const outsiders = new Set<Address>();
    for (const s of signatures) {
      let signed: SignedCheckpoint;
      try {
        signed = await verifySignedCheckpoint(s, this.registry);
      } catch {
        continue;
      }
      if (!trusted.has(signed.signer)) {
        outsiders.add(signed.signer);
        continue;
      }
      if (sameCheckpoint(signed.checkpoint, candidate)) forIt.add(signed.signer);
      else if (
        signed.checkpoint.number === candidate.number &&
        signed.checkpoint.chainId === candidate.chainId
      ) {
        conflicting.add(signed.signer);
      }
    }
    if (conflicting.size > 0) {
      throw new LightError(
        'FORK',
        `trusted full nodes signed two different blocks at height ${candidate.number} (${[...conflicting].join(', ')} against ${forIt.size} for ${candidate.blockHash}); refusing the height`,
      );
    }
    const need = this.required();
    if (forIt.size < need) {
      const outside =
        outsiders.size > 0 ? `; ${outsiders.size} signature(s) came from nodes outside the trusted set` : '';
      throw new LightError(
        outsiders.size > 0 && forIt.size === 0 ? 'UNTRUSTED_SIGNER' : 'TOO_FEW_SIGNERS',
        `checkpoint ${candidate.number} has ${forIt.size} of the ${need} trusted signatures it needs (set of ${latest.nodeSet.length})${outside}`,
      );
    }
    const proven = await proveNodeSet(candidate, latest.nodeSet);
    // An empty proven set would leave nobody to sign the next checkpoint: keep the old one then.
    const nodeSet = proven.length > 0 ? normalizeSet(proven) : latest.nodeSet;
    const entry: AcceptedCheckpoint = {
      checkpoint: candidate,
      signers: [...forIt].sort(),
      nodeSet,
      acceptedAt: Date.now(),
    };
    this.#accepted.push(entry);
    if (this.#accepted.length > MAX_KEPT_CHECKPOINTS) this.#accepted.shift();
    return entry;
  }
}
