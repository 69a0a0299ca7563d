/**
 * The datasets list filtered by tags (issue 18): `?tag=` takes tags or prefixes (`pii` = any
 * `pii.*`), repeated or comma-separated, and matches dataset tags and suggested/confirmed column
 * tags; each listed dataset carries `sensitiveTags`. A column a data policy hides from the reader
 * neither shows its tags nor makes its dataset match.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { cliCredentials, cliIn } from './helpers/cli.ts';
import { createUser, jsonBody, login, ownerSession, type Session } from './helpers/identity.ts';

const WS = '/api/v1/workspaces/default';
const N = 60;
const rows = (f: (i: number) => string) => Array.from({ length: N }, (_, i) => f(i)).join('\n');
const PEOPLE = `id,email,city\n${rows((i) => `${i},person.${i}@example-mail.org,${['Lyon', 'Oslo'][i % 2]}`)}\n`;
const PLAIN = `id,amount\n${rows((i) => `${i},${i * 3}`)}\n`;

type Listed = { name: string; tags: string[]; sensitiveTags: string[] };

describe('datasets list: tag filter over dataset and column tags', () => {
  let app: TestApp;
  let owner: Session;
  let steward: Session;
  let analyst: Session;
  const put = (name: string, body: string, query = '') =>
    owner.req(`${WS}/datasets/${name}/versions?filename=${name}.csv${query}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
  const list = async (s: Session, query: string) => {
    const r = await s.req(`${WS}/datasets${query}`);
    assert.equal(r.status, 200, r.body);
    return r.json<{ datasets: Listed[] }>().datasets;
  };
  const names = (ds: Listed[]) => ds.map((d) => d.name);

  before(async () => {
    app = await startTestApp('pglite');
    owner = (await ownerSession(app, 'owner-tf@corp.test')).session;
    await createUser(app, 'steward-tf@corp.test', { role: 'steward' });
    steward = await login(app, 'steward-tf@corp.test');
    await createUser(app, 'analyst-tf@corp.test', { role: 'analyst' });
    analyst = await login(app, 'analyst-tf@corp.test');
    assert.equal((await put('people', PEOPLE)).status, 201);
    assert.equal((await put('ledger', PLAIN, '&tag=finance')).status, 201);
    assert.equal((await put('legacy', PLAIN, '&tag=pii.legacy')).status, 201);
    // The steward confirms a tag on `ledger.amount` (a confirmed column tag).
    const conf = await steward.req(`${WS}/datasets/ledger/columns/amount/tags`, {
      ...jsonBody({ confirmed: ['pii.card'] }),
      method: 'PUT',
    });
    assert.equal(conf.status, 200, conf.body);
    // Detection suggests `pii.email` on people.email once the profile job has run.
    for (let i = 0; i < 300; i += 1) {
      const p = (await list(owner, '?tag=pii.email')).find((d) => d.name === 'people');
      if (p) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  after(async () => {
    await app?.close();
  });

  test('CLI: dataset list --tag takes a prefix and prints the sensitive tags', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-tagfilter-'));
    try {
      const env = await cliCredentials(dir, app, owner, 'owner-tf@corp.test');
      const text = await cliIn(dir, ['dataset', 'list', '--tag', 'pii'], { env });
      assert.equal(text.status, 0, text.stderr);
      const lines = text.stdout.toString('utf8').trim().split('\n');
      assert.deepEqual(
        lines.map((l) => l.split(' ')[0]),
        ['ledger', 'legacy', 'people'],
      );
      assert.match(lines[2]!, /sensitive: pii\.email/);
      const json = await cliIn(dir, ['dataset', 'list', '--tag', 'pii.email,finance', '--json'], { env });
      assert.equal(json.status, 0, json.stderr);
      assert.deepEqual(names(JSON.parse(json.stdout.toString('utf8')) as Listed[]), ['ledger', 'people']);
      const bad = await cliIn(dir, ['dataset', 'list', '--tag', 'PII!'], { env });
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /422 VALIDATION_FAILED/);
      assert.match(bad.stderr, /\n {2}\/?tag[^\n]*: /, 'the refused field is named');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('exact tag: a suggested column tag matches; every dataset lists its sensitive tags', async () => {
    const hit = await list(owner, '?tag=pii.email');
    assert.deepEqual(names(hit), ['people']);
    assert.deepEqual(hit[0]!.sensitiveTags, ['pii.email']);
    const all = await list(owner, '');
    assert.deepEqual(names(all), ['ledger', 'legacy', 'people']);
    assert.deepEqual(
      all.map((d) => [d.name, d.tags, d.sensitiveTags]),
      [
        // A confirmed column tag also tags its dataset (profiling's rule, for tag policies).
        ['ledger', ['finance', 'pii.card'], ['pii.card']],
        ['legacy', ['pii.legacy'], []],
        ['people', [], ['pii.email']],
      ],
    );
    assert.deepEqual(names(await list(owner, '?tag=pii.card')), ['ledger']);
    assert.deepEqual(names(await list(owner, '?tag=finance')), ['ledger'], 'a dataset tag matches');
    assert.deepEqual(names(await list(owner, '?tag=pii.phone')), []);
  });

  test('prefix, several values (repeated or comma-separated)', async () => {
    assert.deepEqual(names(await list(owner, '?tag=pii')), ['ledger', 'legacy', 'people']);
    assert.deepEqual(names(await list(owner, '?tag=pi')), [], 'a prefix ends at a dot');
    assert.deepEqual(names(await list(owner, '?tag=pii.email,pii.legacy')), ['legacy', 'people']);
    assert.deepEqual(names(await list(owner, '?tag=pii.email&tag=finance')), ['ledger', 'people']);
  });

  test('bad values are 422 problem+json (the house validation answer)', async () => {
    for (const q of [
      '?tag=PII',
      '?tag=',
      '?tag=pii,,x',
      `?tag=${'a'.repeat(65)}`,
      `?tag=${Array(17).fill('a').join(',')}`,
    ]) {
      const r = await owner.req(`${WS}/datasets${q}`);
      assert.equal(r.status, 422, `${q}: ${r.body}`);
      assert.match(String(r.headers['content-type']), /application\/problem\+json/, q);
    }
  });

  test('a column hidden from the reader by a data policy: its tags neither show nor match', async () => {
    const policy = { target: { dataset: 'people' }, when: { roles: ['analyst'] }, hide: ['email'] };
    const saved = await steward.req(`${WS}/data-policies/people-no-email`, { ...jsonBody({ policy }), method: 'PUT' });
    assert.equal(saved.status, 201, saved.body);
    assert.deepEqual(names(await list(analyst, '?tag=pii.email')), []);
    assert.deepEqual(names(await list(analyst, '?tag=pii')), ['ledger', 'legacy']);
    const all = await list(analyst, '');
    assert.deepEqual(all.find((d) => d.name === 'people')?.sensitiveTags, []);
    // The owner is not under the policy: the match stands for them.
    assert.deepEqual(names(await list(owner, '?tag=pii.email')), ['people']);
    assert.equal((await steward.req(`${WS}/data-policies/people-no-email`, { method: 'DELETE' })).status, 204);
    assert.deepEqual(names(await list(analyst, '?tag=pii.email')), ['people']);
  });
});
