/**
 * Every posture control, driven to each outcome it has (pass, warn, fail) by crafted inputs: a
 * table of cases, one row per outcome. Controls that read the database get their rows written
 * inside a transaction that is rolled back after the case (each case sees only its own rows, in
 * its own workspace `tbl`); the others get their dependencies by hand (a keys status, a verify
 * report, a sink's lag, a backup status …).
 *
 * Two checks keep the table honest:
 * - it lists exactly the controls the server registers (a new control without cases fails);
 * - each control has a case for every outcome its row in src/modules/posture/NOTES.md names
 *   (a "—" there: the control has no such outcome), so docs and tests cannot drift apart.
 * `tls.*` need live listeners with crafted certificates and TLS settings: their pass and fail
 * are driven in posture-transport.test.ts; here only their warn (no listener yet).
 */
import assert from 'node:assert/strict';
import { chmod, chown, mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Transaction } from 'kysely';
import { createTestDatabase } from './helpers/db.ts';
import { startTestApp } from './helpers/app.ts';
import type { DatabaseHandle } from '../src/db/database.ts';
import type { Database } from '../src/db/schema.ts';
import {
  accessControls,
  auditControls,
  keysControls,
  networkControls,
  platformControls,
  transportControls,
  type Control,
  type ControlResult,
  type ControlStatus,
} from '../src/modules/posture/index.ts';
import { ssoControls } from '../src/modules/sso/index.ts';
import { backupsControls, type BackupsStatus } from '../src/modules/backups/index.ts';
import { retentionControls, type RetentionPostureDeps } from '../src/modules/retention/index.ts';
import { parseClientNetwork } from '../src/core/net/client-allowlist.ts';
import { checkpointFileName } from '../src/core/audit/segment.ts';
import { OBJECT_MAGIC } from '../src/core/crypto/object-format-header.ts';
import type { KeysStatus } from '../src/modules/keys/index.ts';
import type { VerifyReport } from '../src/core/audit/report.ts';
import type { SinkLag } from '../src/modules/audit/index.ts';
import type { BlobDriver } from '../src/adapters/blob/driver.ts';

const DAY = 24 * 3600 * 1000;
const NOW = new Date('2026-06-01T12:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const WS = 'tbl';

type Trx = Transaction<Database>;
interface Env {
  db: Trx;
  /** A fresh temporary directory of this case. */
  dir: string;
}
interface Case {
  expect: ControlStatus;
  /** What was crafted, in a few words (the test's name). */
  given: string;
  /** The controls under test, built from crafted dependencies. */
  controls(env: Env): Control[] | Promise<Control[]>;
  /** Rows written (and rolled back) before the check. */
  arrange?(env: Env): Promise<void>;
  /** The workspace looked at (workspace controls); none: the installation. */
  workspace?: string;
  /** What else the result must hold. */
  holds?(r: ControlResult): void;
}

// ---- crafted dependencies ----

function keysStatus(over: Partial<KeysStatus> & { activeDays?: number } = {}): KeysStatus {
  const { activeDays = 10, ...rest } = over;
  return {
    state: 'unsealed',
    provider: 'shamir',
    activeTerm: 2,
    terms: [
      { term: 1, createdAt: ago(200 * DAY).toISOString(), active: false, sealedValues: 0 },
      { term: 2, createdAt: ago(activeDays * DAY).toISOString(), active: true, sealedValues: 12 },
    ],
    rewrap: { running: false, rewrapped: 12 },
    ...rest,
  };
}
const keys = (s: KeysStatus, rotationDays = 90) => keysControls({ status: async () => s, rotationDays });

const verified: VerifyReport = {
  ok: true,
  eventsChecked: 40,
  headSeq: 40,
  headHash: 'ab'.repeat(32),
  problems: [],
  problemsOmitted: 0,
};
function audit(env: Env, over: { verify?: VerifyReport; head?: number; sinks?: SinkLag[] } = {}): Control[] {
  return auditControls({
    verify: async () => over.verify ?? verified,
    headSeq: async () => over.head ?? 40,
    logDir: path.join(env.dir, 'logs'),
    sinkLag: async () => over.sinks ?? [],
  });
}
async function exportCheckpoint(env: Env, treeSize: number, time: Date): Promise<void> {
  const dir = path.join(env.dir, 'logs', 'audit');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, checkpointFileName(treeSize)), JSON.stringify({ treeSize, time: time.toISOString() }));
}
const sink = (lagEvents: number, behindMs: number): SinkLag => ({
  sink: 'webhook',
  deliveredSeq: 40 - lagEvents,
  headSeq: 40,
  lagEvents,
  oldestUndeliveredAt: lagEvents > 0 ? ago(behindMs).toISOString() : null,
  lastError: lagEvents > 0 ? 'ECONNREFUSED' : null,
  deliveredAt: ago(behindMs).toISOString(),
});

