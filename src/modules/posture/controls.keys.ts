/**
 * Controls over keys: the seal state, the root-key provider, the age of the active keyring term
 * against the rotation schedule, and the rewrap of values still under older terms.
 */
import type { KeysStatus } from '../keys/index.ts';
import { daysBetween, fail, pass, warn, type Control } from './posture.registry.ts';

export interface KeysControlDeps {
  status(): Promise<KeysStatus>;
  /** STRONGROOM_KEY_ROTATION_DAYS (0: no schedule). */
  rotationDays: number;
}

const FRAMEWORKS = { soc2: ['CC6.1'], iso27001: ['A.8.24'], pciDss: ['3.6.1', '3.7.4'], gdpr: ['Art. 32(1)(a)'] };

export function keysControls(deps: KeysControlDeps): Control[] {
  return [
    {
      id: 'keys.seal',
      title: 'Key material in memory only',
      promise: 'Keys are held only in the server’s memory while it serves; sealing wipes them.',
      method: 'Asks the keys module for its state (uninitialized, sealed, unsealed) and root-key provider.',
      remedy: 'Unseal with `strongroom operator unseal` (Shamir) or check the root-key provider (file, HSM).',
      scope: 'installation',
      frameworks: FRAMEWORKS,
      async check() {
        const s = await deps.status();
        const evidence = { state: s.state, provider: s.provider };
        if (s.state === 'unsealed') return pass('unsealed; the root key and keyring are in memory only', evidence);
        return fail(`the keyring is ${s.state}: encrypted data cannot be served`, evidence);
      },
    },
    {
      id: 'keys.root-provider',
      title: 'Where the root key lives',
      promise: 'Encryption keys are protected by a root key kept outside the database.',
      method: 'Reads the configured root-key provider: file, Shamir shares or PKCS#11 HSM.',
      remedy:
        'For production, keep the root key off the server’s disk: STRONGROOM_ROOT_KEY_PROVIDER=pkcs11 (HSM) or shamir (operators hold shares).',
      scope: 'installation',
      frameworks: FRAMEWORKS,
      async check() {
        const s = await deps.status();
        const evidence = { provider: s.provider };
        if (s.provider === 'file')
          return warn(
            'the root key is a 0600 file in the data directory: protect that disk, or use an HSM or Shamir shares',
            evidence,
          );
        return pass(
          s.provider === 'pkcs11'
            ? 'the root key is wrapped by a non-extractable HSM key'
            : 'the root key is split into Shamir shares',
          evidence,
        );
      },
    },
    {
      id: 'keys.term-age',
      title: 'Keyring rotated on schedule',
      promise: 'Encryption keys are rotated regularly — generated and rotated automatically.',
      method:
        'Compares the age of the active keyring term with STRONGROOM_KEY_ROTATION_DAYS; the scheduled rotation job adds a term when it is due.',
      remedy: 'Rotate now (`strongroom keys rotate`, or POST /api/v1/keys/rotate), then rewrap; keep the schedule on.',
      scope: 'installation',
      frameworks: FRAMEWORKS,
      async check({ now }) {
        const s = await deps.status();
        const active = s.terms.find((t) => t.active);
        if (!active?.createdAt) return fail(`no readable active term (keyring ${s.state})`, { state: s.state });
        const created = new Date(active.createdAt);
        const ageDays = daysBetween(created, now);
        const older = s.terms.filter((t) => !t.active && t.createdAt).map((t) => new Date(t.createdAt).getTime());
        const evidence = {
          activeTerm: active.term,
          activeSince: active.createdAt,
          ageDays,
          scheduleDays: deps.rotationDays,
          terms: s.terms.length,
          lastRotation: older.length > 0 ? active.createdAt : null,
        };
        if (deps.rotationDays === 0)
          return warn(
            `no rotation schedule (STRONGROOM_KEY_ROTATION_DAYS=0); active term is ${ageDays} days old`,
            evidence,
          );
        if (ageDays > deps.rotationDays)
          return fail(
            `the active term ${active.term} is ${ageDays} days old; the schedule allows ${deps.rotationDays}`,
            evidence,
          );
        if (ageDays > deps.rotationDays * 0.9)
          return warn(
            `the active term is ${ageDays} days old; rotation is due within ${deps.rotationDays - ageDays} days`,
            evidence,
          );
        return pass(
          `active term ${active.term} is ${ageDays} days old (schedule: ${deps.rotationDays} days)`,
          evidence,
        );
      },
    },
    {
      id: 'keys.rewrap',
      title: 'Old key terms rewrapped',
      promise: 'After a rotation, every sealed value moves to the new key; old keys are retired.',
      method: 'Counts barrier-sealed values under each term and reads the rewrap job’s progress.',
      remedy: 'Run `strongroom keys rewrap`, then retire the empty terms (`strongroom keys retire <term>`).',
      scope: 'installation',
      frameworks: FRAMEWORKS,
      async check({ now }) {
        const s = await deps.status();
        const stale = s.terms.filter((t) => !t.active && !t.retiredAt && t.sealedValues > 0);
        const values = stale.reduce((n, t) => n + t.sealedValues, 0);
        const evidence = {
          staleTerms: stale.map((t) => t.term),
          valuesUnderOldTerms: values,
          rewrapRunning: s.rewrap.running,
          rewrapped: s.rewrap.rewrapped,
          lastError: s.rewrap.lastError ?? null,
        };
        if (s.rewrap.lastError) return fail(`the last rewrap failed (${s.rewrap.lastError})`, evidence);
        if (values === 0) return pass('every sealed value is under the active term', evidence);
        const active = s.terms.find((t) => t.active);
        const sinceRotation = active?.createdAt ? daysBetween(new Date(active.createdAt), now) : 0;
        if (!s.rewrap.running && sinceRotation > 7)
          return fail(
            `${values} value(s) still under term(s) ${evidence.staleTerms.join(', ')} ${sinceRotation} days after rotation`,
            evidence,
          );
        return warn(
          `${values} value(s) still under older term(s)${s.rewrap.running ? '; rewrap running' : ''}`,
          evidence,
        );
      },
    },
  ];
}
