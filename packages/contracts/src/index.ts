/** @dibs/contracts — ABIs, bytecode, constants and the deployer of the DIBS contract suite. */
export * from '../generated/abis.ts';
export * from '../generated/bytecode.ts';
export * from '../generated/storage-layout.ts';
export { GRANT_SERVICE_SHIFT, Limits, Policy, Role } from './constants.ts';
export { type DeployedContracts, type DeployParams, deployContracts } from './deploy.ts';
export { ContractsError } from './errors.ts';
export { grantIdOf, grantSequence, serviceIdOfGrant } from './grants.ts';
