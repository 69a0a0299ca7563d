/**
 * The posture controls not driven elsewhere, each to its pass, warn and fail (where it has them),
 * against a real app on PGlite: the clock is injected (inactive accounts, rotation age), the data
 * directory, the chain, the export, the keys and the drives are changed as an attacker or a
 * mistake would. `tls.*`: posture-transport.test.ts; first-run credential, MFA and term age:
 * posture-api.test.ts; streaming: audit-stream.test.ts.
 */
import assert from 'node:assert/strict';
import { chmod, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { jsonBody, ownerSession, type Session } from './helpers/identity.ts';
import { platformControls } from '../src/modules/posture/index.ts';
import type { ControlResult } from '../src/modules/posture/index.ts';

const DAY = 24 * 3600 * 1000;

describe('posture controls driven to pass, warn and fail', () => {
  let app: TestApp;
  let owner: Session;
  let offset = 0;
  const now = () => new Date(Date.now() + offset);
  const check = (id: string, workspaceId?: string): Promise<ControlResult> => {
    const c = app.server.posture.posture.registry.get(id);
    assert.ok(c, id);
    return c.check({ now: now(), ...(workspaceId ? { workspace: workspaceId } : {}) });
  };

  before(async () => {
    app = await startTestApp('pglite', {
      env: {
        STRONGROOM_POSTURE_CHECK_SECONDS: '0',
        STRONGROOM_DRIVE_HEALTH_SECONDS: '0',
        STRONGROOM_KEY_ROTATION_DAYS: '90',
      },
      now,
    });
    owner = (await ownerSession(app, 'ctl-owner@corp.test')).session;
  });
  after(() => app.close());

  test('identity.inactive-users: pass, then warn 91 days later', async () => {
    assert.equal((await check('identity.inactive-users', 'default')).status, 'pass');
    offset = 91 * DAY;
    const r = await check('identity.inactive-users', 'default');
    offset = 0;
    assert.equal(r.status, 'warn');
    assert.deepEqual(r.evidence.accounts, ['ctl-owner@corp.test']);
  });

  test('identity.token-lifetime: pass, warn for a token living over a year', async () => {
    assert.equal((await check('identity.token-lifetime')).status, 'pass');
    const made = await owner.req(
      '/api/v1/tokens',
      jsonBody({ name: 'ci', scopes: ['read'], expiresInDays: 30, workspace: 'default' }),
    );
    assert.equal(made.status, 201, made.body);
    const id = made.json<{ info: { id: string } }>().info.id;
    await app.server.database.db
      .updateTable('api_tokens')
      .set({ expires_at: new Date(Date.now() + 800 * DAY) })
      .where('id', '=', id)
      .execute();
    const r = await check('identity.token-lifetime', 'default');
    assert.equal(r.status, 'warn');
    assert.deepEqual(r.evidence.tokenIds, [id]);
  });

  test('vault.secrets-due: pass, warn when due within 14 days, fail once expired; never the value', async () => {
    assert.equal((await check('vault.secrets-due', 'default')).status, 'pass');
    const put = await owner.req(
      '/api/v1/workspaces/default/secrets/data/db/pw',
      jsonBody(
        {
          type: 'password',
          value: { password: 'canary-secret-value' },
          metadata: { expiresAt: new Date(Date.now() + 10 * DAY).toISOString() },
        },
        'PUT',
      ),
    );
    assert.ok(put.status < 300, put.body);
    const soon = await check('vault.secrets-due', 'default');
    assert.equal(soon.status, 'warn');
    assert.deepEqual(soon.evidence.secrets, ['db/pw']);
    offset = 11 * DAY;
    const late = await check('vault.secrets-due', 'default');
    offset = 0;
    assert.equal(late.status, 'fail');
    assert.ok(!JSON.stringify(late).includes('canary-secret-value'));
  });

  test('drives.health: warn never checked, pass healthy, fail failing', async () => {
    const first = await check('drives.health', 'default');
    assert.equal(first.status, 'warn', first.summary);
    await app.server.drives.refreshHealth();
    assert.equal((await check('drives.health', 'default')).status, 'pass');
    // What the health job stores when a drive stops answering (the job itself: drives.test.ts).
    await app.server.database.db
      .updateTable('drives')
      .set({ status: 'failing', status_code: 'DRIVE_UNREACHABLE' })
      .where('workspace_id', '=', 'default')
      .execute();
    const r = await check('drives.health', 'default');
    assert.equal(r.status, 'fail');
    assert.match(String(r.evidence.failing), /^default \(/);
  });

  test('encryption.at-rest: pass on an encrypted version; fail when its object is replaced by plaintext', async () => {
    await app.server.drives.refreshHealth();
    const up = await owner.req('/api/v1/workspaces/default/datasets/notes/versions', {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from('name,secret\nalice,plaintext-marker\n'),
    });
    assert.ok(up.status < 300, up.body);
    const ok = await check('encryption.at-rest', 'default');
    assert.equal(ok.status, 'pass', ok.summary);
    assert.equal(ok.evidence.sampled, 1);
    const row = await app.server.database.db
      .selectFrom('dataset_versions')
      .select(['object_key'])
      .executeTakeFirstOrThrow();
    const drive = await app.server.drives.open('default', 'default');
    await drive.put(row.object_key, Buffer.from('name,secret\nalice,plaintext-marker\n'));
    await drive.close();
    const bad = await check('encryption.at-rest', 'default');
    assert.equal(bad.status, 'fail');
    assert.equal(bad.evidence.sampledWithHeader, 0);
  });

  test('keys.rewrap: pass, warn right after a rotation, fail 8 days on; keys.seal fails when sealed', async () => {
    assert.equal((await check('keys.rewrap')).status, 'pass');
    assert.equal((await app.asOperator('/api/v1/keys/rotate', { method: 'POST' })).status, 200);
    const warned = await check('keys.rewrap');
    assert.equal(warned.status, 'warn');
    assert.ok(Number(warned.evidence.valuesUnderOldTerms) > 0);
    offset = 8 * DAY;
    const failed = await check('keys.rewrap');
    offset = 0;
    assert.equal(failed.status, 'fail');
    assert.equal((await check('keys.seal')).status, 'pass');
    assert.equal((await app.asOperator('/api/v1/sys/seal', { method: 'POST' })).status, 200);
    const sealed = await check('keys.seal');
    assert.equal(sealed.status, 'fail');
    assert.equal((await app.asOperator('/api/v1/sys/reload-root-key', { method: 'POST' })).status, 200);
  });

  test('audit.checkpoint-export: pass, warn an hour behind, fail a day behind or with no export', async () => {
    await app.server.audit.checkpointNow();
    assert.equal((await check('audit.checkpoint-export')).status, 'pass');
    await app.server.audit.recordCommitted({
      actor: { id: 't', kind: 'system' },
      action: 'test.ctl.event',
      outcome: 'success',
      resource: { type: 't' },
    });
    await app.server.audit.chainPending();
    offset = 2 * 3600_000;
    assert.equal((await check('audit.checkpoint-export')).status, 'warn');
    offset = 2 * DAY;
    assert.equal((await check('audit.checkpoint-export')).status, 'fail');
    offset = 0;
  });

  test('audit.chain: pass, fail after a row is edited in the database', async () => {
    assert.equal((await check('audit.chain')).status, 'pass');
    await sql`update audit_events set outcome = 'success' where seq = 2`.execute(app.server.database.db);
    await sql`update audit_events set details = '{"edited":true}'::jsonb where seq = 3`.execute(app.server.database.db);
    const r = await check('audit.chain');
    assert.equal(r.status, 'fail');
    assert.ok(Number(r.evidence.problems) >= 1);
  });

  test('platform.data-dir fails on a group-readable directory; platform.versions fails on an old runtime', async () => {
    await chmod(app.home, 0o750);
    const r = await check('platform.data-dir');
    await chmod(app.home, 0o700);
    assert.equal(r.status, 'fail');
    assert.equal(r.evidence.mode, '750');
    const old = platformControls({
      db: app.server.database.db,
      home: app.home,
      database: { kind: 'pglite', summary: 'embedded' },
      nodeVersion: '18.19.0',
    }).find((c) => c.id === 'platform.versions')!;
    const v = await old.check({ now: new Date() });
    assert.equal(v.status, 'fail');
    assert.match(v.summary, /Node\.js 18\.19\.0 < 20/);
    // Not reached by anything above: the export area is left as it was.
    assert.ok((await readdir(path.join(app.home, 'logs', 'audit'))).length > 0);
    await writeFile(path.join(app.home, 'probe'), ''); // the directory stays writable
  });
});
