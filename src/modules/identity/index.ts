/** The identity module's public face (C4): accounts, sign-in, sessions, MFA, API tokens, service accounts. */
export { createIdentityModule, type IdentityModule, type Principal, type NewUser } from './identity.service.ts';
export type { IdentityDeps, IdentityConfig } from './deps.ts';
export { SESSION_COOKIE } from './identity.signin.ts';
export { createSessionCache, type SessionCache } from './identity.session-cache.ts';
export { wireSessionCache } from './identity.session-feed.ts';
export { PENDING_MFA, type Strength } from './identity.sessions.store.ts';
export { refuseGrant } from './role-rules.ts';
export { API_TOKEN_PREFIX, scopeAllows } from './identity.tokens.ts';
export type { TokenInfo, ServiceAccount } from './identity.tokens.store.ts';
export type { User } from './identity.users.store.ts';
export { csrfTokenFor, randomToken, safeEqual, sha256Hex } from './tokens-crypto.ts';
export { checkPassword, normalizePassword, MAX_LENGTH as PASSWORD_MAX_LENGTH } from './password-policy.ts';
export { ARGON2_PARAMS, hashPassword, verifyPassword } from './password-hash.ts';
export { ROLES, type Role } from '../../db/tables/identity.ts';
export { identityRoutes, type IdentityRoutesDeps } from './identity.routes.ts';
export { sessionRoutes, type SessionRoutesDeps } from './identity.sessions.routes.ts';
export { accountRoutes, type AccountRoutesDeps } from './identity.account.routes.ts';
export { memberRoutes, type MemberRoutesDeps } from './identity.members.routes.ts';
