/** Identity: sign-in, sessions, MFA, users, members, tokens. Zod only. */
import { z } from 'zod';

export const ROLES = ['owner', 'admin', 'steward', 'engineer', 'analyst', 'viewer', 'auditor'] as const;
export type Role = (typeof ROLES)[number];