type DbFacts = Parameters<typeof platformControls>[0]['database'];
const platform = (
  env: Env,
  database: DbFacts = { kind: 'pglite', summary: 'embedded' },
  node = '24.1.0',
  home = env.dir,
) => platformControls({ db: env.db, home, database, nodeVersion: node });

/** A drive whose every object starts with `head` (or cannot be read: `null`). */
function fakeDrive(head: Buffer | null): BlobDriver {
  return {
    async get() {
      if (!head) throw Object.assign(new Error('gone'), { code: 'DRIVE_UNREACHABLE' });
      return { body: Readable.from([head]), size: head.length, length: head.length };
    },
    async close() {},
  } as unknown as BlobDriver;
}
function access(env: Env, o: { due?: { path: string; reasons: string[] }[]; head?: Buffer | null } = {}): Control[] {
  return accessControls({
    db: env.db,
    secretsDue: async () => o.due ?? [],
    openDrive: async () => fakeDrive(o.head === undefined ? Buffer.concat([OBJECT_MAGIC, Buffer.from([1])]) : o.head),
  });
}
const sso = (env: Env) => ssoControls({ db: env.db });
const network = (allowed: string) => networkControls({ network: parseClientNetwork(allowed, '') });

function backupStatus(over: Partial<BackupsStatus> = {}): BackupsStatus {
  return {
    objectiveHours: 26,
    newestBackup: ago(3 * 3600_000).toISOString(),
    newestVerified: ago(3 * 3600_000).toISOString(),
    lastDrill: { id: 'b-1', ok: true, ms: 4200, at: ago(2 * DAY).toISOString() },
    stale: false,
    drillFailed: false,
    recoveryKeyExported: true,
    targets: 1,
    ...over,
  };
}
const backups = (s: BackupsStatus) => backupsControls({ status: async () => s });
type RetentionShow = Awaited<ReturnType<RetentionPostureDeps['show']>>;
const retention = (s: Partial<RetentionShow>) =>
  retentionControls({ show: async () => ({ classes: { audit: 400 }, holds: [], terminations: [], ...s }) });

// ---- crafted rows ----

