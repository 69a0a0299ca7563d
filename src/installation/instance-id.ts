/**
 * The installation's instance id: random, created once in the data directory (`instance-id`,
 * 0600) and stable across restarts. Upload leases name it, so a restarted server recognises the
 * uploads its crashed predecessor owned (same data directory) and releases them at once, while
 * uploads owned by other servers sharing the database wait for their leases to expire.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const ID = /^[0-9a-f]{16}$/;

export async function instanceId(home: string): Promise<string> {
  const file = path.join(home, 'instance-id');
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (ID.test(existing)) return existing;
  const id = randomBytes(8).toString('hex');
  try {
    await writeFile(file, `${id}\n`, { mode: 0o600, flag: 'wx' });
    return id;
  } catch {
    // Another process of this data directory wrote it first: use theirs.
    const again = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (ID.test(again)) return again;
    throw new Error(`cannot create ${file}`);
  }
}
