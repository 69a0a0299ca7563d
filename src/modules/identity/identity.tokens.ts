/**
 * API tokens. A token is `srt_<12 hex id>_<43 base64url secret>`: the prefix makes it
 * recognisable to secret scanners, the id finds the row, and only the SHA-256 of the whole token
 * is stored (compared in constant time). It is bound to one workspace and a list of allowed
 * actions (`identity.self.read`, or a prefix `vault.*`), expires, can be revoked, and records
 * when it was last used. A token never grants more than its owner's roles: the actor it yields
 * still goes through `authorize`.
 */
import { randomBytes } from 'node:crypto';
import * as store from './identity.tokens.store.ts';
import type { TokenInfo } from './identity.tokens.store.ts';
import type { Executor } from './identity.users.store.ts';
import { randomToken, safeEqual, sha256Hex } from './tokens-crypto.ts';

export const API_TOKEN_PREFIX = 'srt_';
const TOKEN_PATTERN = /^srt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** Whether a token's scopes allow an action: exact name, `prefix.*`, or `*`. */
export function scopeAllows(scopes: readonly string[], action: string): boolean {
  return scopes.some((s) => s === '*' || s === action || (s.endsWith('.*') && action.startsWith(s.slice(0, -1))));
}

export interface NewToken {
  name: string;
  workspace: string;
  scopes: string[];
  expiresInDays: number;
  owner: { userId: string } | { serviceAccountId: string };
}

export async function createToken(
  db: Executor,
  input: NewToken,
  now: Date,
): Promise<{ token: string; info: TokenInfo }> {
  const id = randomBytes(6).toString('hex');
  const token = `${API_TOKEN_PREFIX}${id}_${randomToken(32)}`;
  const expiresAt = new Date(now.getTime() + input.expiresInDays * 86_400_000);
  const info = await store.insertToken(db, {
    id,
    hash: sha256Hex(token),
    name: input.name,
    workspaceId: input.workspace,
    scopes: input.scopes,
    owner: input.owner,
    now,
    expiresAt,
  });
  return { token, info };
}

/** The live token for a presented value (last use recorded); undefined if unknown, expired, revoked or its owner disabled. */
export async function useToken(db: Executor, presented: string, now: Date): Promise<TokenInfo | undefined> {
  const m = TOKEN_PATTERN.exec(presented);
  if (!m) return undefined;
  const found = await store.findTokenForUse(db, m[1]!);
  if (!found || !safeEqual(found.hash, sha256Hex(presented))) return undefined;
  if (found.info.revokedAt !== null || new Date(found.info.expiresAt) <= now || !found.ownerActive) return undefined;
  await store.touchToken(db, found.info.id, now);
  return { ...found.info, lastUsedAt: now.toISOString() };
}
