export * from './constants.ts';
export { OrgError, type OrgErrorCode, type OrgErrorKind } from './errors.ts';
export { parseAddress, parseAmount, parseOrgId } from './input.ts';
export {
  type OrgDetails,
  OrgOperations,
  type OrgOperationsOptions,
  type OrgRole,
  type OrgSummary,
  type OrgTokenInfo,
} from './org-operations.ts';
export { type OrgGrant, type OrgService, organizationGrants, organizationServices } from './org-services.ts';
