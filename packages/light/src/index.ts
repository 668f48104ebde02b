/** @dibs/light — checkpoints signed by full nodes, their acceptance rule, and chain reads proven against them. */
export {
  type Checkpoint,
  type CheckpointSigningKey,
  type SignedCheckpoint,
  type SignedCheckpointJson,
  CHECKPOINT_TYPES,
  checkCheckpoint,
  checkpointDomain,
  checkpointFromJson,
  checkpointToJson,
  recoverCheckpointSigner,
  sameCheckpoint,
  signCheckpoint,
  signedCheckpointFromJson,
  signedCheckpointToJson,
  verifySignedCheckpoint,
} from './checkpoint.ts';
export {
  CHECKPOINT_RECORD_NAMESPACE,
  checkpointRecordKey,
  checkpointRecordRules,
  decodeCheckpointRecord,
  encodeCheckpointRecord,
} from './checkpoint-record.ts';
export {
  type AcceptedCheckpoint,
  CheckpointStore,
  type CheckpointStoreOptions,
  requiredSigners,
} from './checkpoint-store.ts';
export { compactProof, expandProof, MAX_COMPACT_NODES, MAX_COMPACT_SLOTS } from './compact-proof.ts';
export * from './constants.ts';
export { LightError, type LightErrorCode } from './errors.ts';
export { type CheckpointSource, LightClient, type LightClientOptions } from './light-client.ts';
export { buildNodeSetProof, nodeSetFrom, type SlotReader } from './node-set.ts';
export { EMPTY_TRIE_ROOT, ProvenStorageRoots, type RpcProof, verifyHeader, verifyProof } from './proof.ts';
export { ProvenStateFeeder, type ProvenStateFeederOptions, type ProvenStateTarget } from './proven-state.ts';
export { rpcCall } from './rpc.ts';
export { CheckpointSigner, type CheckpointSignerOptions, type TrustedBlock } from './signer.ts';
export * as slots from './slots.ts';
export {
  type ProvenGrant,
  type ProvenService,
  type RefusedAnswer,
  VerifiedReader,
  type VerifiedDeployment,
  type VerifiedReaderOptions,
} from './verified-reader.ts';
