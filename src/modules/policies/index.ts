/** The data policies module's public face (issue 17). Invariants: NOTES.md. */
export { createPoliciesService, type PoliciesService, type PoliciesDeps } from './policies.service.ts';
export { policiesRoutes } from './policies.routes.ts';
export { PII_TAG, piiPolicyName, type PiiApplied } from './policies.pii.ts';
export * from '../../contracts/policies.ts';
