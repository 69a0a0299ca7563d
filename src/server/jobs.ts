/**
 * Background work of one server process, stopped by the returned function: the upload cleanup
 * (free leases, expired sessions, unfinished deletions — at start, then every lease period) and
 * the periodic drive health check. Nothing runs while Strongroom is sealed.
 */
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import type { Modules } from './modules.ts';
import { createBackupScheduler } from '../modules/backups/index.ts';
import { createRetentionScheduler } from '../modules/retention/index.ts';

export function startJobs(
  { barrier, uploads, datasets, drives, leases, backups, retention, auditTrail }: Modules,
  config: Readonly<Config>,
  logger: Logger,
): () => Promise<void> {
  const timers: NodeJS.Timeout[] = [];
  // Uploads whose lease is free (a crash, kill -9: at start, our predecessor's at once) and
  // unfinished deletions: at start and then every lease period.
  const orphanMs = config.STRONGROOM_UPLOAD_ORPHAN_SECONDS * 1000;
  const sweep = () => {
    if (barrier.isSealed) return;
    uploads.cleanup().then(
      (r) => r.removed + r.failed > 0 && logger.info(r, 'dataset cleanup removed expired upload sessions'),
      (err: unknown) => logger.error({ err }, 'upload session cleanup failed'),
    );
    datasets.cleanup(orphanMs).then(
      (r) =>
        r.removed + r.failed > 0 &&
        logger.info(r, 'dataset cleanup removed leftovers of unfinished uploads and deletions'),
      (err: unknown) => logger.error({ err }, 'dataset cleanup failed'),
    );
  };
  sweep();
  const sweeper = setInterval(sweep, Math.min(Math.max(15_000, leases.ttlMs), 3_600_000));
  sweeper.unref();
  timers.push(sweeper);
  if (config.STRONGROOM_DRIVE_HEALTH_SECONDS > 0) {
    let running = false;
    const timer = setInterval(() => {
      if (running || barrier.isSealed) return;
      running = true;
      drives
        .refreshHealth()
        .then(
          (r) => logger.info(r, 'drive health refreshed'),
          (err: unknown) => logger.error({ err }, 'drive health check failed'),
        )
        .finally(() => (running = false));
    }, config.STRONGROOM_DRIVE_HEALTH_SECONDS * 1000);
    timer.unref();
    timers.push(timer);
  }
  // Scheduled backups, prune and restore drills (maintenance_jobs, claimed with SKIP LOCKED).
  const scheduler = createBackupScheduler({
    db: backups.db,
    backups,
    owner: `${leases.owner}`,
    record: (input) => auditTrail.recordCommitted(input),
  });
  let scheduling = false;
  const backupTimer = setInterval(() => {
    if (scheduling || barrier.isSealed) return;
    scheduling = true;
    scheduler
      .tick()
      .then(
        (r) => r.ran.length > 0 && logger.info(r, 'scheduled backup work ran'),
        (err: unknown) => logger.error({ err }, 'scheduled backup work failed'),
      )
      .finally(() => (scheduling = false));
  }, 60_000);
  backupTimer.unref();
  timers.push(backupTimer);
  // The daily retention purge (maintenance_jobs, claimed with SKIP LOCKED).
  const purger = createRetentionScheduler({
    db: retention.db,
    retention,
    owner: `${leases.owner}`,
    record: (input) => auditTrail.recordCommitted(input),
  });
  let purging = false;
  const purgeTimer = setInterval(() => {
    if (purging || barrier.isSealed) return;
    purging = true;
    purger
      .tick()
      .then(
        (r) => r.ran.length > 0 && logger.info(r, 'retention purge ran'),
        (err: unknown) => logger.error({ err }, 'retention purge failed'),
      )
      .finally(() => (purging = false));
  }, 60_000);
  purgeTimer.unref();
  timers.push(purgeTimer);
  return async () => {
    for (const t of timers) clearInterval(t);
  };
}
