/**
 * Scale-out: two Strongroom servers on ONE PostgreSQL database, behind Debian's haproxy (TCP, round
 * robin per connection) on loopback. Each server has its own data directory, database pool,
 * LISTEN connection and audit chainer; they share the database, the root key file and the TLS
 * certificate (as servers behind one name do).
 * - a session signed in on one server works on the other; a secret written through A is read
 *   through B; requests through the balancer land on both and all succeed;
 * - a session revoked on A is refused on B (B had it cached: NOTIFY drops it);
 * - both servers recording concurrently make ONE chain that `verify` passes on either;
 * - a due scheduled job (the retention purge, `maintenance_jobs` claimed with SKIP LOCKED) ticked
 *   on both at once runs once; a periodic check's period (drive health) is claimed by one server;
 * - a profile job held by a live server is left alone when another starts; one whose server died
 *   (its lease ended) is taken over and finished (before migration 0036 a start put every running
 *   job back to pending, and a dead server's job stayed running until some server restarted).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from '../src/db/database.ts';
import { createRetentionScheduler } from '../src/modules/retention/retention.schedule.ts';
import { claimPeriod, periodStart } from '../src/modules/tasks/index.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { expectAudit } from './helpers/audit.ts';
import { PG_ADMIN_URL, postgresAvailable } from './helpers/db.ts';
import { request } from './helpers/https.ts';
import { createUser, jsonBody, login, ownerSession, sessionFrom, type Session } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';
import { haproxyMissing, startHaproxy, type Haproxy } from './peers/haproxy/haproxy.ts';

const W = '/api/v1/workspaces/default';

describe('two servers on one PostgreSQL behind haproxy', () => {
  let a: TestApp;
  let b: TestApp;
  let dbB: DatabaseHandle | undefined;
  let lb: Haproxy;
  let viaLb: TestApp;
  let drivesRoot: string;
  let skip = false;

  before(async (t) => {
    if (
      !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'pg_ctlcluster 15 main start') ||
      !requirePeer(t as never, 'haproxy', haproxyMissing() === undefined, 'apt-get install -y haproxy')
    ) {
      skip = true;
      return;
    }
    // One local drive root for both (as a shared mount would be): datasets written by one are read by the other.
    drivesRoot = await mkdtemp(path.join(os.tmpdir(), 'sr-scale-drives-'));
    a = await startTestApp('postgres', { env: { STRONGROOM_LOCAL_DRIVE_ROOT: drivesRoot } });
    const { rows } = await sql<{ db: string }>`select current_database() as db`.execute(a.server.database.db);
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${rows[0]!.db}`;
    dbB = await openDatabase({ kind: 'postgres', url: url.toString(), allowWeakTls: false, poolSize: 10 });
    b = await startTestApp('postgres', {
      database: dbB,
      tls: { cert: a.ca, key: await readFile(path.join(a.home, 'key.pem'), 'utf8') },
      env: { STRONGROOM_ROOT_KEY_FILE: path.join(a.home, 'root.key'), STRONGROOM_LOCAL_DRIVE_ROOT: drivesRoot },
    });
    lb = await startHaproxy([a.server.httpsPort, b.server.httpsPort]);
    const base = `https://localhost:${lb.port}`;
    viaLb = { ...a, base, req: (p, o = {}) => request(`${base}${p}`, { ...o, ca: a.ca }) };
  });
  after(async () => {
    if (skip) return;
    await lb?.stop();
    await b?.close(); // B's database handle only closes its pool; A's drops the database
    await a?.close();
    if (drivesRoot) await rm(drivesRoot, { recursive: true, force: true });
  });

  /** The same session, sent to another server. */
  const on = (app: TestApp, s: Session): Session => sessionFrom(app, s.res, s);

  test('a session from A works on B; a secret written through A is read through B', async (t) => {
    if (skip) return t.skip('no PostgreSQL or haproxy');
    const { session } = await ownerSession(a);
    const put = await session.req(
      `${W}/secrets/data/shared/db`,
      jsonBody({ type: 'password', value: { password: 'written-on-a' } }, 'PUT'),
    );
    assert.equal(put.status, 201, put.body);
    const onB = on(b, session);
    const me = await onB.req('/api/v1/auth/me');
    assert.equal(me.status, 200, me.body);
    const revealed = await onB.req(`${W}/secrets/reveal/shared/db`, { method: 'POST' });
    assert.equal(revealed.status, 200, revealed.body);
    assert.match(revealed.body, /written-on-a/);
    await expectAudit(b, { action: 'vault.secret.reveal', outcome: 'success' });
  });

  test('through the balancer: sign-in, writes and reads land on both servers and all succeed', async (t) => {
    if (skip) return t.skip('no PostgreSQL or haproxy');
    await createUser(a, 'balanced@corp.test', { role: 'engineer' });
    const s = await login(viaLb, 'balanced@corp.test');
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = `scaleout-${randomBytes(6).toString('hex')}`;
      ids.push(id);
      const r =
        i % 3 === 0
          ? await s.req(`${W}/secrets/data/lb/item-${i}`, {
              ...jsonBody({ type: 'password', value: { password: `v${i}` } }, 'PUT'),
              headers: { 'content-type': 'application/json', 'x-request-id': id },
            })
          : await s.req(`${W}/secrets`, { headers: { 'x-request-id': id } });
      assert.ok(r.status === 200 || r.status === 201, `${r.status} ${r.body}`);
    }
    const servedBy = (app: TestApp) => ids.filter((id) => app.logs.some((l) => l.includes(id))).length;
    assert.ok(servedBy(a) > 0, 'server A answered some requests');
    assert.ok(servedBy(b) > 0, 'server B answered some requests');
  });

  test('a session revoked on A is refused on B, where it was cached', async (t) => {
    if (skip) return t.skip('no PostgreSQL or haproxy');
    await createUser(a, 'revoked-across@corp.test');
    const s = await login(a, 'revoked-across@corp.test');
    const onB = on(b, s);
    assert.equal((await onB.req('/api/v1/auth/me')).status, 200);
    assert.equal((await onB.req('/api/v1/auth/me')).status, 200);
    assert.ok(b.server.identity.sessionCache.size > 0, 'B holds the session in its cache');
    assert.equal((await s.req('/api/v1/auth/logout', { method: 'POST' })).status, 200);
    assert.equal((await s.req('/api/v1/auth/me')).status, 401, 'refused on A at once');
    // B learns it by NOTIFY (milliseconds); its cache keeps nothing longer than 1 s in any case.
    let status = 200;
    for (let i = 0; i < 200 && status === 200; i++) {
      status = (await onB.req('/api/v1/auth/me')).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(status, 401, 'refused on B');
  });

  test('both servers recording at once make one chain; verify passes on each', async (t) => {
    if (skip) return t.skip('no PostgreSQL or haproxy');
    const { session } = await ownerSession(a);
    const onB = on(b, session);
    await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        (i % 2 === 0 ? session : onB)
          .req(`${W}/secrets/data/chain/k${i}`, jsonBody({ type: 'password', value: { password: `p${i}` } }, 'PUT'))
          .then((r) => assert.equal(r.status, 201, r.body)),
      ),
    );
    // Checkpoints signed by each server in turn: each export area must hold all of them.
    await b.server.audit.checkpointNow();
    const more = await session.req(
      `${W}/secrets/data/chain/after-b`,
      jsonBody({ type: 'password', value: { password: 'after' } }, 'PUT'),
    );
    assert.equal(more.status, 201, more.body);
    await a.server.audit.checkpointNow();
    await Promise.all([a.server.audit.checkpointNow(), b.server.audit.checkpointNow()]);
    const head = await sql<{ seq: string; n: string }>`
      select (select seq from audit_head) as seq, (select count(*) from audit_events) as n`.execute(
      a.server.database.db,
    );
    assert.equal(Number(head.rows[0]!.seq), Number(head.rows[0]!.n), 'one gap-free sequence');
    for (const app of [a, b]) {
      const report = await app.server.audit.verify();
      assert.equal(report.ok, true, JSON.stringify(report.problems.slice(0, 3)));
      assert.equal(report.eventsChecked, Number(head.rows[0]!.seq));
    }
    const written = await expectAudit(a, { action: 'vault.secret.create', outcome: 'success' });
    assert.ok(written.length >= 24);
  });

  test('a due scheduled job ticked on both servers at once runs once', async (t) => {
    if (skip) return t.skip('no PostgreSQL or haproxy');
    const due = new Date(Date.now() - 60_000);
    const id = `scaleout-${randomBytes(6).toString('hex')}`;
    await a.server.database.db
      .insertInto('maintenance_jobs')
      .values({ id, kind: 'retention-purge', run_at: due, state: 'pending' })
      .execute();
    const scheduler = (app: TestApp, owner: string) =>
      createRetentionScheduler({
        db: app.server.database.db,
        retention: app.server.retention,
        owner,
        record: (input) => app.server.audit.recordCommitted(input),
      });
    const [ra, rb] = await Promise.all([scheduler(a, 'server-a').tick(), scheduler(b, 'server-b').tick()]);
    const ran = [...ra.ran, ...rb.ran].filter((x) => x === id);
    assert.deepEqual(ran, [id], 'run by exactly one server');
    const row = await a.server.database.db
      .selectFrom('maintenance_jobs')
      .select(['state', 'attempts'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { state: 'done', attempts: 1 });
    await a.server.audit.chainPending();
    const events = await expectAudit(a, { action: 'retention.purge.run', outcome: 'success', resource: { id } });
    assert.equal(events.length, 1);
  });

  test("a periodic check's period is claimed by exactly one server", async (t) => {
    if (skip) return t.skip('no PostgreSQL or haproxy');
    const at = new Date();
    const kind = `check-${randomBytes(4).toString('hex')}`;
    const claims = await Promise.all(
      [a, b, a, b].map((app, i) => claimPeriod(app.server.database.db, kind, 60_000, `server-${i}`, at)),
    );
    assert.equal(claims.filter(Boolean).length, 1);
    const next = new Date(periodStart(at, 60_000).getTime() + 60_000);
    assert.equal(await claimPeriod(b.server.database.db, kind, 60_000, 'server-b', next), true, 'the next period');
  });

  test("a profile job: a start leaves a live server's job alone; a dead server's is taken over when its lease ends", async (t) => {
    if (skip) return t.skip('no PostgreSQL or haproxy');
    const { session } = await ownerSession(a);
    const rows = Array.from({ length: 50 }, (_, i) => `${i},p${i}@example.org,${i % 7}`);
    const put = await session.req(`${W}/datasets/leased/versions?filename=leased.csv`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: `id,email,n\n${rows.join('\n')}\n`,
    });
    assert.equal(put.status, 201, put.body);
    const db = a.server.database.db;
    const row = () =>
      db
        .selectFrom('dataset_profiles')
        .select(['state', 'lease_owner', 'lease_expires_at', 'profile'])
        .where('dataset', '=', 'leased')
        .where('version', '=', 1)
        .executeTakeFirst();
    const settled = async () => {
      for (let i = 0; i < 600; i++) {
        const r = await row(); // the job's row appears just after the upload commits
        if (r?.state === 'done' || r?.state === 'failed') return r;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error('the profile job never ended');
    };
    assert.equal((await settled()).state, 'done');
    const key = (q: ReturnType<typeof db.updateTable<'dataset_profiles'>>) =>
      q.where('workspace_id', '=', 'default').where('dataset', '=', 'leased').where('version', '=', 1);

    // Another server (not this data directory) holds the job under a live lease; B starts.
    const live = 'another-instance:4242:0123456789ab';
    await key(
      db.updateTable('dataset_profiles').set({
        state: 'running',
        profile: null,
        lease_owner: live,
        lease_expires_at: new Date(Date.now() + 600_000),
      }),
    ).execute();
    await b.server.profiling.resume();
    await b.server.profiling.idle();
    b.server.profiling.kick();
    await b.server.profiling.idle();
    const held = (await row())!;
    assert.deepEqual(
      [held.state, held.lease_owner, held.profile],
      ['running', live, null],
      'not taken from a live server',
    );

    // That server died: once its lease has ended, the next look at the queue takes the job and finishes it.
    await key(db.updateTable('dataset_profiles').set({ lease_expires_at: new Date(Date.now() - 1000) })).execute();
    b.server.profiling.kick();
    const done = await settled();
    assert.equal(done.state, 'done');
    assert.equal(done.lease_owner, null);
    assert.equal((done.profile as { rowCount: number }).rowCount, 50);
  });
});
