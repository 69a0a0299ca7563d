/**
 * Leases on streamed uploads (issue 13): who owns an `uploading` version row, and until when.
 *
 * Guarantees:
 * - The owner is `instance:pid:boot`: the installation's instance id (one per data directory),
 *   the process id and a random id of this process's start. A row is another process's work
 *   until its lease expires, and is never removed while its lease is live — unless its owner is
 *   provably dead: same instance id (same data directory, so same machine) and either our own
 *   pid with another boot id (we are its successor) or a pid that no longer exists.
 * - Within this process, the holder knows which of its rows an upload is still working on
 *   (`track` before the row is inserted, `untrack` once the upload committed or gave up). A row
 *   under this process's lease that no upload here tracks is an orphan — its upload failed while
 *   the database could not take the removal (a restart, an outage) — and is free at once, so the
 *   next upload to the dataset cleans it up instead of waiting out the lease.
 * - The owner renews the lease while bytes flow (every third of the lease time). A renewal that
 *   finds the row gone or owned by someone else means the lease was lost: the upload stops and
 *   says so (UPLOAD_LEASE_LOST), instead of reporting whatever the drive says about the vanished
 *   object.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../../core/errors.ts';

export interface LeaseHolder {
  /** This process's owner string. */
  readonly owner: string;
  readonly ttlMs: number;
  /** True when `owner` is certainly not running any more (see the module comment). */
  isDead(owner: string | null): boolean;
  /** An upload of this process is about to hold the row of object `objectId`. */
  track(objectId: string): void;
  /** The upload of `objectId` committed or gave up: its row, if still there, is an orphan. */
  untrack(objectId: string): void;
  /** True for a row under this process's lease that no upload of this process is working on. */
  orphaned(row: { lease_owner: string | null; object_id: string }): boolean;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function createLeaseHolder(opts: { instanceId: string; ttlMs: number }): LeaseHolder {
  const boot = randomBytes(6).toString('hex');
  const owner = `${opts.instanceId}:${process.pid}:${boot}`;
  const working = new Set<string>();
  return {
    owner,
    ttlMs: opts.ttlMs,
    track: (objectId) => void working.add(objectId),
    untrack: (objectId) => void working.delete(objectId),
    orphaned: (row) => row.lease_owner === owner && !working.has(row.object_id),
    isDead(other) {
      if (!other || other === owner) return false;
      const [instance, pidText, otherBoot] = other.split(':');
      if (instance !== opts.instanceId || !pidText || !otherBoot || !/^\d{1,10}$/.test(pidText)) return false;
      const pid = Number(pidText);
      return pid === process.pid ? otherBoot !== boot : !alive(pid);
    },
  };
}

/**
 * A lease is free for the taking once expired, its owner dead, or its row orphaned in this process
 * (or, for rows of an older build, never set and old).
 */
export function leaseFree(
  holder: LeaseHolder,
  row: { lease_owner: string | null; lease_expires_at: Date | null; created_at: Date; object_id: string },
  now = Date.now(),
): boolean {
  if (row.lease_expires_at)
    return row.lease_expires_at.getTime() <= now || holder.isDead(row.lease_owner) || holder.orphaned(row);
  return row.created_at.getTime() <= now - 3_600_000;
}

export const leaseLost = () =>
  new AppError('CONFLICT', {
    detail:
      'The upload stopped: its reservation of the new version lapsed (no bytes arrived for too long, or the server was restarted) and was released. Upload the file again.',
    meta: { reason: 'UPLOAD_LEASE_LOST' },
  });

/**
 * Renews the lease every third of its time while `progress()` moves; calls `onLost` (once) when a
 * renewal finds the lease gone. `renew` returns whether the row was still ours. Stop it with the
 * returned function.
 */
export function keepLease(
  holder: LeaseHolder,
  renew: (until: Date) => Promise<boolean>,
  progress: () => number,
  onLost: () => void,
): () => void {
  let last = progress();
  let stopped = false;
  let busy = false;
  const timer = setInterval(
    () => {
      const now = progress();
      if (busy || stopped || now === last) return;
      last = now;
      busy = true;
      renew(new Date(Date.now() + holder.ttlMs))
        .then((held) => {
          if (!held && !stopped) {
            stopped = true;
            onLost();
          }
        })
        .catch(() => undefined) // a database hiccup: try again at the next tick; the lease has time left
        .finally(() => (busy = false));
    },
    Math.max(250, Math.floor(holder.ttlMs / 3)),
  );
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
