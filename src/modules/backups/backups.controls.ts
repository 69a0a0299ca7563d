/**
 * Posture controls of the backups module (registered in src/server/posture-wiring.ts):
 * - `backups.freshness`: the newest complete backup is younger than the recovery objective
 *   (default 26 h: a daily schedule plus slack) — fails with no target or no backup at all;
 * - `backups.drill`: the newest restore drill passed and is younger than a week plus a day
 *   (the drill is weekly), and the newest VERIFIED backup is within the objective;
 * - `backups.recovery-key`: the recovery key was exported (without it a backup needs this root key).
 * Evidence: times, ages, ids, counts — never a key.
 */
import type { Control, ControlResult } from '../posture/index.ts';
import { fail, pass, warn } from '../posture/index.ts';

export interface BackupsStatus {
  objectiveHours: number;
  newestBackup?: string;
  newestVerified?: string;
  lastDrill?: { id: string; ok: boolean; ms: number; at: string; error?: string };
  stale: boolean;
  drillFailed: boolean;
  recoveryKeyExported: boolean;
  targets: number;
}

const FRAMEWORKS = {
  soc2: ['A1.2', 'A1.3'],
  iso27001: ['A.8.13'],
  pciDss: ['12.10.1'],
  gdpr: ['Art. 32(1)(c)'],
};
/** The drill runs weekly; one more day of slack before it counts as overdue. */
export const DRILL_MAX_AGE_HOURS = 8 * 24;

const hoursSince = (iso: string, now: Date) => Math.round(((now.getTime() - Date.parse(iso)) / 3_600_000) * 10) / 10;

export function backupsControls(deps: { status(at: Date): Promise<BackupsStatus> }): Control[] {
  const base = { scope: 'installation' as const, frameworks: FRAMEWORKS };
  return [
    {
      ...base,
      id: 'backups.freshness',
      title: 'Backups taken on schedule',
      promise: 'Daily encrypted backups of the whole installation, kept at least seven days.',
      method:
        'Compares the age of the newest complete backup with the recovery objective (a daily schedule plus slack).',
      remedy:
        'Add a backup target (`strongroom backup target add`) and check the scheduled backup, or run `strongroom backup create` now.',
      async check({ now }): Promise<ControlResult> {
        const s = await deps.status(now);
        const evidence = { targets: s.targets, objectiveHours: s.objectiveHours, newestBackup: s.newestBackup ?? null };
        if (s.targets === 0) return fail('no backup target: nothing is backed up', evidence);
        if (!s.newestBackup) return fail('no complete backup yet', evidence);
        const age = hoursSince(s.newestBackup, now);
        if (age > s.objectiveHours)
          return fail(`the newest backup is ${age} h old, older than the ${s.objectiveHours} h objective`, {
            ...evidence,
            ageHours: age,
          });
        return pass(`the newest backup is ${age} h old (objective ${s.objectiveHours} h)`, {
          ...evidence,
          ageHours: age,
        });
      },
    },
    {
      ...base,
      id: 'backups.drill',
      title: 'Restores tested regularly',
      promise: 'We regularly test our backups and recovery procedures.',
      method:
        'Reads the newest restore drill (a backup restored into a scratch database, rows, checksums, audit chain and keyring checked): it must have passed within the last 8 days, and the newest verified backup must be within the recovery objective.',
      remedy:
        'Run a drill now (`strongroom backup verify <id>`, or Verify in the console) and read its error if it fails.',
      async check({ now }): Promise<ControlResult> {
        const s = await deps.status(now);
        const d = s.lastDrill;
        const evidence = {
          lastDrill: d?.at ?? null,
          lastDrillBackup: d?.id ?? null,
          recoveryMs: d?.ms ?? null,
          newestVerified: s.newestVerified ?? null,
          objectiveHours: s.objectiveHours,
        };
        if (!d) return fail('no restore drill has run yet', evidence);
        if (!d.ok) return fail(`the newest restore drill failed${d.error ? `: ${d.error}` : ''}`, evidence);
        const age = hoursSince(d.at, now);
        if (age > DRILL_MAX_AGE_HOURS)
          return fail(`the newest restore drill is ${Math.floor(age / 24)} days old (weekly expected)`, {
            ...evidence,
            drillAgeHours: age,
          });
        if (s.stale)
          return warn(
            `the drill passed, but the newest verified backup is older than the ${s.objectiveHours} h objective`,
            { ...evidence, drillAgeHours: age },
          );
        return pass(`the newest drill passed ${age} h ago; measured recovery time ${d.ms} ms`, {
          ...evidence,
          drillAgeHours: age,
        });
      },
    },
    {
      ...base,
      id: 'backups.recovery-key',
      title: 'Backups restorable without this server',
      promise: 'A backup restores even when the original server and its root key are gone.',
      method: 'Checks that the backup recovery key was exported (once) to the operator.',
      remedy: 'Export it once and keep it apart from the server: `strongroom backup recovery-key export --out FILE`.',
      async check({ now }): Promise<ControlResult> {
        const s = await deps.status(now);
        return s.recoveryKeyExported
          ? pass('the recovery key was exported; new backups are wrapped under it', { exported: true })
          : warn('no recovery key yet: backups open only with this installation’s root key', { exported: false });
      },
    },
  ];
}
