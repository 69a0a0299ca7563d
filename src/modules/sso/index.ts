/** The sso module's public face (C4, issue 19): OIDC and SAML sign-in, group → role mapping, SSO enforcement. */
export { createSsoModule, type SsoModule, type SsoDeps } from './sso.service.ts';
export { ssoPublicRoutes, ssoRoutes, SSO_COOKIE, type SsoRoutesDeps } from './sso.routes.ts';
export type { Provider, ProviderInput } from './sso.providers.ts';
export { MAX_GROUPS } from './sso.claims.ts';
