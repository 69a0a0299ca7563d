/**
 * Upload leases (issue 13 §5) over HTTPS with a 3-second lease: a slow upload that keeps sending
 * bytes outlives any orphan age and the sweeps; an upload that stops sending loses its lease,
 * another upload may take the dataset, and the stalled one, when it resumes, is told the truth
 * (409 UPLOAD_LEASE_LOST) instead of a drive error about a missing directory.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { ownerSession, type Session } from './helpers/identity.ts';

const DS = '/api/v1/workspaces/default/datasets';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let app: TestApp;
let owner: Session;
before(async () => {
  app = await startTestApp('pglite', {
    env: { STRONGROOM_UPLOAD_LEASE_SECONDS: '3', STRONGROOM_UPLOAD_ORPHAN_SECONDS: '0' },
  });
  owner = (await ownerSession(app)).session;
});
after(async () => {
  await app.close();
});

/** A PUT whose body the test writes by hand; resolves with status and body when the server answers. */
function slowPut(name: string, size: number) {
  const u = new URL(`${app.base}${DS}/${name}/versions`);
  const req = https.request({
    host: u.hostname,
    port: u.port,
    path: u.pathname,
    method: 'PUT',
    ca: app.ca,
    servername: 'localhost',
    agent: false,
    headers: {
      cookie: owner.cookie,
      'x-csrf-token': owner.csrf,
      'content-type': 'application/octet-stream',
      'content-length': String(size),
    },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
  });
  return { req, answer };
}

test(
  'a slow upload that keeps sending outlives its lease time many times over and the sweeps',
  { timeout: 60_000 },
  async () => {
    const chunks = Array.from({ length: 40 }, () => randomBytes(64 * 1024));
    const whole = Buffer.concat(chunks);
    const { req, answer } = slowPut('slow', whole.length);
    for (const c of chunks) {
      req.write(c);
      await sleep(250); // 10 s in all: more than three lease periods
      await app.server.datasets.cleanup(0); // the sweep runs meanwhile (orphan age 0)
    }
    req.end();
    const res = await answer;
    assert.equal(res.status, 201, res.body);
    const got = await owner.req(`${DS}/slow/versions/1/content`);
    assert.equal(createHash('sha256').update(got.raw).digest('hex'), createHash('sha256').update(whole).digest('hex'));
  },
);

test(
  'a stalled upload loses its lease: another upload takes the dataset, the stalled one is told why',
  { timeout: 60_000 },
  async () => {
    const first = slowPut('stall', 2 * 1024 * 1024);
    first.req.write(randomBytes(512 * 1024));
    await sleep(500);
    // While its lease is live the dataset is taken, and the refusal says by what.
    const busy = await owner.req(`${DS}/stall/versions`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: randomBytes(1024),
    });
    assert.equal(busy.status, 409, busy.body);
    assert.match(busy.json<{ detail: string }>().detail, /in progress .*released if no bytes arrive for 3 s/);
    await sleep(4_500); // no bytes: the lease lapses
    const second = await owner.req(`${DS}/stall/versions`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: randomBytes(1024),
    });
    assert.equal(second.status, 201, second.body);
    first.req.end(randomBytes(1536 * 1024));
    const late = await first.answer.catch((err: Error) => ({ status: 0, body: String(err) }));
    assert.equal(late.status, 409, late.body);
    assert.equal(JSON.parse(late.body).reason, 'UPLOAD_LEASE_LOST', late.body);
    assert.doesNotMatch(late.body, /drive directory|BUCKET/);
    const versions = (await owner.req(`${DS}/stall`)).json<{ versions: { version: number; size: number }[] }>()
      .versions;
    assert.deepEqual(
      versions.map((v) => [v.version, v.size]),
      [[versions[0]!.version, 1024]],
      'only the second upload is a version',
    );
  },
);

test(
  'an upload whose clean-up the database refused leaves no 409 behind: the next upload releases the orphan at once',
  { timeout: 60_000 },
  async () => {
    // The state a database outage leaves: the upload failed, and removing its row failed too.
    const db = app.server.database.db;
    await sql`create function refuse_delete() returns trigger language plpgsql as $$
      begin raise exception 'the database is away'; end $$`.execute(db);
    await sql`create trigger refuse_delete before delete on dataset_versions
      for each row execute function refuse_delete()`.execute(db);
    let failed;
    try {
      failed = await owner.req(`${DS}/orphan/versions?sha256=${'0'.repeat(64)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: randomBytes(64 * 1024),
      });
    } finally {
      await sql`drop trigger refuse_delete on dataset_versions`.execute(db);
      await sql`drop function refuse_delete()`.execute(db);
    }
    assert.equal(failed.status, 422, failed.body);
    const left = await sql<{ state: string }>`
      select state from dataset_versions where workspace_id = 'default' and dataset = 'orphan'`.execute(db);
    assert.deepEqual(
      left.rows.map((r) => r.state),
      ['uploading'],
      "the failed upload's row stayed (its removal was refused)",
    );
    // Well inside the 3 s lease: without the orphan rule this is 409 "Another upload … in progress".
    const next = await owner.req(`${DS}/orphan/versions`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: randomBytes(1024),
    });
    assert.equal(next.status, 201, next.body);
    const versions = (await owner.req(`${DS}/orphan`)).json<{ versions: { size: number }[] }>().versions;
    assert.deepEqual(
      versions.map((v) => v.size),
      [1024],
      'only the second upload is a version',
    );
  },
);
