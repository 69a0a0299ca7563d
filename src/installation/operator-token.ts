/**
 * The operator credential: a random token in `<home>/operator.token` (0600), created on first
 * start. Whoever can read the data directory is the operator; the CLI uses it to drive a running
 * server. The server keeps only its SHA-256 and compares in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const OPERATOR_TOKEN_PREFIX = 'sro_';

export function operatorTokenPath(home: string): string {
  return path.join(home, 'operator.token');
}

export async function ensureOperatorToken(home: string): Promise<void> {
  const token = `${OPERATOR_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  await writeFile(operatorTokenPath(home), `${token}\n`, { mode: 0o600, flag: 'wx' }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    },
  );
}

export async function readOperatorToken(home: string): Promise<string> {
  return (await readFile(operatorTokenPath(home), 'utf8')).trim();
}

export function operatorTokenVerifier(token: string): (presented: string) => boolean {
  const expected = createHash('sha256').update(token).digest();
  return (presented) => timingSafeEqual(createHash('sha256').update(presented).digest(), expected);
}
