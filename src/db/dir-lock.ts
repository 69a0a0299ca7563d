/**
 * An exclusive, process-level lock on a directory, so two processes never open the same PGlite
 * data directory (PGlite has no cross-process locking; two writers corrupt it). The lock file
 * holds the owner's PID; a lock whose owner is gone is stale and taken over.
 */
import { open, readFile, unlink } from 'node:fs/promises';

export interface DirLock {
  release(): Promise<void>;
}

export class DirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(
      `${dir} is in use by another Strongroom process (pid ${pid}). Stop it first, or run the command against the running server.`,
    );
    this.name = 'DirLockedError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** PID of the live process holding the lock at `lockFile`, if any. */
export async function lockHolder(lockFile: string): Promise<number | undefined> {
  const pid = Number.parseInt(await readFile(lockFile, 'utf8').catch(() => ''), 10);
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : undefined;
}

export async function acquireDirLock(lockFile: string, dir: string): Promise<DirLock> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(lockFile, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          await unlink(lockFile).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await lockHolder(lockFile);
      if (holder !== undefined) throw new DirLockedError(dir, holder);
      await unlink(lockFile).catch(() => undefined); // stale: its owner is gone
    }
  }
  throw new Error(`cannot take the lock ${lockFile}`);
}
