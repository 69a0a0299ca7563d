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
  /** The workspace's SCIM token, if any (never the token itself). */
  scim: z.object({ provider: z.string(), createdAt: z.string(), baseUrl: z.string() }).nullable(),
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

/** A new SCIM token for a workspace (replacing any), bound to one provider. */
export const scimTokenBody = z.strictObject({ provider: providerId });
export const scimTokenOut = z.object({ token: z.string(), provider: z.string(), baseUrl: z.string() });

/** The end of a sign-in started by `strongroom login --sso`: a one-time code, no session. */
export const cliCodeOut = z.object({ cliCode: z.string() });
/** `strongroom login --sso`: base64url SHA-256 of the CLI's secret verifier. */
export const cliChallenge = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
export const cliRedeemBody = z.strictObject({
  code: z.string().trim().min(1).max(40),
  verifier: z.string().regex(/^[A-Za-z0-9_-]{43,128}$/),
});

// ---- SCIM 2.0 (RFC 7643/7644): bodies are read by the handler (after the token check), errors carry scimType ----
export const SCIM_PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const scimIdParams = z.strictObject({ id: z.string().min(1).max(100) });
export const scimListQuery = z.record(z.string(), z.string().max(1000));
/** Any JSON value: the handler checks the token first, then the body (400 with `scimType`). */
export const scimBody = z.unknown();
/** SCIM booleans: Entra ID sends "True"/"False" strings. */
export const scimBoolish = z
  .union([z.boolean(), z.enum(['true', 'false', 'True', 'False'])])
  .transform((v) => v === true || String(v).toLowerCase() === 'true');
export const scimUserIn = z.looseObject({
  userName: z.string().trim().min(1).max(320),
  externalId: z.string().trim().min(1).max(400).nullish(),
  displayName: z.string().trim().max(200).optional(),
  name: z.looseObject({ formatted: z.string().max(200).optional() }).optional(),
  emails: z
    .array(z.looseObject({ value: z.string().trim().max(320), primary: scimBoolish.optional() }))
    .max(20)
    .optional(),
  active: scimBoolish.optional(),
});
export const scimMemberRef = z.looseObject({ value: z.string().min(1).max(100) });
export const scimGroupIn = z.looseObject({
  displayName: z.string().trim().min(1).max(400),
  externalId: z.string().trim().min(1).max(400).nullish(),
  members: z.array(scimMemberRef).max(10_000).optional(),
});
export const scimPatchIn = z.looseObject({
  schemas: z.array(z.string()).refine((s) => s.includes(SCIM_PATCH), 'schemas must name the PatchOp message'),
  Operations: z
    .array(
      z.looseObject({
        op: z
          .string()
          .transform((o) => o.toLowerCase())
          .pipe(z.enum(['add', 'remove', 'replace'])),
        path: z.string().max(500).optional(),
        value: z.unknown().optional(),
      }),
    )
    .min(1)
    .max(1000),
});
