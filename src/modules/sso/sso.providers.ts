/**
 * Identity-provider configuration: what an operator may set, and the view anyone may see.
 *
 * - A provider id is a short slug (it is in the callback URLs).
 * - OIDC: the issuer URL (discovery), client id, optional client secret (barrier-sealed, never
 *   answered back), scopes, an optional extra trusted CA (PEM) for an IdP behind a private CA.
 * - SAML: the IdP entity id, its SSO URL (HTTP-Redirect) and pinned signing certificate(s) — or
 *   the IdP's metadata XML, or its metadata URL (fetched once, at save time, through the egress
 *   guard; the certificates read from it are pinned, nothing is re-fetched behind the operator's
 *   back), from which those three are read. Signed responses AND signed
 *   assertions are required unless `allowUnsignedResponse`/`allowUnsignedAssertion` is set (an
 *   explicit opt-out for IdPs that sign only one). IdP-initiated sign-in is not accepted.
 * - Both: the groups claim/attribute (a dotted path, `realm_access.roles`), required groups
 *   (sign-in refused without one of them), email domains for which a verified email may link to an
 *   existing local account, and which `amr`/`acr`/AuthnContextClassRef values mean "MFA done".
 */
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import { parseIdpMetadata } from './sso.metadata.ts';

export const providerId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lower-case letters, digits and dashes (at most 40)');

const pem = z.string().trim().min(40).max(20_000);
const group = z.string().trim().min(1).max(400);
const domain = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9.-]{1,253}$/, 'a domain name');
const claimPath = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_:/.-]+(\.[A-Za-z0-9_:/-]+)*$/, 'a dotted claim path such as groups or realm_access.roles')
  .max(200);

const common = {
  displayName: z.string().trim().min(1).max(100),
  enabled: z.boolean().default(true),
  groupsClaim: claimPath.default('groups'),
  requiredGroups: z.array(group).max(100).default([]),
  emailLinkDomains: z.array(domain).max(50).default([]),
  mfaValues: z.array(z.string().trim().min(1).max(200)).max(20).default(['mfa', 'otp', 'hwk', 'swk', 'fido']),
};

export const oidcInput = z.strictObject({
  kind: z.literal('oidc'),
  ...common,
  issuer: z.url({ protocol: /^https$/ }).max(500),
  clientId: z.string().trim().min(1).max(400),
  clientSecret: z.string().min(1).max(2000).optional(),
  scopes: z
    .array(z.string().regex(/^[\x21-\x7e]{1,100}$/))
    .max(20)
    .default(['openid', 'email', 'profile']),
  caPem: pem.optional(),
});

export const samlInput = z.strictObject({
  kind: z.literal('saml'),
  ...common,
  groupsClaim: claimPath.default('groups'),
  metadataXml: z.string().min(100).max(200_000).optional(),
  /** The IdP's metadata URL: fetched once at save time through the egress guard (https, ≤ 200 KB). */
  metadataUrl: z
    .url({ protocol: /^https$/ })
    .max(1000)
    .optional(),
  /** An extra trusted root (PEM) for the metadata URL's TLS certificate. */
  caPem: pem.optional(),
  idpEntityId: z.string().trim().min(1).max(500).optional(),
  idpSsoUrl: z
    .url({ protocol: /^https$/ })
    .max(1000)
    .optional(),
  idpCertPem: z.array(pem).min(1).max(4).optional(),
  emailAttribute: z.string().trim().min(1).max(200).default('email'),
  allowUnsignedResponse: z.boolean().default(false),
  allowUnsignedAssertion: z.boolean().default(false),
});

export const providerInput = z.discriminatedUnion('kind', [oidcInput, samlInput]);
export type ProviderInput = z.output<typeof providerInput>;

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
  /** Where the metadata was imported from, if from a URL (for the operator's reference). */
  metadataUrl?: string | undefined;
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
      ...(input.metadataUrl ? { metadataUrl: input.metadataUrl } : {}),
      allowUnsignedResponse: input.allowUnsignedResponse,
      allowUnsignedAssertion: input.allowUnsignedAssertion,
    },
  };
}

/** The operator's view of a provider: settings, never the secret. */
export const providerOut = z.object({
  id: z.string(),
  kind: z.enum(['oidc', 'saml']),
  displayName: z.string(),
  issuer: z.string(),
  enabled: z.boolean(),
  hasSecret: z.boolean(),
  settings: z.record(z.string(), z.unknown()),
  lastError: z.object({ message: z.string(), at: z.string() }).optional(),
});

/** What the sign-in page may show. */
export const publicProviderOut = z.object({ id: z.string(), kind: z.enum(['oidc', 'saml']), displayName: z.string() });
