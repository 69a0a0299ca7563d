/**
 * The one-time setup token on disk: `<home>/setup-token` (0600), written when a start finds no
 * users and issues a token, removed once the first owner is created (or at a start that finds
 * users). The database keeps only the token's SHA-256; this file is for the person at the console
 * of the machine, so the token does not scroll away with the logs. Whoever can read the data
 * directory can already do more than create the first owner (the operator token is there too).
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export function setupTokenPath(home: string): string {
  return path.join(home, 'setup-token');
}

/** Write (replace) the file, owner read/write only. */
export async function writeSetupTokenFile(home: string, token: string): Promise<string> {
  const file = setupTokenPath(home);
  await rm(file, { force: true }); // a new file: `mode` applies only when the file is created
  await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return file;
}

/** Remove the file; no error when it is already gone. */
export async function removeSetupTokenFile(home: string): Promise<void> {
  await rm(setupTokenPath(home), { force: true });
}
