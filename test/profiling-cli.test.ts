/**
 * Metadata-only mode (issue 18): `strongroom profile FILE` computes the profile and detection in
 * the CLI process (no server), `--json` prints it, `--publish NAME` sends only the value-safe
 * profile and the server keeps it as the next version of a metadata-only dataset. No canary (in
 * sensitive columns and in a free-text column) appears on stdout, stderr, in what the server
 * stored, its answers, the audit trail or its log. Publishing needs the right to write; a name
 * holding content is refused; a broken file is reported without quoting it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { cliCredentials, cliIn } from './helpers/cli.ts';
import type { TestResponse } from './helpers/https.ts';
import { createUser, login, ownerSession, type Session } from './helpers/identity.ts';

const WS = '/api/v1/workspaces/default';
const N = 120;
const pad = (n: number, w: number) => String(n).padStart(w, '0');
const canaries = {
  email: (i: number) => `cli.canary.${i}.k9w@leaktest-mail.org`,
  ssn: (i: number) => `${pad(101 + i, 3)}-${pad((i % 98) + 1, 2)}-${pad(5000 + i, 4)}`,
  note: (i: number) => `qv-cli-canary-${i}-vq`,
};
const ALL = Array.from({ length: N }, (_, i) => Object.values(canaries).map((f) => f(i))).flat();
const CSV = `id,email,ssn,note,country,amount\n${Array.from({ length: N }, (_, i) =>
  [i, canaries.email(i), canaries.ssn(i), canaries.note(i), ['de', 'fr', 'us'][i % 3], (i * 7) % 100].join(','),
).join('\n')}\n`;

describe('strongroom profile FILE (metadata-only mode)', () => {
  let app: TestApp;
  let owner: Session;
  let dir = '';
  let file = '';
  let ownerEnv: Record<string, string> = {};
  let viewerEnv: Record<string, string> = {};

  before(async () => {
    app = await startTestApp('pglite');
    owner = (await ownerSession(app, 'owner-pc@corp.test')).session;
    await createUser(app, 'viewer-pc@corp.test', { role: 'viewer' });
    const viewer = await login(app, 'viewer-pc@corp.test');
    dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-profile-local-'));
    file = path.join(dir, 'people.csv');
    await writeFile(file, CSV);
    ownerEnv = await cliCredentials(path.join(dir, 'o'), app, owner, 'owner-pc@corp.test');
    viewerEnv = await cliCredentials(path.join(dir, 'v'), app, viewer, 'viewer-pc@corp.test');
    const up = await owner.req(`${WS}/datasets/has-content/versions?filename=x.csv`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'a,b\n1,2\n',
    });
    assert.equal(up.status, 201, up.body);
  });
  after(async () => {
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('--json: computed locally, tags suggested, no canary', async () => {
    const r = await cliIn(dir, ['profile', file, '--json'], { bare: true });
    assert.equal(r.status, 0, r.stderr);
    const p = JSON.parse(r.stdout.toString()) as {
      rowCount: number;
      columns: { name: string; findings: { tag: string }[]; top?: unknown; min?: unknown }[];
    };
    assert.equal(p.rowCount, N);
    const tags = Object.fromEntries(p.columns.map((c) => [c.name, c.findings.map((f) => f.tag)]));
    assert.deepEqual(tags.email, ['pii.email']);
    assert.deepEqual(tags.ssn, ['pii.ssn']);
    assert.deepEqual(tags.note, []);
    const all = r.stdout.toString() + r.stderr;
    for (const c of ALL) assert.ok(!all.includes(c), `${c} on the CLI's output`);
    const text = await cliIn(dir, ['profile', file, '--sample', '500'], { bare: true });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout.toString(), /^people\.csv v0 \(csv\): 120 row\(s\), 6 column\(s\)$/m);
  });

  test('--publish: only the profile reaches the server, as a metadata-only dataset with versions', async () => {
    for (const expected of [1, 2]) {
      const r = await cliIn(dir, ['profile', file, '--publish', 'meta-people'], { env: ownerEnv });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`published the profile as meta-people version ${expected}`));
    }
    const ds = await owner.req(`${WS}/datasets/meta-people`);
    assert.equal(ds.status, 200, ds.body);
    assert.deepEqual(ds.json<{ tags: string[]; versions: unknown[] }>().tags, ['metadata-only']);
    assert.deepEqual(ds.json<{ versions: unknown[] }>().versions, [], 'no content');
    const pub = await owner.req(`${WS}/datasets/meta-people/published-profiles`);
    assert.equal(pub.status, 200, pub.body);
    const profiles = pub.json<{
      profiles: { version: number; profile: { columns: { name: string; top?: unknown }[] } }[];
    }>().profiles;
    assert.deepEqual(
      profiles.map((p) => p.version),
      [1, 2],
    );
    assert.ok(profiles[0]!.profile.columns.find((c) => c.name === 'country')?.top);
    assert.equal(profiles[0]!.profile.columns.find((c) => c.name === 'email')?.top, undefined);
    await expectAudit(app, {
      action: 'dataset.version.create',
      outcome: 'success',
      details: { metadataOnly: true, version: 2, rows: N },
      mustNotContain: ALL,
    });
    const db = app.server.database.db;
    const dump = JSON.stringify(await db.selectFrom('published_profiles').selectAll().execute());
    const everything = [dump, pub.body, app.logs.join('\n')].join('\n');
    for (const c of ALL) assert.ok(!everything.includes(c), `${c} reached the server`);
  });

  test('a metadata-only dataset takes no content (409 problem), whatever its tags; deleting it removes its profiles', async () => {
    const detail = await owner.req(`${WS}/datasets/meta-people`);
    assert.equal(detail.json<{ metadataOnly?: boolean }>().metadataOnly, true);
    const expectRefused = async (r: TestResponse) => {
      assert.equal(r.status, 409, r.body);
      assert.match(String(r.headers['content-type']), /application\/problem\+json/);
      const p = JSON.parse(r.body) as { detail: string; metadataOnly?: boolean };
      assert.match(p.detail, /meta-people is a metadata-only dataset/);
      assert.equal(p.metadataOnly, true);
    };
    const upload = () =>
      owner.req(`${WS}/datasets/meta-people/versions?filename=people.csv`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: CSV,
      });
    await expectRefused(await upload());
    await expectRefused(
      await owner.req(`${WS}/datasets/meta-people/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ size: CSV.length, filename: 'people.csv' }),
      }),
    );
    // The tag is a label: removing it does not make the dataset take content.
    const patched = await owner.req(`${WS}/datasets/meta-people`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tags: [] }),
    });
    assert.equal(patched.status, 200, patched.body);
    await expectRefused(await upload());
    const ds = await owner.req(`${WS}/datasets/meta-people`);
    assert.deepEqual(ds.json<{ versions: unknown[] }>().versions, []);
    // Publishing still works, and deleting the dataset takes its published profiles with it.
    const again = await cliIn(dir, ['profile', file, '--publish', 'meta-people'], { env: ownerEnv });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /version 3/);
    const del = await owner.req(`${WS}/datasets/meta-people`, { method: 'DELETE' });
    assert.equal(del.status, 200, del.body);
    const db = app.server.database.db;
    const left = await db
      .selectFrom('published_profiles')
      .select('version')
      .where('dataset', '=', 'meta-people')
      .execute();
    assert.deepEqual(left, []);
    assert.equal((await owner.req(`${WS}/datasets/meta-people`)).status, 404);
  });

  test('refusals: a viewer may not publish; a name holding content; a file that is not there; a broken file', async () => {
    const v = await cliIn(dir, ['profile', file, '--publish', 'meta-viewer'], { env: viewerEnv });
    assert.notEqual(v.status, 0);
    assert.match(v.stderr, /403|not allowed|may not|[Ff]orbidden|[Rr]efused/);
    assert.equal((await owner.req(`${WS}/datasets/meta-viewer`)).status, 404);
    const c = await cliIn(dir, ['profile', file, '--publish', 'has-content'], { env: ownerEnv });
    assert.notEqual(c.status, 0);
    assert.match(c.stderr, /holds content/);
    const missing = await cliIn(dir, ['profile', path.join(dir, 'nope.csv')], { bare: true });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /no such file/);
    const broken = path.join(dir, 'broken.parquet');
    await writeFile(broken, `not parquet ${canaries.note(1)}`);
    const b = await cliIn(dir, ['profile', broken], { bare: true });
    assert.notEqual(b.status, 0);
    assert.match(b.stderr, /could not be profiled/);
    assert.ok(!b.stderr.includes(canaries.note(1)));
  });
});
