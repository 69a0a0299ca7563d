/** Single sign-on: providers (operator), a workspace's mappings and enforcement, sign-in. Zod only. */
import { z } from 'zod';
import { workspaceParams } from './common.ts';
import { ROLES } from './identity.ts';

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

export const mappingsBody = z.strictObject({
  mappings: z.array(z.strictObject({ group: z.string().trim().min(1).max(400), role: z.enum(ROLES) })).max(1000),
});
export const ssoSettingsOut = z.object({
  enforce: z.boolean(),
  mappings: z.array(z.object({ provider: z.string(), group: z.string(), role: z.string() })),
  providers: z.array(publicProviderOut),
});
export const wsParams = workspaceParams;

export const signedInOut = z.object({
  user: z.object({ id: z.string(), email: z.string(), displayName: z.string() }),
  csrfToken: z.string(),
  strength: z.string(),
  mfaRequired: z.boolean(),
  returnTo: z.string(),
});

/** A path on this site only (no scheme, no `//host`, no backslash). */
export const returnTo = z
  .string()
  .max(500)
  .regex(/^\/(?![/\\])[^\\\s]*$/, 'a path on this site, starting with /')
  .default('/');
export const providerParams = z.strictObject({ provider: providerId });

export const providerWriteBody = z.intersection(z.object({ id: providerId }), providerInput);
