/**
 * The workspace default policy for `pii.*` columns (issue 18): with the setting (keyed_hash for
 * analysts), a dataset whose columns detection tags `pii.*` gets a regular data policy masking
 * them for analysts (so an analyst's profile and query see hashes, the owner the values); a
 * steward's decisions move it (a rejected finding leaves it, a confirmed steward tag joins it;
 * no pii column left removes it), audited on the tag change. Without the setting nothing is
 * written. Only those who may change data policies set it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { createUser, jsonBody, login, ownerSession, type Session } from './helpers/identity.ts';

const WS = '/api/v1/workspaces/default';
const csv = (tag: string) =>
  `id,email,city\n${Array.from({ length: 60 }, (_, i) => `${i},pd.${i}.${tag}@example.org,${['Lyon', 'Graz', 'Porto'][i % 3]}`).join('\n')}\n`;
const policyName = (dataset: string) =>
  `pii-default-${createHash('sha256').update(dataset).digest('hex').slice(0, 12)}`;

describe('a default data policy for new pii.* tags', () => {
  let app: TestApp;
  let owner: Session;
  let steward: Session;
  let analyst: Session;

  before(async () => {
    app = await startTestApp('pglite');
    owner = (await ownerSession(app, 'owner-pd@corp.test')).session;
    await createUser(app, 'steward-pd@corp.test', { role: 'steward' });
    steward = await login(app, 'steward-pd@corp.test');
    await createUser(app, 'analyst-pd@corp.test', { role: 'analyst' });
    analyst = await login(app, 'analyst-pd@corp.test');
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
  const done = async (name: string) => {
    for (let i = 0; i < 300; i += 1) {
      const r = await app.server.database.db
        .selectFrom('dataset_profiles')
        .select('state')
        .where('dataset', '=', name)
        .executeTakeFirst();
      if (r?.state === 'done') return;
      if (r?.state === 'failed') assert.fail('the profile job failed');
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error('the profile job did not finish');
  };
  const policy = async (name: string) => {
    const r = await owner.req(`${WS}/data-policies/${policyName(name)}`);
    return r.status === 404
      ? undefined
      : r.json<{
          version: number;
          policy: { target: unknown; when?: unknown; masks: { column: string; kind: string }[] };
        }>();
  };
  const setTags = (name: string, col: string, body: object) =>
    steward.req(`${WS}/datasets/${name}/columns/${col}/tags`, jsonBody(body, 'PUT'));

  test('without the setting nothing is written; only policy writers set it', async () => {
    assert.equal((await put('before-setting', csv('a'))).status, 201);
    await done('before-setting');
    assert.equal(await policy('before-setting'), undefined);
    const setting = { mask: 'keyed_hash', when: { roles: ['analyst'] } };
    const denied = await analyst.req(`${WS}/policy-defaults/pii`, jsonBody({ setting }, 'PUT'));
    assert.equal(denied.status, 403, denied.body);
    const bad = await owner.req(`${WS}/policy-defaults/pii`, jsonBody({ setting: { mask: 'drop_table' } }, 'PUT'));
    assert.equal(bad.status, 422, bad.body);
    const set = await owner.req(`${WS}/policy-defaults/pii`, jsonBody({ setting }, 'PUT'));
    assert.equal(set.status, 200, set.body);
    const got = await steward.req(`${WS}/policy-defaults/pii`);
    assert.equal(got.status, 200, got.body);
    assert.deepEqual(got.json<{ setting: unknown }>().setting, setting);
    await expectAudit(app, {
      action: 'policy.rule.update',
      outcome: 'success',
      details: { before: null, after: setting },
    });
  });

  test('detected pii columns get the default policy; steward decisions move it', async () => {
    assert.equal((await put('people-pd', csv('b'))).status, 201);
    await done('people-pd');
    const p = await policy('people-pd');
    assert.ok(p, 'the default policy was written');
    assert.deepEqual(p.policy.target, { dataset: 'people-pd' });
    assert.deepEqual(p.policy.when, { roles: ['analyst'] });
    assert.deepEqual(p.policy.masks, [{ column: 'email', kind: 'keyed_hash' }]);

    // Enforced like any policy: the analyst reads hashes, the owner the values.
    const q = (s: Session) =>
      s.req(`${WS}/query`, jsonBody({ sql: 'SELECT email FROM "people-pd" ORDER BY id LIMIT 1' }));
    const a = await q(analyst);
    assert.equal(a.status, 200, a.body);
    assert.match(String(a.json<{ rows: unknown[][] }>().rows[0]![0]), /^[0-9a-f]{64}$/);
    const o = await q(owner);
    assert.equal(o.json<{ rows: unknown[][] }>().rows[0]![0], 'pd.0.b@example.org');
    const prof = await analyst.req(`${WS}/datasets/people-pd/versions/1/profile`);
    assert.equal(prof.status, 200, prof.body);
    const email = prof
      .json<{ columns: { name: string; masked?: boolean }[] }>()
      .columns.find((c) => c.name === 'email');
    assert.equal(email?.masked, true);

    // A steward's own pii tag joins the policy (audited on the tag change) …
    const city = await setTags('people-pd', 'city', { confirmed: ['pii.address'] });
    assert.equal(city.status, 200, city.body);
    assert.deepEqual(
      (await policy('people-pd'))?.policy.masks.map((m) => m.column),
      ['city', 'email'],
    );
    await expectAudit(app, {
      action: 'policy.tag.assign',
      outcome: 'success',
      details: {
        column: 'city',
        piiDefaultPolicy: { policy: policyName('people-pd'), columns: ['city', 'email'], skipped: [], version: 2 },
      },
    });
    // … a rejected finding leaves it, and with no pii column left it is removed.
    assert.equal((await setTags('people-pd', 'email', { rejected: ['pii.email'] })).status, 200);
    assert.deepEqual(
      (await policy('people-pd'))?.policy.masks.map((m) => m.column),
      ['city'],
    );
    assert.equal((await setTags('people-pd', 'city', { confirmed: [] })).status, 200);
    assert.equal(await policy('people-pd'), undefined);
    const a2 = await q(analyst);
    assert.equal(a2.json<{ rows: unknown[][] }>().rows[0]![0], 'pd.0.b@example.org');
  });
});
