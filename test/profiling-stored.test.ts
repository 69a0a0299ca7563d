/**
 * Stored profiles (issue 18): a profile job runs after each tabular upload and stores a
 * value-free profile (state, progress, task log, audited completion); GET serves it when no data
 * policy applies to the reader and otherwise computes the reader's own view (hidden columns
 * absent, masked columns profiled masked, consistent with their query); stewards confirm and
 * reject detected tags (remembered across versions, a confirmed tag tags the dataset and feeds
 * tag policies); drift between versions; recompute on demand.
 *
 * The canary property: canary strings are planted in every kind of column (detected by name, by
 * value only, and a free-text column nothing detects). None appears in any answer, in the
 * stored profiles or column tags (DB), in the task runs and their decrypted logs, in the audit
 * trail or in the server log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { canaryValues } from './helpers/canaries.ts';
import { createUser, jsonBody, login, ownerSession, type Session } from './helpers/identity.ts';

const WS = '/api/v1/workspaces/default';
const N = 200;

const canaries = {
  ...canaryValues,
  note: (i: number) => `zq-canary-note-${i}-qz`,
};
const ALL_CANARIES = Array.from({ length: N }, (_, i) => Object.values(canaries).map((f) => f(i))).flat();

const v1 = Array.from({ length: N }, (_, i) =>
  [
    i,
    canaries.email(i),
    canaries.card(i),
    canaries.iban(i),
    canaries.ssn(i),
    canaries.ref(i),
    canaries.note(i),
    ['de', 'fr', 'us', 'nl'][i % 4],
    i % 10 === 0 ? '' : ((i * 13) % 500) / 4,
    `2026-0${(i % 9) + 1}-1${i % 10}`,
  ].join(','),
);
const CSV1 = `id,email,card,iban,ssn,ref,note,country,amount,day\n${v1.join('\n')}\n`;
// v2: card removed, extra added, amount mostly empty.
const v2 = Array.from({ length: N }, (_, i) =>
  [
    i,
    canaries.email(i),
    canaries.iban(i),
    canaries.ssn(i),
    canaries.ref(i),
    canaries.note(i),
    ['de', 'fr', 'us', 'nl'][i % 4],
    i % 2 === 0 ? '' : ((i * 13) % 500) / 4,
    `2026-0${(i % 9) + 1}-1${i % 10}`,
    i % 3,
  ].join(','),
);
const CSV2 = `id,email,iban,ssn,ref,note,country,amount,day,extra\n${v2.join('\n')}\n`;

type Col = {
  name: string;
  type: string;
  kind: string;
  nonNull: number;
  nullRatio: number;
  distinct?: number;
  sensitive: boolean;
  masked?: boolean;
  min?: unknown;
  max?: unknown;
  histogram?: { lower: unknown; upper: unknown; count: number | null }[];
  length?: { min: number; max: number; mean: number };
  patterns?: { pattern: string; share: number }[];
  top?: { value: string; count: number }[];
  findings: { tag: string }[];
};
type Profile = {
  state: string;
  source: string;
  version: number;
  rowCount: number;
  columns: Col[];
  tags: Record<string, { tag: string; status: string; source: string }[]>;
  drift?: {
    from: number;
    to: number;
    added: { name: string }[];
    removed: string[];
    retyped: unknown[];
    shifts: { column: string; metric: string }[];
  };
};

describe('stored profiles, steward review, policy views, drift — and no canary anywhere', () => {
  let app: TestApp;
  let owner: Session;
  let steward: Session;
  let analyst: Session;
  let viewer: Session;
  const bodies: string[] = [];
  const put = (name: string, body: string | Buffer, filename: string) =>
    owner.req(`${WS}/datasets/${name}/versions?filename=${filename}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
  const get = async (s: Session, url: string) => {
    const r = await s.req(url);
    bodies.push(r.body);
    return r;
  };
  const profileOf = async (s: Session, name: string, v: number) => {
    const r = await get(s, `${WS}/datasets/${name}/versions/${v}/profile`);
    assert.equal(r.status, 200, r.body);
    return r.json<Profile>();
  };
  /** Polls until the background job has stored the profile. */
  const stored = async (name: string, v: number): Promise<Profile> => {
    for (let i = 0; i < 300; i += 1) {
      const p = await profileOf(owner, name, v);
      if (p.state === 'done' && p.source === 'stored') return p;
      if (p.state === 'failed') assert.fail(`the profile job failed: ${JSON.stringify(p)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the profile job did not finish');
  };
  const col = (p: Profile, name: string) => p.columns.find((c) => c.name === name);

  before(async () => {
    app = await startTestApp('pglite', { env: { STRONGROOM_QUERY_TIMEOUT_MS: '20000' } });
    owner = (await ownerSession(app, 'owner-ps@corp.test')).session;
    await createUser(app, 'steward-ps@corp.test', { role: 'steward' });
    steward = await login(app, 'steward-ps@corp.test');
    await createUser(app, 'analyst-ps@corp.test', { role: 'analyst' });
    analyst = await login(app, 'analyst-ps@corp.test');
    await createUser(app, 'viewer-ps@corp.test', { role: 'viewer' });
    viewer = await login(app, 'viewer-ps@corp.test');
    assert.equal((await put('people', CSV1, 'people.csv')).status, 201);
    assert.equal((await put('blob', Buffer.from([0, 1, 2, 255]), 'blob.bin')).status, 201);
  });
  after(async () => {
    await app?.close();
  });

  test('the job stores a value-free profile after the upload: histograms, patterns, no string min/max', async () => {
    const p = await stored('people', 1);
    assert.equal(p.rowCount, N);
    const tags = Object.fromEntries(p.columns.map((c) => [c.name, c.findings.map((f) => f.tag)]));
    assert.deepEqual(tags.ref, ['pii.ssn'], 'caught by value only');
    assert.deepEqual(tags.note, []);
    for (const c of p.columns) {
      if (c.kind === 'string') assert.ok(!('min' in c) && !('max' in c), `${c.name}: no raw string min/max`);
      if (c.sensitive)
        for (const k of ['min', 'max', 'top', 'histogram', 'patterns', 'mean']) assert.ok(!(k in c), `${c.name}.${k}`);
    }
    const amount = col(p, 'amount')!;
    assert.ok(amount.histogram && amount.histogram.length >= 3, JSON.stringify(amount.histogram));
    const binned = amount.histogram.reduce((s, b) => s + (b.count ?? 0), 0);
    assert.ok(binned <= amount.nonNull && binned >= amount.nonNull - 10 * amount.histogram.length);
    assert.equal(amount.histogram[0]!.lower, amount.min);
    assert.equal(amount.histogram.at(-1)!.upper, amount.max);
    const day = col(p, 'day')!;
    assert.ok(day.histogram && day.histogram.length > 0);
    assert.match(String(day.histogram[0]!.lower), /^2026-01-10$/);
    const note = col(p, 'note')!;
    assert.deepEqual(note.patterns, [{ pattern: 'a-a-a-9-a', share: 1 }]);
    assert.equal(note.top, undefined, 'unique values are never top values');
    assert.deepEqual(note.length, { min: 19, max: 21, mean: note.length!.mean });
    assert.deepEqual(
      col(p, 'country')!.top,
      ['de', 'fr', 'nl', 'us'].map((value) => ({ value, count: N / 4 })),
    );
    assert.equal(p.tags.ref?.[0]?.status, 'suggested');
  });

  test('viewers get the stored profile without values; non-tabular versions say why', async () => {
    const p = await profileOf(viewer, 'people', 1);
    assert.equal(p.source, 'stored');
    for (const c of p.columns)
      for (const k of ['min', 'max', 'top', 'histogram', 'patterns', 'mean']) assert.ok(!(k in c), `${c.name}.${k}`);
    const blob = await owner.req(`${WS}/datasets/blob/versions/1/profile`, { method: 'POST' });
    assert.equal(blob.status, 422, blob.body);
    assert.match(blob.json<{ detail: string }>().detail, /not tabular/);
    assert.equal((await viewer.req(`${WS}/datasets/people/versions/1/profile`, { method: 'POST' })).status, 403);
  });

  test('a reader under a policy gets their own view: hidden absent, masked profiled masked, as their query sees it', async () => {
    const policy = {
      target: { dataset: 'people' },
      when: { roles: ['analyst'] },
      masks: [{ column: 'email', kind: 'email_domain' }],
      hide: ['ssn'],
    };
    const saved = await steward.req(`${WS}/data-policies/people-analysts`, { ...jsonBody({ policy }), method: 'PUT' });
    assert.equal(saved.status, 201, saved.body);
    const p = await profileOf(analyst, 'people', 1);
    assert.equal(p.source, 'reader_view');
    assert.equal(col(p, 'ssn'), undefined, 'hidden columns are absent');
    assert.equal(p.tags.ssn, undefined);
    const hiddenTags = await analyst.req(`${WS}/datasets/people/columns/ssn/tags`);
    assert.equal(hiddenTags.status, 404, 'a hidden column has no tags to show');
    const email = col(p, 'email')!;
    assert.equal(email.masked, true);
    const q = await analyst.req(`${WS}/query`, jsonBody({ sql: 'SELECT email, count(*) FROM people GROUP BY 1' }));
    assert.equal(q.status, 200, q.body);
    const rows = q.json<{ rows: unknown[][] }>().rows;
    assert.deepEqual(
      email.top?.map((t) => [t.value, String(t.count)]),
      rows.map((r) => [r[0], String(r[1])]),
    );
    assert.equal(email.distinct, rows.length);
    const own = await profileOf(owner, 'people', 1);
    assert.equal(own.source, 'stored', 'the policy does not apply to the owner');
    assert.ok(col(own, 'ssn'));
    assert.equal((await steward.req(`${WS}/data-policies/people-analysts`, { method: 'DELETE' })).status, 204);
  });

  test('stewards confirm and reject tags (audited); a confirmed tag tags the dataset and feeds tag policies', async () => {
    const url = (c: string) => `${WS}/datasets/people/columns/${c}/tags`;
    const denied = await analyst.req(url('ref'), { ...jsonBody({ rejected: ['pii.ssn'] }), method: 'PUT' });
    assert.equal(denied.status, 403, denied.body);
    const rej = await steward.req(url('ref'), { ...jsonBody({ rejected: ['pii.ssn'] }), method: 'PUT' });
    assert.equal(rej.status, 200, rej.body);
    assert.deepEqual(rej.json(), { column: 'ref', tags: [{ tag: 'pii.ssn', status: 'rejected', source: 'detected' }] });
    const both = await steward.req(url('ref'), { ...jsonBody({ confirmed: ['x'], rejected: ['x'] }), method: 'PUT' });
    assert.equal(both.status, 422, both.body);
    const conf = await steward.req(url('country'), { ...jsonBody({ confirmed: ['pii.location'] }), method: 'PUT' });
    assert.equal(conf.status, 200, conf.body);
    await expectAudit(app, {
      action: 'policy.tag.assign',
      outcome: 'success',
      details: { column: 'country', confirmed: ['pii.location'], datasetTagsAdded: ['pii.location'] },
    });
    const ds = await owner.req(`${WS}/datasets/people`);
    assert.ok(ds.json<{ tags: string[] }>().tags.includes('pii.location'));
    const p = await profileOf(owner, 'people', 1);
    assert.deepEqual(col(p, 'ref')!.findings, [], 'rejected');
    const country = col(p, 'country')!;
    assert.equal(country.sensitive, true);
    assert.equal(country.top, undefined, 'a confirmed sensitive column shows no value');
    const dump = JSON.stringify(
      await app.server.database.db.selectFrom('dataset_profiles').select('profile').execute(),
    );
    assert.ok(!/"value":"(de|fr|nl|us)"/.test(dump), 'scrubbed from the stored profiles too');
    const read = await analyst.req(url('country'));
    assert.equal(read.status, 200);
    assert.equal(read.json<{ tags: { status: string }[] }>().tags[0]?.status, 'confirmed');
    // The tag feeds the tag policies of issue 17.
    const policy = {
      target: { tag: 'pii.location' },
      when: { roles: ['analyst'] },
      masks: [{ column: 'country', kind: 'redact' }],
    };
    assert.equal(
      (await steward.req(`${WS}/data-policies/locations`, { ...jsonBody({ policy }), method: 'PUT' })).status,
      201,
    );
    const q = await analyst.req(`${WS}/query`, jsonBody({ sql: 'SELECT DISTINCT country FROM people' }));
    assert.deepEqual(q.json<{ rows: unknown[][] }>().rows, [['[redacted]']]);
    assert.equal((await steward.req(`${WS}/data-policies/locations`, { method: 'DELETE' })).status, 204);
  });

  test('drift between versions; decisions are remembered across versions; recompute', async () => {
    assert.equal((await put('people', CSV2, 'people.csv')).status, 201);
    const p = await stored('people', 2);
    assert.deepEqual(col(p, 'ref')!.findings, [], 'the rejection holds for v2');
    assert.equal(col(p, 'ref')!.sensitive, false);
    assert.equal(col(p, 'country')!.sensitive, true, 'the confirmation holds for v2');
    assert.equal(p.drift?.from, 1);
    assert.deepEqual(p.drift?.removed, ['card']);
    assert.deepEqual(
      p.drift?.added.map((a) => a.name),
      ['extra'],
    );
    assert.ok(p.drift?.shifts.some((s) => s.column === 'amount' && s.metric === 'nullRatio'));
    const re = await owner.req(`${WS}/datasets/people/versions/1/profile`, { method: 'POST' });
    assert.equal(re.status, 202, re.body);
    assert.equal(re.json<{ queued: boolean }>().queued, true);
    const again = await stored('people', 1);
    assert.deepEqual(col(again, 'ref')!.findings, []);
    assert.equal(col(again, 'ref')!.sensitive, false, 'recomputed with the rejection');
    await expectAudit(app, { action: 'dataset.profile.run', outcome: 'success' });
  });

  test('canary property: no raw value in answers, stored profiles, tags, task runs and logs, audit or server log', async () => {
    const db = app.server.database.db;
    const dump = JSON.stringify([
      await db.selectFrom('dataset_profiles').selectAll().execute(),
      await db.selectFrom('column_tags').selectAll().execute(),
      await db.selectFrom('task_runs').selectAll().execute(),
    ]);
    const list = await app.asOperator('/api/v1/tasks?kind=profile');
    assert.equal(list.status, 200, list.body);
    const runs = list.json<{ tasks: { id: string; status: string }[] }>().tasks;
    assert.ok(runs.length >= 3, `profile runs: ${runs.length}`);
    const logs: string[] = [];
    for (const r of runs) {
      const log = await app.asOperator(`/api/v1/tasks/${r.id}/log`);
      assert.equal(log.status, 200, log.body);
      logs.push(log.body);
    }
    assert.ok(
      logs.some((l) => l.includes('"finished"') && l.includes('"rows":200')),
      logs.join('\n'),
    );
    // The job's completion is audited (the task's event, committed once its log is written).
    await expectAudit(app, { action: 'task.run.finished', outcome: 'success', details: { kind: 'profile' } });
    for (const action of ['dataset.profile.read', 'dataset.profile.run', 'task.run.finished', 'policy.tag.assign'])
      await expectAudit(app, { action, mustNotContain: ALL_CANARIES });
    const everything = [dump, ...logs, ...bodies, app.logs.join('\n')].join('\n');
    for (const canary of ALL_CANARIES) assert.ok(!everything.includes(canary), `${canary} leaked`);
  });
});
