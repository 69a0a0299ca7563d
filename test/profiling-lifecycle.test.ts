/**
 * Profiles live as long as their versions (issue 18): deleting a version deletes its stored
 * profile in the same transaction (the other versions' profiles stay, with the dataset's column
 * tags); deleting the dataset deletes every stored profile and its column tags, so a new dataset
 * of the same name starts with no steward decisions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { jsonBody, ownerSession, type Session } from './helpers/identity.ts';

const WS = '/api/v1/workspaces/default';
const csv = (n: number, extra: string) =>
  `id,email,country\n${Array.from({ length: n }, (_, i) => `${i},life.${i}.${extra}@example.org,${['de', 'fr'][i % 2]}`).join('\n')}\n`;

describe('profile rows follow their versions', () => {
  let app: TestApp;
  let owner: Session;

  before(async () => {
    app = await startTestApp('pglite');
    owner = (await ownerSession(app, 'owner-pl@corp.test')).session;
  });
  after(async () => {
    await app?.close();
  });

  const put = (name: string, body: string) =>
    owner.req(`${WS}/datasets/${name}/versions?filename=${name}.csv`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
  const db = () => app.server.database.db;
  const profileRows = async (name: string) =>
    (
      await db()
        .selectFrom('dataset_profiles')
        .select(['version', 'state'])
        .where('dataset', '=', name)
        .orderBy('version')
        .execute()
    ).map((r) => [r.version, r.state]);
  const tagRows = async (name: string) =>
    (
      await db()
        .selectFrom('column_tags')
        .select(['column_name', 'tag', 'status'])
        .where('dataset', '=', name)
        .orderBy('column_name')
        .execute()
    ).map((r) => `${r.column_name}:${r.tag}:${r.status}`);
  /** Waits for the background job to store the profiles of `versions`. */
  const allDone = async (name: string, versions: number[]) => {
    for (let i = 0; i < 300; i += 1) {
      const rows = await profileRows(name);
      if (rows.filter((r) => r[1] === 'done').length === versions.length) return;
      if (rows.some((r) => r[1] === 'failed')) assert.fail(`a profile job failed: ${JSON.stringify(rows)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the profile jobs did not finish');
  };

  test('deleting a version deletes its profile; deleting the dataset deletes every profile and its tags', async () => {
    for (const v of ['a', 'b', 'c']) assert.equal((await put('life', csv(60, v))).status, 201);
    assert.equal((await put('other', csv(60, 'o'))).status, 201);
    await allDone('life', [1, 2, 3]);
    await allDone('other', [1]);
    assert.deepEqual(await tagRows('life'), ['email:pii.email:suggested']);
    const confirm = await owner.req(
      `${WS}/datasets/life/columns/email/tags`,
      jsonBody({ confirmed: ['pii.email'] }, 'PUT'),
    );
    assert.equal(confirm.status, 200, confirm.body);

    const del = await owner.req(`${WS}/datasets/life/versions/2`, { method: 'DELETE' });
    assert.equal(del.status, 200, del.body);
    assert.deepEqual(await profileRows('life'), [
      [1, 'done'],
      [3, 'done'],
    ]);
    assert.deepEqual(await tagRows('life'), ['email:pii.email:confirmed'], 'the dataset keeps its column tags');
    assert.equal((await owner.req(`${WS}/datasets/life/versions/2/profile`)).status, 404);
    assert.equal((await owner.req(`${WS}/datasets/life/versions/3/profile`)).status, 200);

    const gone = await owner.req(`${WS}/datasets/life`, { method: 'DELETE' });
    assert.equal(gone.status, 200, gone.body);
    assert.deepEqual(await profileRows('life'), []);
    assert.deepEqual(await tagRows('life'), []);
    assert.deepEqual(await profileRows('other'), [[1, 'done']], "another dataset's profile stays");

    // A new dataset of the same name starts afresh: its own profile, detection's suggestion only.
    assert.equal((await put('life', csv(60, 'd'))).status, 201);
    await allDone('life', [1]);
    assert.deepEqual(await tagRows('life'), ['email:pii.email:suggested']);
  });
});
