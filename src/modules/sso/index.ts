/** The sso module's public face (C4, issue 19): OIDC and SAML sign-in, group → role mapping, SSO enforcement. */
export { createSsoModule, type SsoModule, type SsoDeps } from './sso.service.ts';
export { ssoRoutes } from './sso.routes.ts';
export { ssoPublicRoutes } from './sso.signin.routes.ts';
export { SSO_COOKIE, type SsoRoutesDeps } from './sso.routes-common.ts';
export type { Provider, ProviderInput } from './sso.providers.ts';
export { MAX_GROUPS } from './sso.claims.ts';
export { ssoControls, type SsoControlDeps } from './sso.posture.ts';
export { scimRoutes } from './sso.scim.routes.ts';
