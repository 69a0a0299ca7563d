/** The access module's public face. */
export { authorize, builtinAccessControl } from './authorize.ts';
export {
  createAccessControl,
  type AccessControl,
  type AccessControlOptions,
  type Decision,
  type PolicyValidation,
  type WorkspacePolicyText,
} from './access-control.ts';
export type { ResourceRef } from './cedar-request.ts';
export { AccessPolicyError } from './policy-text.ts';
export { addPolicy, listPolicies, removePolicy, reload, MAX_POLICIES_PER_WORKSPACE, type InTransaction, type ReloadReport, type WorkspacePolicy } from './access.service.ts';
