/** The identity module's public face. */
export { createIdentityModule, type IdentityModule, type Principal } from './identity.service.ts';
export type { IdentityDeps, IdentityConfig } from './deps.ts';
export { SESSION_COOKIE, type Strength } from './sessions.ts';
export { API_TOKEN_PREFIX, scopeAllows, type TokenInfo, type ServiceAccount } from './api-tokens.ts';
export { csrfTokenFor, safeEqual, sha256Hex } from './tokens-crypto.ts';
export { checkPassword, normalizePassword, MAX_LENGTH as PASSWORD_MAX_LENGTH } from './password-policy.ts';
export { ARGON2_PARAMS, hashPassword, verifyPassword } from './password-hash.ts';
export { ROLES, type Role } from '../../db/tables/identity.ts';
export type { User } from './users.ts';
export { refuseAttributes, refuseGrant, refuseManage } from './role-rules.ts';
