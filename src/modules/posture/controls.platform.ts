/**
 * Controls over the installation itself: data directory permissions, the database connection's
 * TLS, supported Node.js and PostgreSQL versions, and the first-run credential.
 */
import { stat } from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { fail, pass, warn, type Control } from './posture.registry.ts';
import { serverVersionNum, setupTokenFacts } from './posture.store.ts';

export interface PlatformDeps {
  db: Kysely<Database>;
  home: string;
  database: {
    kind: 'pglite' | 'postgres';
    summary: string;
    clientCertificate?: { subject: string; notAfter: Date } | undefined;
  };
  /** `process.versions.node` (injected so a test can present an old one). */
  nodeVersion: string;
}

/** Oldest supported majors (DESIGN §6: Node 20; PostgreSQL 15 on the machines). */
export const MIN_NODE_MAJOR = 20;
export const MIN_POSTGRES_NUM = 150000;

export function platformControls(deps: PlatformDeps): Control[] {
  return [
    {
      id: 'platform.data-dir',
      title: 'Data directory permissions',
      promise: 'Key files, TLS keys and logs on the server are readable only by the service account.',
      method: 'Reads the mode and owner of STRONGROOM_HOME.',
      remedy: 'chmod 700 the data directory and run the server as its owner.',
      scope: 'installation',
      frameworks: { soc2: ['CC6.1'], iso27001: ['A.8.3'], pciDss: ['3.5.1'] },
      async check() {
        const s = await stat(deps.home).catch(() => undefined);
        if (!s?.isDirectory()) return fail('the data directory does not exist', {});
        const mode = (s.mode & 0o777).toString(8).padStart(3, '0');
        const evidence = { mode, ownerUid: s.uid, serviceUid: process.getuid?.() ?? -1 };
        if ((s.mode & 0o077) !== 0) return fail(`the data directory is mode ${mode}; it must be 700`, evidence);
        if (process.getuid && s.uid !== process.getuid())
          return warn(`the data directory is owned by uid ${s.uid}, not the service (${process.getuid()})`, evidence);
        return pass(`mode ${mode}, owned by the service account`, evidence);
      },
    },
    {
      id: 'platform.database-tls',
      title: 'Database connection encrypted',
      promise: 'The database only accepts encrypted connections from the service (TLS, verified).',
      method:
        'Reads how the database was opened: embedded (no network), loopback, or remote with TLS verify-full (the only remote mode allowed without an explicit override).',
      remedy:
        'Use sslmode=verify-full (the default for remote hosts) with STRONGROOM_DATABASE_CA_FILE; remove STRONGROOM_DATABASE_ALLOW_WEAK_TLS.',
      scope: 'installation',
      frameworks: { soc2: ['CC6.7'], iso27001: ['A.8.24'], pciDss: ['4.2.1'] },
      async check({ now }) {
        const { kind, summary, clientCertificate: cc } = deps.database;
        const evidence: Record<string, string | number | null> = { kind, connection: summary };
        if (cc) {
          const daysLeft = Math.floor((cc.notAfter.getTime() - now.getTime()) / 86_400_000);
          Object.assign(evidence, {
            clientCertificate: cc.subject,
            clientCertificateNotAfter: cc.notAfter.toISOString(),
            daysLeft,
          });
          if (daysLeft < 0)
            return fail(`the database client certificate expired on ${cc.notAfter.toISOString()}`, evidence);
          if (daysLeft < 30) return warn(`the database client certificate expires in ${daysLeft} days`, evidence);
        }
        if (kind === 'pglite') return pass('embedded database in the data directory: no network connection', evidence);
        if (summary.includes('verify-full')) return pass(`TLS with full verification: ${summary}`, evidence);
        if (summary.includes('loopback')) return warn(`loopback connection without TLS: ${summary}`, evidence);
        return fail(`remote connection without full TLS verification: ${summary}`, evidence);
      },
    },
    {
      id: 'platform.versions',
      title: 'Supported runtime versions',
      promise: 'The platform runs on supported, patched runtime versions.',
      method: `Compares the Node.js major (≥ ${MIN_NODE_MAJOR}) and the PostgreSQL server version (≥ 15) with the supported minimums.`,
      remedy: 'Upgrade Node.js (24 LTS recommended) or PostgreSQL to a supported version.',
      scope: 'installation',
      frameworks: { soc2: ['CC7.1'], iso27001: ['A.8.8'], pciDss: ['6.3.3'] },
      async check() {
        const nodeMajor = Number(deps.nodeVersion.split('.')[0]);
        const pg = await serverVersionNum(deps.db);
        const evidence = { node: deps.nodeVersion, postgresVersionNum: pg, database: deps.database.kind };
        const old: string[] = [];
        if (!(nodeMajor >= MIN_NODE_MAJOR)) old.push(`Node.js ${deps.nodeVersion} < ${MIN_NODE_MAJOR}`);
        if (pg < MIN_POSTGRES_NUM) old.push(`PostgreSQL ${pg} < ${MIN_POSTGRES_NUM}`);
        if (old.length > 0) return fail(old.join('; '), evidence);
        return pass(`Node.js ${deps.nodeVersion}, PostgreSQL ${Math.floor(pg / 10000)}`, evidence);
      },
    },
    {
      id: 'platform.first-run-credential',
      title: 'First-run credential consumed',
      promise: 'No default or first-run credentials stay usable.',
      method: 'Counts setup tokens: issued, used, still open; and whether an owner exists.',
      remedy:
        'Create the first owner with the one-time setup token (or `strongroom init --admin-email`); an open token expires within the hour.',
      scope: 'installation',
      frameworks: { soc2: ['CC6.1'], iso27001: ['A.5.17'], pciDss: ['2.2.2', '8.3.5'] },
      async check({ now }) {
        const f = await setupTokenFacts(deps.db, now);
        const evidence = { setupTokensIssued: f.issued, used: f.used, open: f.open, users: f.users };
        if (f.open > 0) return fail('a setup token is still open: the first owner has not been created', evidence);
        if (f.users === 0) return warn('no users yet', evidence);
        return pass('no open setup token; no default credential exists', evidence);
      },
    },
  ];
}
