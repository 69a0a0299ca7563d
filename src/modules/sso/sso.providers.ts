/**
 * Identity-provider configuration: what an operator may set, and the view anyone may see.
 *
 * - A provider id is a short slug (it is in the callback URLs).
 * - OIDC: the issuer URL (discovery), client id, optional client secret (barrier-sealed, never
 *   answered back), scopes, an optional extra trusted CA (PEM) for an IdP behind a private CA.
 * - SAML: the IdP entity id, its SSO URL (HTTP-Redirect) and pinned signing certificate(s) — or
 *   the IdP's metadata XML, from which those three are read. Signed responses AND signed
 *   assertions are required unless `allowUnsignedResponse`/`allowUnsignedAssertion` is set (an
 *   explicit opt-out for IdPs that sign only one). IdP-initiated sign-in is not accepted.
 * - Both: the groups claim/attribute (a dotted path, `realm_access.roles`), required groups
 *   (sign-in refused without one of them), email domains for which a verified email may link to an
 *   existing local account, and which `amr`/`acr`/AuthnContextClassRef values mean "MFA done".
 */
import { type ProviderInput } from '../../contracts/sso.ts';
import { AppError } from '../../core/errors.ts';
import { parseIdpMetadata } from './sso.metadata.ts';

export type { ProviderInput };

/** What is stored in `settings` (jsonb). Never a secret. */
export interface OidcSettings {
  kind: 'oidc';
  issuer: string;
  clientId: string;
  scopes: string[];
  caPem?: string | undefined;
}
export interface SamlSettings {
  kind: 'saml';
  idpEntityId: string;
  idpSsoUrl: string;
  idpCertPem: string[];
  emailAttribute: string;
  allowUnsignedResponse: boolean;
  allowUnsignedAssertion: boolean;
}
export interface CommonSettings {
  groupsClaim: string;
  requiredGroups: string[];
  emailLinkDomains: string[];
  mfaValues: string[];
}
export type ProviderSettings = CommonSettings & (OidcSettings | SamlSettings);

export interface Provider {
  id: string;
  kind: 'oidc' | 'saml';
  displayName: string;
  issuer: string;
  enabled: boolean;
  settings: ProviderSettings;
  hasSecret: boolean;
  lastError?: { message: string; at: string } | undefined;
}

/** Normalises an operator's input into stored settings (SAML metadata read here). */
export function settingsOf(input: ProviderInput): { issuer: string; settings: ProviderSettings; secret?: string } {
  const base: CommonSettings = {
    groupsClaim: input.groupsClaim,
    requiredGroups: input.requiredGroups,
    emailLinkDomains: input.emailLinkDomains,
    mfaValues: input.mfaValues,
  };
  if (input.kind === 'oidc') {
    const issuer = input.issuer; // compared exactly with the ID token's `iss`
    return {
      issuer,
      settings: {
        ...base,
        kind: 'oidc',
        issuer,
        clientId: input.clientId,
        scopes: input.scopes.includes('openid') ? input.scopes : ['openid', ...input.scopes],
        ...(input.caPem ? { caPem: input.caPem } : {}),
      },
      ...(input.clientSecret ? { secret: input.clientSecret } : {}),
    };
  }
  const fromMeta = input.metadataXml ? parseIdpMetadata(input.metadataXml) : undefined;
  const idpEntityId = input.idpEntityId ?? fromMeta?.entityId;
  const idpSsoUrl = input.idpSsoUrl ?? fromMeta?.ssoUrl;
  const idpCertPem = input.idpCertPem ?? fromMeta?.certs;
  if (!idpEntityId || !idpSsoUrl || !idpCertPem?.length)
    throw new AppError('VALIDATION_FAILED', {
      detail: 'A SAML provider needs the IdP entity id, its SSO URL and its signing certificate (or its metadata XML).',
    });
  if (!idpSsoUrl.startsWith('https://'))
    throw new AppError('VALIDATION_FAILED', { detail: 'The IdP SSO URL must use https.' });
  return {
    issuer: idpEntityId,
    settings: {
      ...base,
      kind: 'saml',
      idpEntityId,
      idpSsoUrl,
      idpCertPem,
      emailAttribute: input.emailAttribute,
      allowUnsignedResponse: input.allowUnsignedResponse,
      allowUnsignedAssertion: input.allowUnsignedAssertion,
    },
  };
}
