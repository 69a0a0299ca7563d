/**
 * Scale-out with real processes: two `strongroom serve` processes (each its own data directory,
 * the same PostgreSQL database, the same root key file, certificate and local drive root) behind
 * Debian's haproxy (TCP, round robin per connection), all started by this test on loopback. The
 * client alternates servers:
 * - sign-in on A, TOTP enrolment started on B and confirmed on A, sign-in with the TOTP code on B
 *   finished on A; the session works on both;
 * - a secret written through A is revealed through B, changed through B and revealed through A;
 *   requests through the balancer land on both servers and all succeed;
 * - a session cached on B and logged out on A is refused on B;
 * - a resumable upload opened on A, its parts stored through both servers, completed on B, read
 *   back byte for byte through A;
 * - kill -9 of the server running that upload's profile job in the middle of it: the other server
 *   takes the job over once its lease has ended (STRONGROOM_PROFILE_LEASE_SECONDS=3 here) and
 *   finishes it;
 * - `strongroom audit verify` against the surviving server passes, on one gap-free chain.
 *
 * Holding the job in its middle without a test hook: the test takes `LOCK TABLE column_tags IN
 * SHARE MODE` before the upload completes, so the job (after computing the profile) waits on its
 * insert of the detected column tags — a row-level fact the test can see in `pg_locks`. The killed
 * server's waiting statement is then ended (`pg_terminate_backend`, what PostgreSQL does by itself
 * once it notices the dead client) before the lock is released.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { TestApp } from './helpers/app.ts';
import { cliAsync, freePort, runCli, startServe, type ServeProcess } from './helpers/cli.ts';
import { PG_ADMIN_URL, postgresAvailable } from './helpers/db.ts';
import { request } from './helpers/https.ts';
import { jsonBody, sessionFrom, totpNow, type Session } from './helpers/identity.ts';
import { requirePeer } from './helpers/peers.ts';
import { haproxyMissing, startHaproxy, type Haproxy } from './peers/haproxy/haproxy.ts';

const W = '/api/v1/workspaces/default';
const OWNER = 'owner@scale.test';
const OWNER_PASSWORD = 'two servers share one quiet harbour';
const SEG = 64 * 1024;
const PART = 2 * SEG;
const ROWS = 10_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A CSV of about three parts, with an email column the profile job detects (so it writes column tags). */
function peopleCsv(): Buffer {
  const lines = ['id,email,country,amount'];
  for (let i = 0; i < ROWS; i++)
    lines.push(`${i},person${i}@example.org,${['de', 'fr', 'us', 'nl'][i % 4]},${((i * 37) % 1000) / 4}`);
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** Polls `check` until it returns a value; a hang guard, not a timing claim. */
async function until<T>(check: () => Promise<T | undefined>, what: string, tries = 1200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never saw ${what}`);
}

describe('two strongroom serve processes on one PostgreSQL behind haproxy', { timeout: 300_000 }, () => {
  let dir: string;
  let dbName: string;
  let admin: pg.Client | undefined;
  let envA: Record<string, string>;
  let envB: Record<string, string>;
  let a: ServeProcess;
  let b: ServeProcess;
  let lb: Haproxy;
  let ca: string;
  let onA: TestApp;
  let onB: TestApp;
  let viaLb: TestApp;
  let owner: Session;
  let skip = false;

  const client = (port: string | number): TestApp => {
    const base = `https://localhost:${port}`;
    return { base, ca, req: (p, o = {}) => request(`${base}${p}`, { ...o, ca }) } as TestApp;
  };
  /** The same session, sent to another server. */
  const on = (app: TestApp, s: Session): Session => sessionFrom(app, s.res, s);

  before(async (t) => {
    if (
      !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'pg_ctlcluster 15 main start') ||
      !requirePeer(t as never, 'haproxy', haproxyMissing() === undefined, 'apt-get install -y haproxy')
    ) {
      skip = true;
      return;
    }
    dir = await mkdtemp(path.join(os.tmpdir(), 'sr-scale-proc-'));
    dbName = `sr_test_${randomBytes(6).toString('hex')}`;
    admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${dbName}`;
    const homeA = path.join(dir, 'a');
    const shared = {
      DATABASE_URL: url.toString(),
      STRONGROOM_LOCAL_DRIVE_ROOT: path.join(dir, 'drives'),
      STRONGROOM_PROFILE_LEASE_SECONDS: '3',
      STRONGROOM_HTTP_PORT: 'off',
      STRONGROOM_METRICS_PORT: 'off',
      STRONGROOM_DRIVE_HEALTH_SECONDS: '0',
      STRONGROOM_POSTURE_CHECK_SECONDS: '0',
    };
    envA = { ...shared, STRONGROOM_HOME: homeA, STRONGROOM_HTTPS_PORT: String(await freePort()) };
    await writeFile(path.join(dir, 'pw'), `${OWNER_PASSWORD}\n`, { mode: 0o600 });
    const init = runCli(['init', '--admin-email', OWNER, '--admin-password-file', path.join(dir, 'pw')], envA);
    assert.equal(init.status, 0, init.stderr);
    // B: its own data directory; A's root key file and certificate (as servers behind one name).
    envB = {
      ...shared,
      STRONGROOM_HOME: path.join(dir, 'b'),
      STRONGROOM_HTTPS_PORT: String(await freePort()),
      STRONGROOM_ROOT_KEY_FILE: path.join(homeA, 'root.key'),
      STRONGROOM_TLS_CERT_FILE: path.join(homeA, 'tls', 'cert.pem'),
      STRONGROOM_TLS_KEY_FILE: path.join(homeA, 'tls', 'key.pem'),
    };
    a = await startServe(envA);
    b = await startServe(envB);
    ca = await readFile(path.join(homeA, 'tls', 'cert.pem'), 'utf8');
    onA = client(envA.STRONGROOM_HTTPS_PORT!);
    onB = client(envB.STRONGROOM_HTTPS_PORT!);
    lb = await startHaproxy([Number(envA.STRONGROOM_HTTPS_PORT), Number(envB.STRONGROOM_HTTPS_PORT)]);
    viaLb = client(lb.port);
  });
  after(async () => {
    if (skip) return;
    await lb?.stop();
    for (const s of [a, b])
      if (s && s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGTERM');
        await s.exited;
      }
    await admin?.query(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
    await admin?.end();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('sign-in and TOTP across servers: enrol started on B, confirmed on A; a TOTP sign-in begun on B finishes on A', async (t) => {
    if (skip) return t.skip('no PostgreSQL or haproxy');
    const first = await onA.req('/api/v1/auth/login', jsonBody({ email: OWNER, password: OWNER_PASSWORD }));
    assert.equal(first.status, 200, first.body);
    assert.equal(first.json<{ mfaEnrolmentRequired: boolean }>().mfaEnrolmentRequired, true);
    const s1 = sessionFrom(onA, first);
    const start = await on(onB, s1).req('/api/v1/auth/mfa/enrol', { method: 'POST' });
    assert.equal(start.status, 200, start.body);
    const secret = start.json<{ secret: string }>().secret;
    const enrolledAt = Date.now();
    const verify = await s1.req('/api/v1/auth/mfa/enrol/verify', jsonBody({ code: totpNow(secret, enrolledAt) }));
    assert.equal(verify.status, 200, verify.body);

    const second = await onB.req('/api/v1/auth/login', jsonBody({ email: OWNER, password: OWNER_PASSWORD }));
    assert.equal(second.status, 200, second.body);
    assert.equal(second.json<{ mfaRequired: boolean }>().mfaRequired, true);
    const pending = on(onA, sessionFrom(onB, second));
    assert.equal((await pending.req('/api/v1/auth/me')).status, 401, 'a half signed-in session does nothing on A');
    // The enrolment burnt its step; the next step's code is accepted (±1 step) and not a replay.
    const done = await pending.req('/api/v1/auth/mfa', jsonBody({ code: totpNow(secret, Date.now() + 30_000) }));
    assert.equal(done.status, 200, done.body);
    owner = sessionFrom(onA, done, pending);
    assert.notEqual(owner.id, pending.id, 'the session id rotates');
    for (const app of [onA, onB]) {
      const me = await on(app, owner).req('/api/v1/auth/me');
      assert.equal(me.status, 200, me.body);
      assert.equal(me.json<{ strength: string }>().strength, 'password+totp');
    }
    assert.equal((await on(onB, pending).req('/api/v1/auth/me')).status, 401, 'the pending id is dead on B too');
  });

  test('secrets: written through A, revealed through B, changed through B, revealed through A; the balancer reaches both', async (t) => {
    if (skip || !owner) return t.skip('no PostgreSQL or haproxy, or no session');
    const put = await owner.req(
      `${W}/secrets/data/scale/db`,
      jsonBody({ type: 'password', value: { password: 'written-on-a' } }, 'PUT'),
    );
    assert.equal(put.status, 201, put.body);
    const shown = await on(onB, owner).req(`${W}/secrets/reveal/scale/db`, { method: 'POST' });
    assert.equal(shown.status, 200, shown.body);
    assert.match(shown.body, /written-on-a/);
    const changed = await on(onB, owner).req(
      `${W}/secrets/data/scale/db`,
      jsonBody({ type: 'password', value: { password: 'changed-on-b' } }, 'PUT'),
    );
    assert.equal(changed.status, 200, changed.body);
    const again = await owner.req(`${W}/secrets/reveal/scale/db`, { method: 'POST' });
    assert.equal(again.status, 200, again.body);
    assert.match(again.body, /changed-on-b/);
    assert.doesNotMatch(again.body, /written-on-a/);

    const balanced = on(viaLb, owner);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const id = `scaleproc-${randomBytes(6).toString('hex')}`;
      ids.push(id);
      const r =
        i % 2 === 0
          ? await balanced.req(`${W}/secrets/data/lb/item-${i}`, {
              ...jsonBody({ type: 'password', value: { password: `v${i}` } }, 'PUT'),
              headers: { 'content-type': 'application/json', 'x-request-id': id },
            })
          : await balanced.req(`${W}/secrets`, { headers: { 'x-request-id': id } });
      assert.ok(r.status === 200 || r.status === 201, `${r.status} ${r.body}`);
    }
    const servedBy = (s: ServeProcess) => ids.filter((id) => s.lines.some((l) => l.includes(id))).length;
    assert.equal(servedBy(a) + servedBy(b), ids.length, 'every request is in one server log');
    assert.ok(servedBy(a) > 0 && servedBy(b) > 0, 'both servers answered');
  });

  test('a session cached on B and logged out on A is refused on B', async (t) => {
    if (skip || !owner) return t.skip('no PostgreSQL or haproxy, or no session');
    const created = await owner.req(
      `${W}/users`,
      jsonBody({ email: 'engineer@scale.test', displayName: 'Engineer', password: OWNER_PASSWORD, role: 'engineer' }),
    );
    assert.equal(created.status, 201, created.body);
    const res = await onA.req(
      '/api/v1/auth/login',
      jsonBody({ email: 'engineer@scale.test', password: OWNER_PASSWORD }),
    );
    assert.equal(res.status, 200, res.body);
    const s = sessionFrom(onA, res);
    const sOnB = on(onB, s);
    assert.equal((await sOnB.req('/api/v1/auth/me')).status, 200);
    assert.equal((await sOnB.req('/api/v1/auth/me')).status, 200, 'now in B’s session cache');
    assert.equal((await s.req('/api/v1/auth/logout', { method: 'POST' })).status, 200);
    assert.equal((await s.req('/api/v1/auth/me')).status, 401, 'refused on A at once');
    const t0 = Date.now();
    // B drops it on NOTIFY; whatever happens to notifications, no cache entry outlives 1 s.
    await until(async () => ((await sOnB.req('/api/v1/auth/me')).status === 401 ? true : undefined), 'B refuse it');
    process.stderr.write(`revocation on A refused on B after ${Date.now() - t0} ms\n`);
  });

  test('a resumable upload across both servers; kill -9 of the server running its profile job, the other finishes it', async (t) => {
    if (skip || !owner) return t.skip('no PostgreSQL or haproxy, or no session');
    const file = peopleCsv();
    const name = 'people';
    const url = `${W}/datasets/${name}/uploads`;
    const opened = await owner.req(
      url,
      jsonBody({ size: file.length, partSize: PART, sha256: sha(file), drive: 'default', filename: 'people.csv' }),
    );
    assert.equal(opened.status, 201, opened.body);
    const up = opened.json<{ id: string; partCount: number }>();
    assert.ok(up.partCount >= 3, `${up.partCount} parts`);
    const servers = [onA, onB];
    for (let n = 1; n <= up.partCount; n++) {
      const r = await on(servers[n % 2]!, owner).req(`${url}/${up.id}/parts/${n}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: file.subarray((n - 1) * PART, n * PART),
      });
      assert.equal(r.status, 200, `part ${n}: ${r.body}`);
    }
    const status = await owner.req(`${url}/${up.id}`);
    assert.deepEqual(
      status.json<{ received: number[] }>().received,
      Array.from({ length: up.partCount }, (_, i) => i + 1),
      'A sees the parts B stored',
    );

    // Hold the profile job in its middle: its insert of the detected tags waits for this lock.
    const url_ = new URL(PG_ADMIN_URL);
    url_.pathname = `/${dbName}`;
    const holder = new pg.Client({ connectionString: url_.toString() });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('lock table column_tags in share mode');
      const completed = await on(onB, owner).req(`${url}/${up.id}/complete`, { method: 'POST' });
      assert.equal(completed.status, 201, completed.body);
      const got = await owner.req(`${W}/datasets/${name}/versions/1/content`);
      assert.equal(got.status, 200);
      assert.ok(got.raw.equals(file), 'completed on B, read back through A byte for byte');

      const waiting = await until(async () => {
        const r = await holder.query<{ n: string }>(
          `select count(*) as n from pg_locks l join pg_class c on c.oid = l.relation
            where c.relname = 'column_tags' and not l.granted`,
        );
        return Number(r.rows[0]!.n) > 0 ? true : undefined;
      }, 'the profile job waiting on its column tags');
      assert.equal(waiting, true);
      const row = await holder.query<{ state: string; lease_owner: string }>(
        `select state, lease_owner from dataset_profiles where dataset = $1 and version = 1`,
        [name],
      );
      assert.equal(row.rows[0]!.state, 'running');
      const runnerPid = Number(row.rows[0]!.lease_owner.split(':')[1]);
      const [victim, survivor, survivorApp, survivorEnv] =
        runnerPid === a.child.pid ? [a, b, onB, envB] : [b, a, onA, envA];
      assert.equal(victim.child.pid, runnerPid, 'the job runs in one of the two serve processes');
      victim.child.kill('SIGKILL');
      await victim.exited;
      // PostgreSQL ends a dead client's backend once it notices; here at once, before the lock goes.
      await holder.query(
        `select pg_terminate_backend(l.pid) from pg_locks l join pg_class c on c.oid = l.relation
          where c.relname = 'column_tags' and not l.granted`,
      );
      await holder.query('commit');
      const left = await holder.query<{ state: string; lease_owner: string }>(
        `select state, lease_owner from dataset_profiles where dataset = $1 and version = 1`,
        [name],
      );
      assert.deepEqual(left.rows[0], row.rows[0], 'the killed server left its job running, under its lease');

      // The survivor takes the job over once the lease has ended, and finishes it.
      const s = on(survivorApp, owner);
      const profile = await until(async () => {
        const r = await s.req(`${W}/datasets/${name}/versions/1/profile`);
        assert.equal(r.status, 200, r.body);
        const p = r.json<{ state: string; source: string; rowCount: number; columns: { name: string }[] }>();
        assert.notEqual(p.state, 'failed', r.body);
        return p.state === 'done' && p.source === 'stored' ? p : undefined;
      }, 'the survivor finish the profile job');
      assert.equal(profile.rowCount, ROWS);
      assert.deepEqual(
        profile.columns.map((c) => c.name),
        ['id', 'email', 'country', 'amount'],
      );
      const after = await holder.query<{ lease_owner: string | null; task_id: string }>(
        `select lease_owner, task_id from dataset_profiles where dataset = $1 and version = 1`,
        [name],
      );
      assert.equal(after.rows[0]!.lease_owner, null, 'the lease is released when the job ends');
      const tags = await holder.query<{ column_name: string; tag: string }>(
        `select column_name, tag from column_tags where dataset = $1 order by 1, 2`,
        [name],
      );
      assert.ok(
        tags.rows.some((r) => r.column_name === 'email' && r.tag.startsWith('pii.')),
        JSON.stringify(tags.rows),
      );
      // The job marks its profile done, then closes its task run (log flush, then status): wait for both.
      const runs = await until(async () => {
        const r = await holder.query<{ status: string }>(
          `select status from task_runs where kind = 'profile' order by started_at`,
        );
        return r.rows.length === 2 && r.rows[1]!.status !== 'running' ? r : undefined;
      }, 'the survivor’s task run to finish');
      assert.deepEqual(
        runs.rows.map((r) => r.status),
        ['running', 'succeeded'],
        'the killed run stays unfinished; the survivor’s succeeded',
      );

      // The trail: one gap-free chain, verified through the surviving server.
      const head = await holder.query<{ seq: string; n: string }>(
        `select (select seq from audit_head) as seq, (select count(*) from audit_events) as n`,
      );
      assert.equal(Number(head.rows[0]!.seq), Number(head.rows[0]!.n), 'one gap-free sequence');
      const verify = await cliAsync(['audit', 'verify'], survivorEnv);
      assert.equal(verify.status, 0, verify.stdout + verify.stderr);
      assert.ok(survivor.child.exitCode === null, 'the survivor is still serving');
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
    }
  });
});