async function workspace(db: Trx, id = WS): Promise<void> {
  await db.insertInto('workspaces').values({ id, name: id }).execute();
}
async function user(
  db: Trx,
  email: string,
  o: {
    role?: 'owner' | 'admin' | 'analyst';
    mfa?: boolean;
    password?: boolean;
    createdDaysAgo?: number;
    ws?: string;
  } = {},
): Promise<string> {
  const row = await db
    .insertInto('users')
    .values({
      email,
      display_name: email,
      password_hash: o.password === false ? null : '$argon2id$v=19$m=19456,t=2,p=1$crafted$crafted',
      mfa_enabled: o.mfa ?? false,
      created_at: ago((o.createdDaysAgo ?? 1) * DAY),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('memberships')
    .values({ workspace_id: o.ws ?? WS, user_id: row.id, role: o.role ?? 'analyst' })
    .execute();
  return row.id;
}
async function token(db: Trx, userId: string, expiresInDays: number): Promise<void> {
  await db
    .insertInto('api_tokens')
    .values({
      id: `tok${expiresInDays}`,
      hash: 'f'.repeat(64),
      name: 'crafted',
      user_id: userId,
      service_account_id: null,
      workspace_id: WS,
      scopes: JSON.stringify(['read']),
      created_at: NOW,
      expires_at: new Date(NOW.getTime() + expiresInDays * DAY),
    })
    .execute();
}
async function drive(db: Trx, name: string, status: 'unknown' | 'healthy' | 'failing'): Promise<void> {
  await db
    .insertInto('drives')
    .values({
      workspace_id: WS,
      name,
      kind: 'local',
      config: JSON.stringify({}),
      credential_path: null,
      status,
      status_code: status === 'failing' ? 'DRIVE_UNREACHABLE' : null,
      created_by: 'crafted',
    })
    .execute();
}
async function datasetVersion(db: Trx, wrappedDek: Buffer): Promise<void> {
  await drive(db, 'store', 'healthy');
  await db.insertInto('datasets').values({ workspace_id: WS, name: 'notes', created_by: 'crafted' }).execute();
  await db
    .insertInto('dataset_versions')
    .values({
      workspace_id: WS,
      dataset: 'notes',
      version: 1,
      state: 'committed',
      drive: 'store',
      object_key: 'ws/tbl/notes/1',
      object_id: 'obj-1',
      key_term: 1,
      wrapped_dek: wrappedDek,
      header: Buffer.from('hdr'),
      plain_size: 10,
      stored_size: 80,
      sha256: 'c'.repeat(64),
      filename: null,
      tabular_format: null,
      created_by: 'crafted',
      committed_at: NOW,
    })
    .execute();
}
async function provider(db: Trx, o: { enabled?: boolean; error?: string } = {}): Promise<void> {
  await db
    .insertInto('sso_providers')
    .values({
      id: 'corp-idp',
      kind: 'oidc',
      display_name: 'Corp IdP',
      issuer: 'https://idp.corp.test',
      enabled: o.enabled ?? true,
      settings: JSON.stringify({ clientId: 'strongroom' }),
      secret_sealed: null,
      last_error: o.error ?? null,
      last_error_at: o.error ? NOW : null,
    })
    .execute();
  await db
    .insertInto('sso_role_mappings')
    .values({ workspace_id: WS, provider_id: 'corp-idp', group_name: 'staff', role: 'analyst' })
    .execute();
}
async function enforce(db: Trx): Promise<void> {
  await db
    .insertInto('sso_workspace_settings')
    .values({ workspace_id: WS, enforce_sso: true, updated_at: NOW })
    .execute();
}
/** A chained password sign-in event, as the sign-in route records it. */
async function signInEvent(db: Trx, userId: string, at: Date, breakGlass: boolean): Promise<void> {
  const top = await db.selectFrom('audit_events').select(db.fn.max('seq').as('m')).executeTakeFirst();
  await db
    .insertInto('audit_events')
    .values({
      seq: Number(top?.m ?? 0) + 1,
      time: at.toISOString(),
      actor_id: userId,
      actor_kind: 'user',
      auth_method: 'password-pending-mfa',
      action: 'identity.session.create',
      resource_type: 'user',
      resource_id: userId,
      workspace: null,
      outcome: 'success',
      request_id: null,
      source_ip: '127.0.0.1',
      user_agent: null,
      details: JSON.stringify({ strength: 'password-pending-mfa', ...(breakGlass ? { breakGlass: true } : {}) }),
      prev_hash: '0'.repeat(64),
      hash: '1'.repeat(64),
    })
    .execute();
}

// ---- the table ----

const TABLE: Record<string, Case[]> = {
  'keys.seal': [
    { expect: 'pass', given: 'unsealed', controls: () => keys(keysStatus()) },
    { expect: 'fail', given: 'sealed', controls: () => keys(keysStatus({ state: 'sealed' })) },
  ],
  'keys.root-provider': [
    { expect: 'pass', given: 'an HSM', controls: () => keys(keysStatus({ provider: 'pkcs11' })) },
    { expect: 'warn', given: 'a file on the data disk', controls: () => keys(keysStatus({ provider: 'file' })) },
  ],
  'keys.term-age': [
    { expect: 'pass', given: 'a 10-day-old term, 90-day schedule', controls: () => keys(keysStatus()) },
    { expect: 'warn', given: 'an 85-day-old term', controls: () => keys(keysStatus({ activeDays: 85 })) },
    { expect: 'warn', given: 'no schedule', controls: () => keys(keysStatus(), 0) },
    {
      expect: 'fail',
      given: 'a 91-day-old term',
      controls: () => keys(keysStatus({ activeDays: 91 })),
      holds: (r) => assert.equal(r.evidence.ageDays, 91),
    },
    { expect: 'fail', given: 'no active term', controls: () => keys(keysStatus({ state: 'sealed', terms: [] })) },
  ],
  'keys.rewrap': [
    { expect: 'pass', given: 'nothing under old terms', controls: () => keys(keysStatus()) },
    {
      expect: 'warn',
      given: 'values under term 1, rewrap running',
      controls: () =>
        keys(
          keysStatus({
            activeDays: 20,
            terms: [
              { term: 1, createdAt: ago(200 * DAY).toISOString(), active: false, sealedValues: 7 },
              { term: 2, createdAt: ago(20 * DAY).toISOString(), active: true, sealedValues: 5 },
            ],
            rewrap: { running: true, rewrapped: 5 },
          }),
        ),
    },
    {
      expect: 'fail',
      given: 'values under term 1 eight days after rotation, no rewrap',
      controls: () =>
        keys(
          keysStatus({
            terms: [
              { term: 1, createdAt: ago(200 * DAY).toISOString(), active: false, sealedValues: 7 },
              { term: 2, createdAt: ago(8 * DAY).toISOString(), active: true, sealedValues: 5 },
            ],
          }),
        ),
      holds: (r) => assert.deepEqual(r.evidence.staleTerms, [1]),
    },
    {
      expect: 'fail',
      given: 'the last rewrap failed',
      controls: () => keys(keysStatus({ rewrap: { running: false, rewrapped: 0, lastError: 'KEY_UNAVAILABLE' } })),
    },
  ],
  'audit.chain': [
    { expect: 'pass', given: 'a verified chain', controls: (env) => audit(env) },
    {
      expect: 'fail',
      given: 'an edited row',
      controls: (env) =>
        audit(env, {
          verify: { ...verified, ok: false, problems: [{ kind: 'export-mismatch', seq: 7, detail: 'x' }] },
        }),
      holds: (r) => assert.match(r.summary, /export-mismatch at seq 7/),
    },
  ],
  'audit.checkpoint-export': [
    {
      expect: 'pass',
      given: 'a checkpoint at the head',
      arrange: (env) => exportCheckpoint(env, 40, ago(5 * DAY)),
      controls: (env) => audit(env),
    },
    {
      expect: 'warn',
      given: 'a checkpoint 2 hours old, 5 events behind',
      arrange: (env) => exportCheckpoint(env, 35, ago(2 * 3600_000)),
      controls: (env) => audit(env),
      holds: (r) => assert.equal(r.evidence.behind, 5),
    },
    {
      expect: 'fail',
      given: 'a checkpoint 2 days old, behind',
      arrange: (env) => exportCheckpoint(env, 35, ago(2 * DAY)),
      controls: (env) => audit(env),
    },
    { expect: 'fail', given: 'events and no export', controls: (env) => audit(env) },
  ],
  'audit.streaming': [
    { expect: 'pass', given: 'a sink up to date', controls: (env) => audit(env, { sinks: [sink(0, 0)] }) },
    { expect: 'warn', given: 'no sink', controls: (env) => audit(env) },
    { expect: 'warn', given: 'a sink 5 minutes behind', controls: (env) => audit(env, { sinks: [sink(3, 300_000)] }) },
    {
      expect: 'fail',
      given: 'a sink 2 hours behind',
      controls: (env) => audit(env, { sinks: [sink(30, 2 * 3600_000)] }),
      holds: (r) => assert.equal(r.evidence['webhook.lagEvents'], 30),
    },
  ],
  'platform.data-dir': [
    {
      expect: 'pass',
      given: 'mode 700, own',
      arrange: ({ dir }) => chmod(dir, 0o700),
      controls: (env) => platform(env),
    },
    {
      expect: 'warn',
      given: 'mode 700, another owner',
      arrange: async ({ dir }) => {
        await chmod(dir, 0o700);
        if (process.getuid?.() === 0) await chown(dir, 65534, 65534);
      },
      controls: async (env) => platform(env, undefined, undefined, await foreignDir(env.dir)),
    },
    { expect: 'fail', given: 'mode 750', arrange: ({ dir }) => chmod(dir, 0o750), controls: (env) => platform(env) },
    {
      expect: 'fail',
      given: 'no directory',
      controls: (env) => platform(env, undefined, undefined, path.join(env.dir, 'no')),
    },
  ],
  'platform.database-tls': [
    { expect: 'pass', given: 'embedded', controls: (env) => platform(env) },
    {
      expect: 'pass',
      given: 'remote verify-full',
      controls: (env) => platform(env, { kind: 'postgres', summary: 'db.corp.test:5432 sslmode=verify-full' }),
    },
    {
      expect: 'warn',
      given: 'loopback without TLS',
      controls: (env) => platform(env, { kind: 'postgres', summary: '127.0.0.1:5432 loopback, no TLS' }),
    },
    {
      expect: 'warn',
      given: 'a client certificate with 10 days left',
      controls: (env) =>
        platform(env, {
          kind: 'postgres',
          summary: 'db.corp.test:5432 sslmode=verify-full',
          clientCertificate: { subject: 'CN=strongroom', notAfter: new Date(NOW.getTime() + 10.5 * DAY) },
        }),
      holds: (r) => assert.equal(r.evidence.daysLeft, 10),
    },
    {
      expect: 'fail',
      given: 'remote sslmode=require',
      controls: (env) => platform(env, { kind: 'postgres', summary: 'db.corp.test:5432 sslmode=require' }),
    },
    {
      expect: 'fail',
      given: 'an expired client certificate',
      controls: (env) =>
        platform(env, {
          kind: 'postgres',
          summary: 'db.corp.test:5432 sslmode=verify-full',
          clientCertificate: { subject: 'CN=strongroom', notAfter: ago(DAY) },
        }),
    },
  ],
  'platform.versions': [
    { expect: 'pass', given: 'Node 24', controls: (env) => platform(env) },
    {
      expect: 'fail',
      given: 'Node 18',
      controls: (env) => platform(env, undefined, '18.20.4'),
      holds: (r) => assert.match(r.summary, /Node\.js 18\.20\.4 < 20/),
    },
  ],
  'platform.first-run-credential': [
    {
      expect: 'pass',
      given: 'a used setup token and an owner',
      arrange: async ({ db }) => {
        await db
          .insertInto('setup_tokens')
          .values({ id: 1, token_hash: 'a'.repeat(64), expires_at: NOW, used_at: ago(DAY) })
          .execute();
        await workspace(db);
        await user(db, 'owner@corp.test', { role: 'owner' });
      },
      controls: (env) => platform(env),
    },
    { expect: 'warn', given: 'no users yet', controls: (env) => platform(env) },
    {
      expect: 'fail',
      given: 'an open setup token',
      arrange: async ({ db }) => {
        await db
          .insertInto('setup_tokens')
          .values({ id: 1, token_hash: 'a'.repeat(64), expires_at: new Date(NOW.getTime() + 3600_000), used_at: null })
          .execute();
      },
      controls: (env) => platform(env),
    },
  ],
  'identity.mfa-privileged': [
    {
      expect: 'pass',
      given: 'an owner with TOTP',
      workspace: WS,
      arrange: async ({ db }) => {
        await workspace(db);
        await user(db, 'owner@corp.test', { role: 'owner', mfa: true });
        await user(db, 'analyst@corp.test');
      },
      controls: (env) => access(env),
    },
    {
      expect: 'fail',
      given: 'an admin without TOTP',
      workspace: WS,
      arrange: async ({ db }) => {
        await workspace(db);
        await user(db, 'owner@corp.test', { role: 'owner', mfa: true });
        await user(db, 'admin@corp.test', { role: 'admin' });
      },
      controls: (env) => access(env),
      holds: (r) => assert.deepEqual(r.evidence.withoutMfa, ['admin@corp.test']),
    },
  ],
  'identity.inactive-users': [
    {
      expect: 'pass',
      given: 'an account made yesterday',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), void (await user(db, 'new@corp.test'))),
      controls: (env) => access(env),
    },
    {
      expect: 'warn',
      given: 'an account 120 days old, never seen',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), void (await user(db, 'old@corp.test', { createdDaysAgo: 120 }))),
      controls: (env) => access(env),
      holds: (r) => assert.deepEqual(r.evidence.accounts, ['old@corp.test']),
    },
  ],
  'identity.token-lifetime': [
    {
      expect: 'pass',
      given: 'a token for 30 days',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await token(db, await user(db, 'ci@corp.test'), 30)),
      controls: (env) => access(env),
    },
    {
      expect: 'warn',
      given: 'a token for two years',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await token(db, await user(db, 'ci@corp.test'), 730)),
      controls: (env) => access(env),
      holds: (r) => assert.deepEqual(r.evidence.tokenIds, ['tok730']),
    },
  ],
  'vault.secrets-due': [
    { expect: 'pass', given: 'nothing due', workspace: WS, controls: (env) => access(env) },
    {
      expect: 'warn',
      given: 'a secret due in a week',
      workspace: WS,
      controls: (env) => access(env, { due: [{ path: 'db/main', reasons: ['rotation-due'] }] }),
    },
    {
      expect: 'fail',
      given: 'an expired secret',
      workspace: WS,
      controls: (env) => access(env, { due: [{ path: 'db/main', reasons: ['expired'] }] }),
      holds: (r) => assert.equal(r.evidence.overdue, 1),
    },
  ],
  'drives.health': [
    {
      expect: 'pass',
      given: 'a healthy drive',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await drive(db, 'a', 'healthy')),
      controls: (env) => access(env),
    },
    {
      expect: 'warn',
      given: 'a drive never checked',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await drive(db, 'a', 'unknown')),
      controls: (env) => access(env),
    },
    {
      expect: 'fail',
      given: 'a failing drive',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await drive(db, 'a', 'failing')),
      controls: (env) => access(env),
      holds: (r) => assert.deepEqual(r.evidence.failing, ['a (DRIVE_UNREACHABLE)']),
    },
  ],
  'encryption.at-rest': [
    {
      expect: 'pass',
      given: 'a wrapped key and an SROB object',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await datasetVersion(db, Buffer.from('wrapped'))),
      controls: (env) => access(env),
    },
    {
      expect: 'warn',
      given: 'an object that cannot be read',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await datasetVersion(db, Buffer.from('wrapped'))),
      controls: (env) => access(env, { head: null }),
    },
    {
      expect: 'fail',
      given: 'a plaintext object',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await datasetVersion(db, Buffer.from('wrapped'))),
      controls: (env) => access(env, { head: Buffer.from('name,secret\n') }),
      holds: (r) => assert.deepEqual(r.evidence.notInStrongroomFormat, ['store:ws/tbl/notes/1']),
    },
    {
      expect: 'fail',
      given: 'a version without a wrapped key',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await datasetVersion(db, Buffer.alloc(0))),
      controls: (env) => access(env),
    },
  ],
  'sso.configured': [
    {
      expect: 'pass',
      given: 'a working provider mapped',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await provider(db)),
      controls: sso,
    },
    { expect: 'warn', given: 'no provider', workspace: WS, arrange: ({ db }) => workspace(db), controls: sso },
    {
      expect: 'fail',
      given: 'a mapped provider failing',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await provider(db, { error: 'discovery failed' })),
      controls: sso,
    },
  ],
  'sso.enforced': [
    {
      expect: 'pass',
      given: 'enforced with a working provider',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await provider(db), await enforce(db)),
      controls: sso,
    },
    {
      expect: 'warn',
      given: 'configured, not enforced',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await provider(db)),
      controls: sso,
    },
    {
      expect: 'fail',
      given: 'enforced with a disabled provider',
      workspace: WS,
      arrange: async ({ db }) => (await workspace(db), await provider(db, { enabled: false }), await enforce(db)),
      controls: sso,
    },
  ],
  'sso.break-glass': [
    {
      expect: 'pass',
      given: 'enforced, an owner with password and TOTP, no use',
      workspace: WS,
      arrange: async ({ db }) => {
        await workspace(db);
        await provider(db);
        await enforce(db);
        await user(db, 'owner@corp.test', { role: 'owner', mfa: true });
      },
      controls: sso,
      holds: (r) => assert.equal(r.evidence.breakGlassOwners, 1),
    },
    {
      expect: 'pass',
      given: 'enforced; a use 31 days ago and an ordinary sign-in today',
      workspace: WS,
      arrange: async ({ db }) => {
        await workspace(db);
        await provider(db);
        await enforce(db);
        const id = await user(db, 'owner@corp.test', { role: 'owner', mfa: true });
        await signInEvent(db, id, ago(31 * DAY), true);
        await signInEvent(db, id, ago(3600_000), false);
      },
      controls: sso,
      holds: (r) => assert.equal(r.evidence.signInsLast30Days, 0),
    },
    { expect: 'pass', given: 'SSO not enforced', workspace: WS, arrange: ({ db }) => workspace(db), controls: sso },
    {
      expect: 'warn',
      given: 'a break-glass sign-in 2 days ago',
      workspace: WS,
      arrange: async ({ db }) => {
        await workspace(db);
        await provider(db);
        await enforce(db);
        const id = await user(db, 'owner@corp.test', { role: 'owner', mfa: true });
        await signInEvent(db, id, ago(2 * DAY), true);
      },
      controls: sso,
      holds: (r) => {
        assert.equal(r.evidence.signInsLast30Days, 1);
        assert.deepEqual(r.evidence.accounts, ['owner@corp.test']);
        assert.equal(r.evidence.lastSignIn, ago(2 * DAY).toISOString());
        assert.equal((r.evidence.auditSeqs as string[]).length, 1);
      },
    },
    {
      expect: 'fail',
      given: 'enforced and the only owner has no TOTP',
      workspace: WS,
      arrange: async ({ db }) => {
        await workspace(db);
        await provider(db);
        await enforce(db);
        await user(db, 'owner@corp.test', { role: 'owner', mfa: false });
        await user(db, 'admin@corp.test', { role: 'admin', mfa: true });
      },
      controls: sso,
    },
    {
      expect: 'fail',
      given: 'enforced and the owner with TOTP is SSO-only (no password)',
      workspace: WS,
      arrange: async ({ db }) => {
        await workspace(db);
        await provider(db);
        await enforce(db);
        await user(db, 'owner@corp.test', { role: 'owner', mfa: true, password: false });
      },
      controls: sso,
    },
    {
      expect: 'fail',
      given: 'the operator’s run names the stranded workspace',
      arrange: async ({ db }) => (await workspace(db), await provider(db), await enforce(db)),
      controls: sso,
      holds: (r) => assert.ok((r.evidence.failing as string[]).includes(WS)),
    },
  ],
  'network.client-allowlist': [
    { expect: 'pass', given: 'two narrow blocks', controls: () => network('10.0.0.0/8,2001:db8::/32') },
    { expect: 'warn', given: 'no allowlist', controls: () => network('') },
    { expect: 'fail', given: 'two /1 blocks', controls: () => network('0.0.0.0/1,128.0.0.0/1') },
  ],
  'backups.freshness': [
    { expect: 'pass', given: 'a 3-hour-old backup', controls: () => backups(backupStatus()) },
    {
      expect: 'fail',
      given: 'a 30-hour-old backup',
      controls: () => backups(backupStatus({ newestBackup: ago(30 * 3600_000).toISOString() })),
      holds: (r) => assert.equal(r.evidence.ageHours, 30),
    },
    { expect: 'fail', given: 'no target', controls: () => backups(backupStatus({ targets: 0 })) },
  ],
  'backups.drill': [
    { expect: 'pass', given: 'a drill 2 days ago', controls: () => backups(backupStatus()) },
    {
      expect: 'warn',
      given: 'a passed drill, stale verified backup',
      controls: () => backups(backupStatus({ stale: true })),
    },
    {
      expect: 'fail',
      given: 'a drill 9 days old',
      controls: () =>
        backups(backupStatus({ lastDrill: { id: 'b-1', ok: true, ms: 4200, at: ago(9 * DAY).toISOString() } })),
    },
    {
      expect: 'fail',
      given: 'a failed drill',
      controls: () =>
        backups(
          backupStatus({
            lastDrill: { id: 'b-1', ok: false, ms: 900, at: ago(DAY).toISOString(), error: 'CHECKSUM_MISMATCH' },
          }),
        ),
    },
  ],
  'backups.recovery-key': [
    { expect: 'pass', given: 'exported', controls: () => backups(backupStatus()) },
    { expect: 'warn', given: 'not exported', controls: () => backups(backupStatus({ recoveryKeyExported: false })) },
  ],
  'retention.audit-class': [
    { expect: 'pass', given: 'audit kept 400 days', controls: () => retention({}) },
    { expect: 'warn', given: 'audit kept 90 days', controls: () => retention({ classes: { audit: 90 } }) },
  ],
  'retention.terminations': [
    {
      expect: 'pass',
      given: 'an overdue termination under a legal hold',
      controls: () =>
        retention({
          terminations: [{ workspace: 'gone', state: 'pending', purgeAfter: ago(3 * DAY).toISOString() }],
          holds: [{ scope: 'workspace', target: 'gone', releasedAt: null }],
        }),
    },
    {
      expect: 'warn',
      given: 'a termination 3 days past its purge date',
      controls: () =>
        retention({ terminations: [{ workspace: 'gone', state: 'pending', purgeAfter: ago(3 * DAY).toISOString() }] }),
      holds: (r) => assert.deepEqual(r.evidence.overdue, ['gone']),
    },
  ],
};

