/**
 * Background work of one server process, stopped by the returned function: the upload cleanup
 * (free leases, expired sessions, unfinished deletions — at start, then every lease period) and
 * the periodic drive health check. Nothing runs while Strongroom is sealed.
 *
 * With several servers on one database: the drive health check runs once per period across all
 * of them (`claimPeriod`), backups, drills, prunes and the retention purge are claimed from
 * `maintenance_jobs` with SKIP LOCKED under a lease; profile jobs likewise from `dataset_profiles`
 * (a dead server's job taken over when its lease ends, STRONGROOM_PROFILE_LEASE_SECONDS); the cleanup sweeps are idempotent and
 * lease-guarded (any server may run them); posture checks run on every server (several of their
 * controls read this host's own files and listeners).
 */
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import type { Modules } from './modules.ts';
import { createBackupScheduler } from '../modules/backups/index.ts';
import { rotateIfDue, rotateWorkspaceKeysIfDue, type RotationEvent } from '../modules/keys/index.ts';
import { createRetentionScheduler } from '../modules/retention/index.ts';
import { claimPeriod, finishPeriod, type TaskRun } from '../modules/tasks/index.ts';

export function startJobs(
  {
    barrier,
    uploads,
    datasets,
    drives,
    leases,
    backups,
    retention,
    posture,
    keys,
    workspaceKeys,
    auditTrail,
    tasks,
    profiling,
  }: Modules,
  config: Readonly<Config>,
  logger: Logger,
): () => Promise<void> {
  const timers: NodeJS.Timeout[] = [];
  /** Runs a job with a task log on the system drive: started, its result's counts, finished. */
  const runLogged = async <R extends object>(
    kind: string,
    work: (log: TaskRun) => Promise<R>,
    opts: { workspace?: string } = {},
  ): Promise<R> => {
    const log = await tasks.start(kind, opts);
    await log.write({ event: 'started' });
    try {
      const result = await work(log);
      const counts = Object.fromEntries(Object.entries(result).filter(([, v]) => typeof v === 'number')) as Record<
        string,
        number
      >;
      log.progress(counts);
      await log.write({ event: 'finished', ...counts });
      await log.finish('succeeded');
      return result;
    } catch (err) {
      await log.write({ event: 'failed', error: (err as { code?: string }).code ?? 'INTERNAL' });
      await log.finish('failed');
      throw err;
    }
  };
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
    // Backups our crashed predecessor was writing: failed at once, their partial objects removed.
    backups.cleanup().then(
      (r) => r.interrupted + r.cleaned + r.failed > 0 && logger.info(r, 'backup cleanup removed unfinished backups'),
      (err: unknown) => logger.error({ err }, 'backup cleanup failed'),
    );
  };
  sweep();
  // Profiles a stopped process left running, and any queued: the queue runs (it stops when empty).
  if (!barrier.isSealed)
    profiling.resume().catch((err: unknown) => logger.error({ err }, 'profiling queue could not resume'));
  // A profile job whose server died elsewhere (another server on this database) is claimed once
  // its lease has ended: the queue is looked at every half lease.
  const profilePoll = setInterval(
    () => {
      if (!barrier.isSealed) profiling.kick();
    },
    Math.max(1000, Math.floor(profiling.leaseMs / 2)),
  );
  profilePoll.unref();
  timers.push(profilePoll);
  const sweeper = setInterval(sweep, Math.min(Math.max(15_000, leases.ttlMs), 3_600_000));
  sweeper.unref();
  timers.push(sweeper);
  if (config.STRONGROOM_DRIVE_HEALTH_SECONDS > 0) {
    let running = false;
    const periodMs = config.STRONGROOM_DRIVE_HEALTH_SECONDS * 1000;
    const timer = setInterval(() => {
      if (running || barrier.isSealed) return;
      running = true;
      // Once per period across every server on this database (maintenance_jobs, first insert wins);
      // one task per workspace, so its owners see their drives' checks on their Tasks page.
      const at = new Date();
      const refresh = async () => {
        for (const workspaceId of await drives.workspacesWithDrives()) {
          const r = await runLogged(
            'drive-health',
            (log) => drives.refreshHealth(workspaceId, (d) => void log.write({ event: 'checked', ...d })),
            { workspace: workspaceId },
          );
          logger.info({ workspace: workspaceId, ...r }, 'drive health refreshed');
        }
      };
      claimPeriod(backups.db, 'drive-health', periodMs, leases.owner, at)
        .then(async (mine) => {
          if (!mine) return;
          try {
            await refresh();
            await finishPeriod(backups.db, 'drive-health', periodMs, at, true);
          } catch (err) {
            await finishPeriod(backups.db, 'drive-health', periodMs, at, false).catch(() => undefined);
            throw err;
          }
        })
        .catch((err: unknown) => logger.error({ err }, 'drive health check failed'))
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
  // Security posture: every control on a schedule, results stored, changes to fail audited.
  if (config.STRONGROOM_POSTURE_CHECK_SECONDS > 0) {
    const timer = setInterval(() => {
      if (barrier.isSealed) return;
      runLogged('posture-check', async () => {
        const r = await posture.posture.run();
        return r.counts;
      }).then(
        (counts) => counts.fail > 0 && logger.warn({ counts }, 'security posture: controls failing'),
        (err: unknown) => logger.error({ err }, 'security posture run failed'),
      );
    }, config.STRONGROOM_POSTURE_CHECK_SECONDS * 1000);
    timer.unref();
    timers.push(timer);
  }
  // Scheduled key rotation: checked hourly (and at start); rotates the keyring when its active
  // term is too old, and each workspace key whose current version is (then rewraps both).
  if (config.STRONGROOM_KEY_ROTATION_DAYS > 0) {
    const record = (e: RotationEvent, trx?: Parameters<typeof auditTrail.record>[0]) => {
      const input = {
        actor: { id: 'system', kind: 'system' as const, authMethod: 'schedule' },
        action: e.action,
        outcome: 'success' as const,
        resource: e.resource ?? { type: 'keyring', id: 'root' },
        details: e.details,
      };
      return trx ? auditTrail.record(trx, input) : auditTrail.recordCommitted(input);
    };
    const check = () => {
      if (barrier.isSealed) return;
      rotateIfDue({
        keys,
        home: config.STRONGROOM_HOME,
        rotationDays: config.STRONGROOM_KEY_ROTATION_DAYS,
        openTaskLog: (kind) => tasks.start(kind),
        record,
      })
        .then(
          (r) => r.rotated && logger.info({ activeTerm: r.activeTerm, taskId: r.taskId }, 'scheduled key rotation'),
          (err: unknown) => logger.error({ err }, 'scheduled key rotation failed'),
        )
        .then(() =>
          rotateWorkspaceKeysIfDue({
            db: retention.db,
            keys,
            workspaceKeys,
            rotationDays: config.STRONGROOM_KEY_ROTATION_DAYS,
            openTaskLog: (kind, o) => tasks.start(kind, o),
            record,
          }),
        )
        .then(
          (r) => {
            if (r.rotated.length > 0) logger.info({ rotated: r.rotated.length }, 'scheduled workspace key rotation');
            for (const w of r.rewraps)
              w.done.catch((err: unknown) => logger.error({ err, taskId: w.taskId }, 'workspace key rewrap failed'));
          },
          (err: unknown) => logger.error({ err }, 'scheduled workspace key rotation failed'),
        );
    };
    check();
    const timer = setInterval(check, 3_600_000);
    timer.unref();
    timers.push(timer);
  }
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
