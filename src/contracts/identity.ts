/** Identity: sign-in, sessions, MFA, users, members, tokens. Zod only. */
import { z } from 'zod';
import { userId as userIdSchema, workspaceId as workspaceIdSchema } from './common.ts';

/** Length of the session reference shown in the list (a prefix of its id's hash, never the id). */
export const SESSION_REF_LENGTH = 16;

export const ROLES = ['owner', 'admin', 'steward', 'engineer', 'analyst', 'viewer', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const sessionViewOut = z.object({
  id: z.string(),
  createdAt: z.string(),
  lastSeenAt: z.string(),
  authenticatedAt: z.string(),
  strength: z.string(),
  sourceIp: z.string().nullable(),
  current: z.boolean(),
});
export const sessionRef = z
  .string()
  .regex(new RegExp(`^[0-9a-f]{${SESSION_REF_LENGTH}}$`), 'a session id from the list');

export const memberParams = z.object({ ws: workspaceIdSchema, id: userIdSchema });
export const words = z
  .string()
  .trim()
  .max(100)
  .regex(/^[\p{L}\p{N} ._-]*$/u, 'letters, digits, spaces and . _ -');
/** The attributes the built-in rules read. An empty string or absent: not set. */
export const userAttributes = z.strictObject({
  department: words.optional(),
  region: words.optional(),
  clearance: z.number().int().min(0).max(9).optional(),
});

export const role = z.enum(ROLES);
export const attrValue = z.union([z.string().max(200), z.number(), z.boolean()]);
export const attributes = z.strictObject({
  department: z.string().max(200).optional(),
  region: z.string().max(200).optional(),
  clearance: attrValue.optional(),
});
export const workspaceUserOut = z.object({
  id: z.string(),
  email: z.string(),
  displayName: z.string(),
  status: z.string(),
  mfaEnabled: z.boolean(),
  attributes: z.record(z.string(), attrValue),
  roles: z.array(z.string()),
  /** When the user last finished signing in (null: never). */
  lastSignInAt: z.string().nullable(),
});
export const scope = z
  .string()
  .regex(/^(\*|[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){0,2}(\.\*)?)$/, 'an action name, a prefix ending in .* or *');
export const tokenBody = {
  name: z.string().trim().min(1).max(100),
  scopes: z.array(scope).min(1).max(50),
  expiresInDays: z.number().int().min(1).max(365).default(30),
};
export const tokenOut = z.object({
  id: z.string(),
  name: z.string(),
  workspace: z.string(),
  scopes: z.array(z.string()),
  userId: z.string().nullable(),
  serviceAccountId: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
});
export const tokenCreated = z.object({ token: z.string(), info: tokenOut });
export const saOut = z.object({
  id: z.string(),
  workspace: z.string(),
  name: z.string(),
  role: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  disabledAt: z.string().nullable(),
});
export const tokenId = z.string().regex(/^[0-9a-f]{12}$/);

export const email = z
  .string()
  .trim()
  .min(3)
  .max(320)
  .regex(/^[^\s@]+@[^\s@]+$/, 'an email address');
export const password = z.string().min(1).max(1024);
export const code = z.string().trim().min(6).max(32);
export const userInfoOut = z.object({
  id: z.string(),
  email: z.string(),
  displayName: z.string(),
  status: z.string(),
  mfaEnabled: z.boolean(),
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
});
export const sessionInfoOut = z.object({
  user: userInfoOut,
  csrfToken: z.string(),
  strength: z.string(),
  mfaRequired: z.boolean(),
  mfaEnrolmentRequired: z.boolean(),
});

export const workspaceCreateBody = z.strictObject({
  id: workspaceIdSchema,
  name: z.string().trim().min(1).max(200),
  ownerEmail: z.email().max(320).optional(),
});
export const workspaceCreatedAnswer = z.object({ id: z.string(), name: z.string(), ownerId: z.string().nullable() });
export const userCreateBody = z.strictObject({
  email: z
    .string()
    .trim()
    .min(3)
    .max(320)
    .regex(/^[^\s@]+@[^\s@]+$/, 'an email address'),
  displayName: z.string().trim().min(1).max(200),
  password: z.string().min(1).max(1024).optional(),
  role,
  attributes: attributes.optional(),
});
export const userCreatedAnswer = z.object({ user: workspaceUserOut });
export const serviceAccountCreateBody = z.strictObject({
  name: z
    .string()
    .trim()
    .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lower-case letters, digits, . _ -'),
  role: z.enum(['steward', 'engineer', 'analyst', 'viewer', 'auditor']),
});

export const mfaEnrolVerifyBody = z.strictObject({ code });
export const mfaEnrolVerifyAnswer = z.object({ recoveryCodes: z.array(z.string()), csrfToken: z.string().optional() });

export const userAttributesBody = z.strictObject({ attributes: userAttributes });
export const userAttributesAnswer = z.object({ attributes: z.record(z.string(), z.union([z.string(), z.number()])) });
export const userMfaResetAnswer = z.object({ reset: z.literal(true), sessionsEnded: z.number() });
export const memberListAnswer = z.object({
  members: z.array(z.object({ id: z.string(), email: z.string(), displayName: z.string() })),
});
/** Where the caller is a member, and as what (the console's workspace switcher). */
export const membershipOut = z.object({ id: z.string(), name: z.string(), roles: z.array(z.string()) });
/** `GET /api/v1/auth/me`. */
export const meAnswer = sessionInfoOut.extend({
  csrfToken: z.string().optional(),
  workspaces: z.array(membershipOut),
  /** Unused recovery codes (null without MFA). */
  recoveryCodesLeft: z.number().nullable(),
});