/** tls.* without a listener (their pass and fail: posture-transport.test.ts, live listeners). */
const transportNoListener = (env: Env) =>
  transportControls({
    listener: () => undefined,
    redirect: () => undefined,
    certFile: () => path.join(env.dir, 'absent.pem'),
  });
const DRIVEN_ELSEWHERE: Record<string, ControlStatus[]> = {
  'tls.protocols': ['pass', 'fail'],
  'tls.certificate': ['pass', 'warn', 'fail'],
  'tls.hsts-redirect': ['pass', 'warn', 'fail'],
};
for (const id of Object.keys(DRIVEN_ELSEWHERE))
  TABLE[id] = [{ expect: 'warn', given: 'no listener yet', controls: transportNoListener }];

/** A 0700 directory owned by another uid (chowned as root; otherwise /root, when it is one). */
async function foreignDir(dir: string): Promise<string> {
  if (process.getuid?.() === 0) return dir;
  const s = await stat('/root').catch(() => undefined);
  if (s && s.uid !== process.getuid?.() && (s.mode & 0o777) === 0o700) return '/root';
  throw new Error('no 0700 directory of another owner to look at (run as root, or with /root at 0700)');
}

/** Outcomes per control as NOTES.md's table states them ("—": none). */
async function documentedOutcomes(): Promise<Map<string, ControlStatus[]>> {
  const notes = await readFile(new URL('../src/modules/posture/NOTES.md', import.meta.url), 'utf8');
  const out = new Map<string, ControlStatus[]>();
  for (const line of notes.split('\n')) {
    const m = /^\| `([a-z0-9.-]+)` \|[^|]*\| (.*) \|$/.exec(line);
    if (!m) continue;
    const parts = m[2]!.split(' / ');
    assert.equal(parts.length, 3, `NOTES.md row of ${m[1]} names pass / warn / fail`);
    out.set(
      m[1]!,
      (['pass', 'warn', 'fail'] as const).filter((_, i) => parts[i]!.trim() !== '—'),
    );
  }
  return out;
}

