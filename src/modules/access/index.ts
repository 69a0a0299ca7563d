/** The access module's public face: the one Cedar access control and workspace policies. Invariants: NOTES.md. */
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { AccessControl } from './access-control.ts';
import { accessRoutes } from './access.routes.ts';
import { createAccessService, type AccessService } from './access.service.ts';

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
export { CEDAR_CACHE_FILE } from './cedar-cache.ts';
export { AccessPolicyError } from './policy-text.ts';
export {
  createAccessService,
  reload,
  MAX_POLICIES_PER_WORKSPACE,
  type AccessService,
  type ReloadReport,
  type WorkspacePolicy,
} from './access.service.ts';
export { accessRoutes } from './access.routes.ts';
export { BUILTIN_RULE_TEXT, listBuiltinRules, refusalText, type BuiltinRule } from './builtin-rules.ts';

export interface AccessModule {
  service: AccessService;
  routes: ReturnType<typeof accessRoutes>;
}

/** Workspace policies over the one access control: the use cases and their routes. */
export function createAccessModule(deps: { db: Kysely<Database>; accessControl: AccessControl }): AccessModule {
  const service = createAccessService(deps);
  return { service, routes: accessRoutes(service) };
}
export { createNetworkAllowlists, type NetworkAllowlists, type EffectiveAllowlist } from './network-allowlist.ts';
export { networkAllowlistRoutes } from './network-allowlist.routes.ts';
