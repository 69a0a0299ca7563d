/**
 * The fuzzed server and what it holds: the test app on PGlite (port 0), an owner with MFA, a
 * viewer, a victim user, and a drive, a secret and a dataset version the plausible paths name.
 * After a request that may have changed things, `restore` puts back what the next one needs.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from '../../test/helpers/app.ts';
import { createUser, jsonBody, login, ownerSession, type Session } from '../../test/helpers/identity.ts';
import type { Role } from './arbitraries.ts';

const WS = 'default';
/** Key routes get their own workspace, so destroying its key touches nothing else. */
const SCRATCH_WS = 'fuzz-scratch';

/** Tables a refused request must leave as they were (audit, sessions, throttling and job rows may change). */
const GUARDED = [
  'api_tokens',
  'backup_targets',
  'backups',
  'dataset_upload_parts',
  'dataset_uploads',
  'dataset_versions',
  'datasets',
  'drives',
  'keyring',
  'memberships',
  'recovery_codes',
  'secret_versions',
  'secrets',
  'service_accounts',
  'totp_secrets',
  'users',
  'workspace_keys',
  'workspace_policies',
  'workspaces',
];

export interface World {
  app: TestApp;
  headersFor(role: Role): Record<string, string>;
  plausible(template: string): (param: string) => string;
  /** One digest per guarded table (row contents), to compare around a refused request. */
  fingerprint(): Promise<Record<string, string>>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const app = await startTestApp('pglite');
  await app.server.database.db
    .insertInto('workspaces')
    .values({ id: SCRATCH_WS, name: SCRATCH_WS })
    .onConflict((oc) => oc.doNothing())
    .execute();
  const names = { drive: 'fuzz-drive', secret: 'fuzz/secret', dataset: 'fuzz-data', version: '1' };
  let owner: Session;
  let viewer: Session;
  let viewerEmail = '';
  const newOwner = async () => (owner = (await ownerSession(app)).session);
  const newViewer = async () => {
    viewerEmail = `viewer-${randomBytes(4).toString('hex')}@corp.test`;
    await createUser(app, viewerEmail, { role: 'viewer' });
    viewer = await login(app, viewerEmail);
  };
  await newOwner();
  await newViewer();
  const victimId = (await createUser(app, `victim-${randomBytes(3).toString('hex')}@corp.test`, { role: 'viewer' })).id;

  const base = `/api/v1/workspaces/${WS}`;
  async function fixtures() {
    if ((await owner.req(`${base}/drives/${names.drive}`)).status === 404)
      await owner.req(`${base}/drives`, jsonBody({ name: names.drive, kind: 'local', config: { directory: 'fuzz' } }));
    if ((await owner.req(`${base}/secrets/metadata/${names.secret}`)).status === 404)
      await owner.req(`${base}/secrets/data/${names.secret}`, {
        ...jsonBody({ type: 'password', value: { password: 'fuzz-password-1' } }, 'PUT'),
      });
    const ds = await owner.req(`${base}/datasets/${names.dataset}`);
    const versions = ds.status === 200 ? ds.json<{ versions: { version: number }[] }>().versions : [];
    if (versions.length > 0) names.version = String(versions.at(-1)!.version);
    else {
      const put = await owner.req(`${base}/datasets/${names.dataset}/versions`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: 'a,b\n1,2\n',
      });
      if (put.status < 300) names.version = String(put.json<{ version: { version: number } }>().version.version);
    }
  }
  await fixtures();

  return {
    app,
    headersFor(role): Record<string, string> {
      if (role === 'owner') return { cookie: owner.cookie, 'x-csrf-token': owner.csrf };
      if (role === 'viewer') return { cookie: viewer.cookie, 'x-csrf-token': viewer.csrf };
      if (role === 'operator') return { authorization: `Bearer ${app.operatorToken}` };
      return {};
    },
    plausible: (template) => (param) => {
      if (param === 'ws') return template.includes('/keys/workspaces/') ? SCRATCH_WS : WS;
      if (param === '*') return names.secret;
      if (param === 'v') return names.version;
      if (param === 'n' || param === 'term') return '1';
      if (template.includes('/drives/{name}')) return names.drive;
      if (template.includes('/datasets/{name}')) return names.dataset;
      if (template.includes('/backups/targets/{name}')) return 'no-such-target';
      if (template.includes('/users/{id}')) return victimId;
      if (template.includes('/backups/{id}')) return 'bk-20260101t000000z-00000000';
      if (template.includes('/tokens/{id}')) return '0123456789ab';
      if (template.includes('/sessions/{id}')) return '0123456789abcdef';
      return '00000000-0000-4000-8000-000000000000';
    },
    async fingerprint() {
      const parts = GUARDED.map(
        (t) =>
          sql`select ${t}::text as t, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as d from ${sql.table(t)} x`,
      );
      const { rows } = await sql<{ t: string; d: string }>`${sql.join(parts, sql` union all `)}`.execute(
        app.server.database.db,
      );
      return Object.fromEntries(rows.map((r) => [r.t, r.d]));
    },
    async restore() {
      const seal = await app.req('/api/v1/sys/seal-status');
      if (seal.json<{ sealed: boolean }>().sealed)
        await app.asOperator('/api/v1/sys/reload-root-key', { method: 'POST' });
      const me = await owner.req('/api/v1/auth/me');
      if (me.status !== 200 || me.json<{ mfaEnrolmentRequired: boolean }>().mfaEnrolmentRequired) await newOwner();
      if ((await viewer.req('/api/v1/auth/me')).status !== 200) await newViewer();
      await fixtures();
    },
    close: () => app.close(),
  };
}