class Rollback extends Error {}

describe('posture controls: each outcome from crafted inputs', () => {
  let database: DatabaseHandle;
  let tmp: string;

  before(async () => {
    database = await createTestDatabase('pglite');
    tmp = await mkdtemp(path.join(os.tmpdir(), 'posture-table-'));
  });
  after(async () => {
    await database.close();
    await rm(tmp, { recursive: true, force: true });
  });

  let n = 0;
  for (const [id, cases] of Object.entries(TABLE))
    for (const c of cases)
      test(`${id}: ${c.expect} — ${c.given}`, async () => {
        const dir = path.join(tmp, `case-${++n}`);
        await mkdir(dir, { mode: 0o700 });
        let result: ControlResult | undefined;
        await database.db
          .transaction()
          .execute(async (db) => {
            const env = { db, dir };
            await c.arrange?.(env);
            const control = (await c.controls(env)).find((x) => x.id === id);
            assert.ok(control, `${id} is among the controls built`);
            result = await control.check({ now: NOW, ...(c.workspace ? { workspace: c.workspace } : {}) });
            throw new Rollback();
          })
          .catch((e: unknown) => {
            if (!(e instanceof Rollback)) throw e;
          });
        assert.ok(result);
        assert.equal(result.status, c.expect, `${id}: ${result.summary}`);
        assert.ok(result.summary.length > 0);
        c.holds?.(result);
      });

  test('the table covers every control the server registers, and every outcome NOTES.md names', async () => {
    const app = await startTestApp('pglite', { env: { STRONGROOM_POSTURE_CHECK_SECONDS: '0' } });
    let registered: string[];
    try {
      registered = app.server.posture.posture.registry.list().map((c) => c.id);
    } finally {
      await app.close();
    }
    assert.deepEqual(Object.keys(TABLE).sort(), [...registered].sort());
    const documented = await documentedOutcomes();
    assert.deepEqual([...documented.keys()].sort(), [...registered].sort(), 'NOTES.md lists every control');
    for (const id of registered) {
      const covered = new Set([...TABLE[id]!.map((c) => c.expect), ...(DRIVEN_ELSEWHERE[id] ?? [])]);
      assert.deepEqual(
        (['pass', 'warn', 'fail'] as const).filter((s) => covered.has(s)),
        documented.get(id),
        `${id}: the outcomes tested are the outcomes documented`,
      );
    }
  });
});
