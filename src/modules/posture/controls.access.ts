/**
 * Controls over people, credentials and data: MFA of owners and admins, inactive accounts,
 * long-lived API tokens, secrets due for rotation, drive health, and encryption at rest (every
 * committed dataset version has a wrapped data key, and sampled objects on their drives start
 * with the Strongroom object header — never plaintext).
 *
 * These are `workspace` controls: given a workspace they look only at it; the operator's run
 * looks at the installation and names workspaces in its evidence.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { OBJECT_MAGIC } from '../../core/crypto/object-format-header.ts';
import type { BlobDriver } from '../../adapters/blob/driver.ts';
import { DAY_MS, fail, pass, warn, type CheckContext, type Control } from './posture.registry.ts';
import * as store from './posture.store.ts';

export interface AccessControlDeps {
  db: Kysely<Database>;
  /** Secrets of a workspace expired, overdue or due within `withinSeconds` (the vault's `due`). */
  secretsDue(workspaceId: string, withinSeconds: number): Promise<{ path: string; reasons: string[] }[]>;
  /** A drive's blob driver (the drives module's `open`). */
  openDrive(ws: string, name: string): Promise<BlobDriver>;
  /** Objects sampled per run for the plaintext check. */
  sampleSize?: number;
}

const INACTIVE_DAYS = 90;
const MAX_TOKEN_DAYS = 365;
const list = (xs: string[], n = 5) => xs.slice(0, n).concat(xs.length > n ? [`… ${xs.length - n} more`] : []);

async function workspaces(db: Kysely<Database>, ctx: CheckContext): Promise<string[]> {
  if (ctx.workspace) return [ctx.workspace];
  return (await db.selectFrom('workspaces').select('id').orderBy('id').execute()).map((w) => w.id);
}

/** The first bytes of an object (up to `n`). */
async function firstBytes(driver: BlobDriver, key: string, n: number): Promise<Buffer> {
  const r = await driver.get(key, { start: 0, end: n - 1 });
  const chunks: Buffer[] = [];
  for await (const c of r.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).subarray(0, n);
}

