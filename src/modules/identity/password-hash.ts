/**
 * argon2id password hashing (@node-rs/argon2). The PHC string records the parameters, so a
 * stored hash whose parameters are below the current ones is rehashed at the next sign-in.
 * `verifyDummy` spends the same time for an unknown account, so timing does not reveal which
 * emails exist.
 */
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { normalizePassword } from './password-policy.ts';

/** OWASP / RFC 9106 second recommendation: m = 19 MiB, t = 2, p = 1. */
export const ARGON2_PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const ARGON2ID = 2; // Algorithm.Argon2id (a const enum, not importable under isolatedModules)

export function hashPassword(password: string): Promise<string> {
  return hash(normalizePassword(password), { ...ARGON2_PARAMS, algorithm: ARGON2ID as never, outputLen: 32 });
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, normalizePassword(password));
  } catch {
    return false;
  }
}

/** True when the stored hash is not argon2id or uses weaker parameters than the current ones. */
export function needsRehash(stored: string): boolean {
  const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
  if (!m) return true;
  return (
    Number(m[1]) < ARGON2_PARAMS.memoryCost ||
    Number(m[2]) < ARGON2_PARAMS.timeCost ||
    Number(m[3]) < ARGON2_PARAMS.parallelism
  );
}

let dummy: Promise<string> | undefined;
/** Verify against a fixed hash of a random password: same cost as a real verification, always false. */
export async function verifyDummy(password: string): Promise<false> {
  dummy ??= hashPassword(`dummy-${randomBytes(16).toString('hex')}`);
  await verifyPassword(await dummy, password);
  return false;
}
