/** What the single sign-on routes share: the pending-sign-in cookie, `returnTo`, the provider id. */

import type { AuditWriter } from '../../http/extra-events.ts';
import type { SsoModule } from './sso.service.ts';

export const SSO_COOKIE = '__Host-sr_sso';
/** The pending-sign-in cookie must survive the IdP's cross-site POST (SAML), hence SameSite=None. */
export const SSO_COOKIE_OPTS = { path: '/', secure: true, httpOnly: true, sameSite: 'none', maxAge: 600 } as const;
export const SESSION_COOKIE_OPTS = { path: '/', secure: true, httpOnly: true, sameSite: 'strict' } as const;

export interface SsoRoutesDeps {
  sso: SsoModule;
  /** Writes the extra events of a sign-in or SCIM request (`http/extra-events.ts`). */
  audit: AuditWriter;
}