export function accessControls(deps: AccessControlDeps): Control[] {
  return [
    {
      id: 'identity.mfa-privileged',
      title: 'MFA for owners and admins',
      promise: 'Administrative access requires multi-factor authentication.',
      method: 'Lists active owners and admins and whether each has TOTP enrolled.',
      remedy: 'Each listed account enrols TOTP (Account → MFA); the console forces it at their next sign-in.',
      scope: 'workspace',
      frameworks: { soc2: ['CC6.1'], iso27001: ['A.5.17', 'A.8.5'], pciDss: ['8.4.1'], gdpr: ['Art. 32(1)(b)'] },
      async check(ctx) {
        const users = await store.privilegedUsers(deps.db, ctx.workspace);
        const without = users.filter((u) => !u.mfa);
        const evidence = {
          privileged: users.length,
          withMfa: users.length - without.length,
          withoutMfa: list(without.map((u) => (ctx.workspace ? u.email : `${u.workspace}/${u.email}`))),
        };
        if (without.length > 0)
          return fail(`${without.length} of ${users.length} owner/admin account(s) without MFA`, evidence);
        return pass(`all ${users.length} owner/admin account(s) use MFA`, evidence);
      },
    },
    {
      id: 'identity.inactive-users',
      title: 'Inactive accounts',
      promise: 'Access of people who no longer use the platform is removed.',
      method: `Lists active accounts older than ${INACTIVE_DAYS} days with no session in the last ${INACTIVE_DAYS} days.`,
      remedy: 'Disable the listed accounts (Users & Roles) or confirm they are still needed.',
      scope: 'workspace',
      frameworks: { soc2: ['CC6.2', 'CC6.3'], iso27001: ['A.5.18'], pciDss: ['8.2.6'] },
      async check(ctx) {
        const users = await store.inactiveUsers(
          deps.db,
          ctx.workspace,
          new Date(ctx.now.getTime() - INACTIVE_DAYS * DAY_MS),
        );
        const evidence = { inactiveOver90Days: users.length, accounts: list(users.map((u) => u.email)) };
        if (users.length > 0)
          return warn(`${users.length} account(s) inactive for over ${INACTIVE_DAYS} days`, evidence);
        return pass(`no account inactive for over ${INACTIVE_DAYS} days`, evidence);
      },
    },
    {
      id: 'identity.token-lifetime',
      title: 'API tokens expire',
      promise: 'Machine credentials are scoped and expire.',
      method: `Counts live API tokens that expire more than ${MAX_TOKEN_DAYS} days from now.`,
      remedy: 'Revoke the listed tokens and issue ones that expire within a year.',
      scope: 'workspace',
      frameworks: { soc2: ['CC6.1'], iso27001: ['A.5.17'], pciDss: ['8.3.9', '8.6.3'] },
      async check(ctx) {
        const tokens = await store.longLivedTokens(
          deps.db,
          ctx.workspace,
          ctx.now,
          new Date(ctx.now.getTime() + MAX_TOKEN_DAYS * DAY_MS),
        );
        const evidence = { longLived: tokens.length, tokenIds: list(tokens.map((t) => t.id)) };
        if (tokens.length > 0) return warn(`${tokens.length} API token(s) live for more than a year`, evidence);
        return pass('every live API token expires within a year', evidence);
      },
    },
    {
      id: 'vault.secrets-due',
      title: 'Secrets rotated on time',
      promise: 'Connection secrets are rotated before they expire.',
      method: 'Asks the vault for secrets expired, overdue for rotation, or due within 14 days.',
      remedy: 'Rotate the listed secrets (write a new version) or extend their policy.',
      scope: 'workspace',
      frameworks: { soc2: ['CC6.1'], iso27001: ['A.5.17'], pciDss: ['8.3.9'] },
      async check(ctx) {
        const items: string[] = [];
        const overdue: string[] = [];
        for (const workspaceId of await workspaces(deps.db, ctx)) {
          for (const d of await deps.secretsDue(workspaceId, 14 * 24 * 3600)) {
            const name = ctx.workspace ? d.path : `${workspaceId}/${d.path}`;
            items.push(name);
            if (d.reasons.some((r) => r === 'expired' || r === 'rotation-overdue' || r === 'certificate-expired'))
              overdue.push(name);
          }
        }
        const evidence = {
          overdue: overdue.length,
          dueWithin14Days: items.length - overdue.length,
          secrets: list(items),
        };
        if (overdue.length > 0) return fail(`${overdue.length} secret(s) expired or overdue for rotation`, evidence);
        if (items.length > 0) return warn(`${items.length} secret(s) due within 14 days`, evidence);
        return pass('no secret expired, overdue or due within 14 days', evidence);
      },
    },
    {
      id: 'drives.health',
      title: 'Drives pass their health check',
      promise: 'Data stores are reachable and writable with the configured credentials.',
      method: 'Reads each drive’s last health check (the periodic job re-tests them).',
      remedy: 'Open the drive in Data Store and run Test: the diagnosis names the failing step.',
      scope: 'workspace',
      frameworks: { soc2: ['A1.2'], iso27001: ['A.8.14'] },
      async check(ctx) {
        const drives = await store.driveHealth(deps.db, ctx.workspace);
        const name = (d: { workspace: string; name: string }) => (ctx.workspace ? d.name : `${d.workspace}/${d.name}`);
        const failing = drives.filter((d) => d.status === 'failing');
        const unknown = drives.filter((d) => d.status === 'unknown');
        const evidence = {
          drives: drives.length,
          failing: list(failing.map((d) => `${name(d)} (${d.code ?? '?'})`)),
          neverChecked: list(unknown.map(name)),
        };
        if (failing.length > 0) return fail(`${failing.length} drive(s) failing their health check`, evidence);
        if (unknown.length > 0) return warn(`${unknown.length} drive(s) not checked yet`, evidence);
        return pass(`${drives.length} drive(s) healthy`, evidence);
      },
    },
    {
      id: 'encryption.at-rest',
      title: 'Datasets encrypted at rest',
      promise: 'Data is encrypted at rest with AES-256 under keys the customer controls.',
      method:
        'Counts committed dataset versions without a wrapped data key or header, and reads the first bytes of a random sample of objects on their drives: each must start with the Strongroom object header.',
      remedy:
        'A listed object is not in the Strongroom format: find how it was written, delete it and upload the data again.',
      scope: 'workspace',
      frameworks: { soc2: ['CC6.1', 'CC6.7'], iso27001: ['A.8.24'], pciDss: ['3.5.1'], gdpr: ['Art. 32(1)(a)'] },
      async check(ctx) {
        const facts = await store.datasetVersionFacts(deps.db, ctx.workspace, deps.sampleSize ?? 5);
        const plaintext: string[] = [];
        const unreadable: string[] = [];
        for (const s of facts.samples) {
          const label = ctx.workspace ? `${s.drive}:${s.objectKey}` : `${s.workspace}/${s.drive}:${s.objectKey}`;
          try {
            const driver = await deps.openDrive(s.workspace, s.drive);
            try {
              const head = await firstBytes(driver, s.objectKey, OBJECT_MAGIC.length);
              if (!head.equals(OBJECT_MAGIC)) plaintext.push(label);
            } finally {
              await driver.close();
            }
          } catch {
            unreadable.push(label);
          }
        }
        const evidence = {
          committedVersions: facts.committed,
          withoutWrappedKey: facts.unwrapped,
          sampled: facts.samples.length,
          sampledWithHeader: facts.samples.length - plaintext.length - unreadable.length,
          notInStrongroomFormat: list(plaintext),
          unreadable: list(unreadable),
          cipher: 'AES-256-GCM, 64 KiB segments',
        };
        if (facts.unwrapped > 0 || plaintext.length > 0)
          return fail(
            `${facts.unwrapped} version(s) without a wrapped key; ${plaintext.length} sampled object(s) not encrypted`,
            evidence,
          );
        if (unreadable.length > 0) return warn(`${unreadable.length} sampled object(s) could not be read`, evidence);
        return pass(
          `${facts.committed} version(s), all with wrapped keys; ${facts.samples.length} sampled object(s) start with the encrypted header`,
          evidence,
        );
      },
    },
  ];
}
