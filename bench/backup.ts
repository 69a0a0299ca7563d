/**
 * Backup and restore of one PostgreSQL installation against `pg_dump -Fc | age` and `pg_restore`
 * of the same database, in the same run.
 *
 * Data (defaults from issue #20; scale with env for a quick run): BENCH_AUDIT_EVENTS (1 000 000
 * audit events: drafts inserted in bulk, then chained and checkpointed by the audit module, since
 * a restore verifies the chain),
 * BENCH_SECRETS (10 000 secrets written through the vault service, each value barrier-sealed) and
 * BENCH_DATASET_VERSIONS (1 000 committed dataset version rows, 10 per dataset).
 *
 * - ours, backup: `backups.create()` of the running server to a local-drive target: one
 *   REPEATABLE READ snapshot, every table streamed through the object format (AEAD segments),
 *   per-table checksums, manifest MAC, SHA-256 of the object.
 * - theirs, backup: `pg_dump -Fc <db> | age -r <recipient> > file` (age: X25519 + ChaCha20-Poly1305).
 * - ours, restore: `restoreInstallation` into an empty PostgreSQL database (object SHA-256, AEAD,
 *   rows in one transaction, every table's count and checksum read back, the audit chain
 *   verified, keyring opened, shred
 *   ledger re-applied, the restore's audit event).
 * - theirs, restore: `age -d | pg_restore -d <empty db>` (the decryption is part of both sides).
 * Each ratio is their time ÷ our time (≥ 1.0: at least as fast). rss_mb: this process's peak RSS
 * (the server, the data generation and our restore run in it; pg_dump/age/pg_restore are children
 * and are not counted).
 * Before it, `backup-drill: recovery_s=…`: the restore drill's time on the same backup.
 * Last line: backup: backup_speed_vs_pgdump_age=<x> restore_speed_vs_pgrestore=<x> rss_mb=<n>
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { createLocalDriver } from '../src/adapters/blob/local.ts';
import type { Actor } from '../src/core/actor.ts';
import { backupPhases, restoreInstallation, restorePhases } from '../src/modules/backups/index.ts';
import { startTestApp } from '../test/helpers/app.ts';
import { PG_ADMIN_URL, createTestDatabase } from '../test/helpers/db.ts';
import { createWorkspace } from '../test/helpers/identity.ts';

const AUDIT = Number(process.env.BENCH_AUDIT_EVENTS ?? 1_000_000);
const SECRETS = Number(process.env.BENCH_SECRETS ?? 10_000);
const VERSIONS = Number(process.env.BENCH_DATASET_VERSIONS ?? 1_000);

const secs = (t0: number) => (performance.now() - t0) / 1000;
const log = (s: string) => process.stdout.write(`${s}\n`);

function sh(cmd: string): void {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd.slice(0, 40)}… failed: ${r.stderr}`);
}

async function emptyDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `sr_bench_${Math.random().toString(16).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: PG_ADMIN_URL });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

const work = await mkdtemp(path.join(os.tmpdir(), 'sr-bench-backup-'));
const database = await createTestDatabase('postgres');
const app = await startTestApp('postgres', { database });
const cleanups: (() => Promise<void>)[] = [];
try {
  const db = app.server.database.db;
  await createWorkspace(app, 'bench');
  await app.server.drives.ensureDefaults();
  await app.server.workspaceKeys.encryptorFor('bench');

  // 1. The data.
  let t0 = performance.now();
  // Drafts inserted in bulk, then chained by the audit module itself (real hashes and a signed
  // checkpoint): a restore verifies the chain, so it must be a genuine one.
  for (let from = 1; from <= AUDIT; from += 100_000) {
    const to = Math.min(AUDIT, from + 99_999);
    await sql`insert into audit_pending (draft)
      select jsonb_build_object(
        'time', to_char((now() - make_interval(secs => ${AUDIT} - g)) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'actor', jsonb_build_object('id', 'usr_' || (g % 50), 'kind', 'user', 'authMethod', 'password'),
        'action', 'vault.secret.reveal',
        'resource', jsonb_build_object('type', 'secret', 'id', 'team/db-' || (g % 10000), 'workspace', 'bench'),
        'outcome', 'success', 'requestId', 'req-' || g, 'sourceIp', '192.0.2.10', 'userAgent', 'bench/1.0',
        'details', jsonb_build_object('i', g, 'note', repeat('x', 40)))
      from generate_series(${from}::int8, ${to}::int8) g order by g`.execute(db);
    await app.server.audit.chainPending();
  }
  await app.server.audit.checkpointNow();
  const actor = { id: 'usr_bench', kind: 'user', authMethod: 'password' } as unknown as Actor;
  for (let i = 0; i < SECRETS; i += 500) {
    await db.transaction().execute(async (trx) => {
      for (let j = i; j < Math.min(SECRETS, i + 500); j++)
        await app.server.vault.write(trx, actor, 'bench', `team/db-${j}`, {
          type: 'password',
          value: { password: `value-${j}-${'p'.repeat(24)}` },
        });
    });
  }
  const perDataset = 10;
  const datasets = Math.ceil(VERSIONS / perDataset);
  await sql`insert into datasets (workspace_id, name, created_by)
    select 'bench', 'ds-' || d, 'usr_bench' from generate_series(1, ${datasets}) d`.execute(db);
  await sql`insert into dataset_versions (workspace_id, dataset, version, state, drive, object_key, object_id,
      key_term, wrapped_dek, header, plain_size, stored_size, sha256, created_by, committed_at)
    select 'bench', 'ds-' || (1 + (g - 1) / ${perDataset}), 1 + (g - 1) % ${perDataset}, 'committed', 'default',
      'bench/obj-' || g, 'obj-' || g, 1, sha256(int8send(g)), decode(repeat('ab', 64), 'hex'), 1048576, 1049000,
      encode(sha256(int8send(g)), 'hex'), 'usr_bench', now()
    from generate_series(1, ${VERSIONS}) g`.execute(db);
  await sql`analyze`.execute(db);
  const size = await sql<{ s: string }>`select pg_database_size(current_database())::text as s`.execute(db);
  log(
    `data: ${AUDIT} audit events, ${SECRETS} secrets, ${VERSIONS} dataset versions; database ${(Number(size.rows[0]!.s) / 1048576).toFixed(0)} MiB; loaded in ${secs(t0).toFixed(1)} s`,
  );

  // 2. Backups: ours, then pg_dump | age.
  const driveDir = path.join(app.config.STRONGROOM_HOME, 'drives', 'bench', 'default');
  await app.server.backups.addTarget({ name: 'bench', workspace: 'bench', drive: 'default', prefix: 'bk' });
  t0 = performance.now();
  const made = await app.server.backups.create({ target: 'bench' });
  const oursBackup = secs(t0);
  const id = String((made as { id: string }).id);
  const oursSize = (await stat(path.join(driveDir, 'bk', id, 'data.sro'))).size;
  log(`ours backup: ${oursBackup.toFixed(2)} s, ${(oursSize / 1048576).toFixed(1)} MiB`);
  log(`  phases: ${backupPhases.format()}`);

  const keyFile = path.join(work, 'age.key');
  sh(`age-keygen -o ${keyFile} 2>/dev/null`);
  const recipient = /public key: (age1[0-9a-z]+)/.exec(await readFile(keyFile, 'utf8'))?.[1];
  if (!recipient) throw new Error('age-keygen wrote no public key');
  const dumpFile = path.join(work, 'dump.age');
  t0 = performance.now();
  sh(`pg_dump -Fc -d '${database.url}' | age -r ${recipient} > ${dumpFile}`);
  const theirsBackup = secs(t0);
  log(`pg_dump -Fc | age: ${theirsBackup.toFixed(2)} s, ${((await stat(dumpFile)).size / 1048576).toFixed(1)} MiB`);

  // 3. Restores into empty PostgreSQL databases.
  const ours = await emptyDatabase();
  cleanups.push(ours.drop);
  const drive = createLocalDriver({ root: driveDir });
  t0 = performance.now();
  const report = await restoreInstallation({
    source: { driver: drive, folder: `bk/${id}` },
    ledger: { driver: drive, folder: 'bk/shred-ledger' },
    home: path.join(work, 'restored'),
    databaseUrl: ours.url,
    key: { rootKeyFile: path.join(app.home, 'root.key') },
  });
  const oursRestore = secs(t0);
  log(`ours restore: ${oursRestore.toFixed(2)} s (${report.rows} rows, ${report.tables} tables checked)`);
  log(`  phases: ${restorePhases.format()}`);

  const theirs = await emptyDatabase();
  cleanups.push(theirs.drop);
  t0 = performance.now();
  sh(`age -d -i ${keyFile} ${dumpFile} | pg_restore --no-owner -d '${theirs.url}'`);
  const theirsRestore = secs(t0);
  log(`age -d | pg_restore: ${theirsRestore.toFixed(2)} s`);

  // 4. The restore drill (what the backups.drill control reports as the recovery time): the
  // backup restored into a scratch PGlite, rows, checksums, audit chain and keyring checked.
  t0 = performance.now();
  const drilled = await app.server.backups.verify(id);
  log(`backup-drill: recovery_s=${secs(t0).toFixed(2)} recorded_ms=${drilled.ms} ok=${drilled.ok}`);

  const rssMb = process.resourceUsage().maxRSS / 1024;
  log(
    `backup: backup_speed_vs_pgdump_age=${(theirsBackup / oursBackup).toFixed(2)} restore_speed_vs_pgrestore=${(theirsRestore / oursRestore).toFixed(2)} rss_mb=${rssMb.toFixed(0)}`,
  );
} finally {
  await app.close();
  await database.close().catch(() => undefined);
  for (const c of cleanups) await c().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
