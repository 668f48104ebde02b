/** Test support: a real anvil with the DIBS contracts, funded parties, full nodes registered on chain, signed checkpoints. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessGrantsAbi, organizationsAbi, Policy, Role, registryAbi } from '@dibs/contracts';
import {
  AnvilSupervisor,
  type ChainClients,
  createChainClients,
  type Deployment,
  ensureDeployment,
  RegistryWriter,
  sendContractWrite,
} from '@dibs/chain';
import { encryptionKeyFromWallet, peerIdFromWallet, Wallet } from '@dibs/core';
import { openStore, type Store } from '@dibs/store';
import type { Abi, Address, Hex } from 'viem';
import { type Checkpoint, type SignedCheckpoint, signCheckpoint } from '../src/checkpoint.ts';
import type { CheckpointSource } from '../src/light-client.ts';
import { buildNodeSetProof } from '../src/node-set.ts';
import { CheckpointSigner } from '../src/signer.ts';

/** A wallet with gas, its clients and its writer. */
export interface Party {
  wallet: Wallet;
  clients: ChainClients;
  registry: RegistryWriter;
}

/** One anvil with a deployment, stopped by `stop`. */
export interface Bed {
  anvil: AnvilSupervisor;
  rpcUrl: string;
  deployment: Deployment;
  operator: Party;
  party(): Promise<Party>;
  /** Registers `p` as a node with the bootstrap role and has the operator approve it: a full node. */
  addFullNode(p: Party): Promise<void>;
  /** Withdraws `p`'s node record (it leaves the full-node set). */
  removeNode(p: Party): Promise<void>;
  write(
    p: Party,
    contract: 'accessGrants' | 'registry' | 'organizations',
    functionName: string,
    args: unknown[],
  ): Promise<void>;
  /** Publishes a public service hosted by `host` (default: the owner). */
  publish(owner: Party, host?: Address): Promise<bigint>;
  /** The checkpoint of block `at` (default latest) as the chain has it. */
  checkpoint(at?: bigint): Promise<Checkpoint>;
  sign(signers: Wallet[], c: Checkpoint): SignedCheckpoint[];
  mine(): Promise<void>;
  stop(): Promise<void>;
}

const abis = {
  accessGrants: accessGrantsAbi,
  registry: registryAbi,
  organizations: organizationsAbi,
} as const;

export async function startBed(): Promise<Bed> {
  const dir = mkdtempSync(join(tmpdir(), 'dibs-light-'));
  const anvil = new AnvilSupervisor({ dataDir: dir, silent: true });
  await anvil.start();
  const stores: Store[] = [];
  const fund = (c: ChainClients, w: Wallet) =>
    c.publicClient.request({
      method: 'anvil_setBalance',
      params: [w.address, '0x3635C9ADC5DEA00000'],
    } as never);
  async function makeParty(wallet = Wallet.generate()): Promise<Party> {
    const clients = await createChainClients({ rpcUrl: anvil.rpcUrl, account: wallet.exportPrivateKeyHex() });
    await fund(clients, wallet);
    return { wallet, clients, registry: null as unknown as RegistryWriter };
  }
  const op = await makeParty();
  const store = openStore(join(dir, 'deploy.db'));
  stores.push(store);
  const deployment = await ensureDeployment({ store, clients: op.clients });
  const withRegistry = async (p: Party): Promise<Party> => {
    p.registry = new RegistryWriter(p.clients, deployment);
    await p.registry.registerIdentity(encryptionKeyFromWallet(p.wallet).publicKey);
    return p;
  };
  const operator = await withRegistry(op);
  const write: Bed['write'] = async (p, contract, functionName, args) => {
    await sendContractWrite(p.clients, {
      contract,
      address: deployment[contract],
      abi: abis[contract] as Abi,
      functionName,
      args,
    });
  };
  const bed: Bed = {
    anvil,
    rpcUrl: anvil.rpcUrl,
    deployment,
    operator,
    party: async () => withRegistry(await makeParty()),
    async addFullNode(p) {
      const peerId = peerIdFromWallet(p.wallet).toMultihash().bytes;
      await write(p, 'registry', 'registerNode', [
        `0x${Buffer.from(peerId).toString('hex')}`,
        Role.Bootstrap,
        [],
      ]);
      await write(operator, 'registry', 'setBootstrap', [p.wallet.address, true]);
    },
    async removeNode(p) {
      await write(p, 'registry', 'removeNode', []);
    },
    write,
    async publish(owner, host) {
      return owner.registry.publishService({
        serviceType: 'http',
        name: `svc-${Math.random().toString(36).slice(2, 8)}`,
        host: host ?? owner.wallet.address,
        price: 0n,
        grantDuration: 3600n,
        policy: Policy.Public,
      });
    },
    async checkpoint(at) {
      const block = await op.clients.publicClient.getBlock(
        at === undefined ? { blockTag: 'latest' } : { blockNumber: at },
      );
      return {
        chainId: deployment.chainId,
        number: block.number,
        blockHash: block.hash as Hex,
        stateRoot: block.stateRoot,
      };
    },
    sign: (signers, c) => signers.map((w) => signCheckpoint(w, c, deployment.registry)),
    async mine() {
      await op.clients.publicClient.request({ method: 'evm_mine', params: [] } as never);
    },
    async stop() {
      for (const s of stores) s.close();
      await anvil.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return bed;
}

/**
 * Each full node as a checkpoint source, in process: a CheckpointSigner over the node's own view of
 * the chain (what /dibs/checkpoint/1.0 serves), with its compact node-set proofs.
 */
export function fullNodeSources(bed: Bed, full: Party[]): CheckpointSource[] {
  return full.map((p) => {
    const signer = new CheckpointSigner({
      key: p.wallet,
      chainId: bed.deployment.chainId,
      registry: bed.deployment.registry,
      readBlock: async (at) => {
        const b = await p.clients.publicClient.getBlock(
          at === 'latest' ? { blockTag: 'latest' } : { blockNumber: at },
        );
        return { number: b.number, hash: b.hash, stateRoot: b.stateRoot };
      },
    });
    return {
      address: p.wallet.address as Address,
      fetch: (n?: bigint) => (n === undefined ? signer.signLatest() : signer.signAt(n)),
      nodeSetProof: (n: bigint) => buildNodeSetProof(bed.rpcUrl, bed.deployment.registry, n),
    };
  });
}
