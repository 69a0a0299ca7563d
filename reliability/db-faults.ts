/**
 * `npm run reliability -- db-faults [--rounds N] [--seed S] [--shared]`: the real server
 * (`strongroom serve`) on PostgreSQL, reached through a TCP proxy (reliability/lib/tcp-proxy.ts).
 * The database lives in a private PostgreSQL 15 cluster the suite starts on its own port and data
 * directory (reliability/lib/pg-private.ts; needs root) — or, with `--shared` or when that cannot
 * start, in the shared cluster on 5432, which is then never restarted. Each round runs secret
 * writes, secret reads and dataset uploads at once and then, at a seeded moment, one fault, in
 * this order round after round:
 *
 * - `terminate`: `pg_terminate_backend` on every server connection, mid-transaction;
 * - `pg-restart` (private cluster only): `pg_ctl restart -m immediate` — the postmaster and every
 *   backend die at once, a new postmaster replays the WAL;
 * - `unreachable`: connections cut, new ones accepted but never answered, for a moment;
 * - `refused`: every connection cut and new ones reset for a moment (through the proxy).
 *
 * Expected: every answer is 2xx or a 503 problem (never a 500, never a hang past the client's
 * timeout); the same process serves again by itself once the database is back (no restart);
 * every acknowledged write is present; nothing partial (each listed version downloads whole, each
 * secret value is one that was written); fail-closed audit — every secret version has its
 * successful audit event, so nothing was done unrecorded; and `audit verify` passes.
 *
 * A write whose COMMIT lost its connection is answered 503 with `outcome: "unknown"` (it may have
 * been made); any other 503 write must never appear, and an acknowledged version may be missing
 * only when such a write could have pruned it (the version limit).
 *
 * Ends with `reliability-db-faults: tried=<rounds> passed=… failed=… answers=… unavailable=…
 * in_doubt=… seed=…`.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import {
  createInstance,
  flag,
  isMain,
  PG_ADMIN_URL,
  rng,
  summary,
  type Answer,
  type Instance,
} from './lib/instance.ts';
import { privateClusterMissing, startPrivateCluster, type PrivateCluster } from './lib/pg-private.ts';
import { startTcpProxy, type TcpProxy } from './lib/tcp-proxy.ts';

const W = '/api/v1/workspaces/default';
type Fault = 'terminate' | 'pg-restart' | 'unreachable' | 'refused';
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** The vault's default `max_versions`: a write prunes the version this many below it. */
const MAX_VERSIONS = 10;

/**
 * What the client knows of one secret: values sent; versions acknowledged (2xx) with their value;
 * values refused outright (a 503 that is not "outcome unknown": never to appear); and how many
 * writes were answered "outcome unknown" (the connection was lost at COMMIT: made or not).
 */
interface SecretKnowledge {
  sent: Set<string>;
  acked: Map<number, string>;
  refused: Set<string>;
  inDoubt: number;
}

async function terminateBackends(adminUrl: string, database: string): Promise<number> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const r = await c.query(
      'select count(pg_terminate_backend(pid)) as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [database],
    );
    return Number(r.rows[0]?.n ?? 0);
  } finally {
    await c.end();
  }
}

/** Polls a cheap authenticated read until it answers 200 (the pool reconnected by itself). */
async function recovered(inst: Instance): Promise<boolean> {
  for (let i = 0; i < 120; i++) {
    const a = await inst.req(`${W}/secrets`).catch(() => undefined);
    if (a?.status === 200) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

const argvVerbose = process.argv.includes('--verbose');

export async function runDbFaults(opts: { rounds: number; seed: number; shared?: boolean; log?: (l: string) => void }) {
  const log = opts.log ?? ((l: string) => console.log(l));
  const r = rng(opts.seed);
  const missing = opts.shared ? 'asked for the shared cluster (--shared)' : privateClusterMissing();
  const cluster: PrivateCluster | undefined = missing ? undefined : await startPrivateCluster();
  log(
    cluster
      ? `private PostgreSQL cluster on 127.0.0.1:${cluster.port}`
      : `shared PostgreSQL cluster, no real restart (${missing})`,
  );
  const faults: Fault[] = cluster
    ? ['terminate', 'pg-restart', 'unreachable', 'refused']
    : ['terminate', 'unreachable', 'refused'];
  const adminUrl = cluster?.adminUrl ?? PG_ADMIN_URL;
  const proxy: TcpProxy = await startTcpProxy('127.0.0.1', cluster?.port ?? 5432);
  const inst = await createInstance({ database: 'postgres', dbPort: proxy.port, pgAdminUrl: adminUrl }).catch(
    async (err: unknown) => {
      await proxy.stop();
      cluster?.stop();
      throw err;
    },
  );
  const database = new URL(inst.databaseUrl!).pathname.slice(1);
  const secrets = new Map<string, SecretKnowledge>();
  const datasets = new Map<string, { sent: Set<string>; acked: Set<number> }>();
  let passed = 0;
  let answers = 0;
  let unavailable = 0;
  let inDoubt = 0;
  const findings: string[] = [];
  try {
    await inst.start();
    const pid = inst.serve().child.pid;
    for (let round = 0; round < opts.rounds; round++) {
      const fault = faults[round % faults.length]!;
      const problems: string[] = [];
      const got: { what: string; a: Answer | Error }[] = [];
      const track = (what: string, p: Promise<Answer>) =>
        p.then(
          (a) => (got.push({ what, a }), a),
          (e: Error) => (got.push({ what, a: e }), undefined),
        );
      let stop = false;
      const workers: Promise<void>[] = [];
      for (let w = 0; w < 3; w++) {
        const p = `dbf/s${w}`;
        const m = secrets.get(p) ?? {
          sent: new Set<string>(),
          acked: new Map(),
          refused: new Set<string>(),
          inDoubt: 0,
        };
        secrets.set(p, m);
        workers.push(
          (async () => {
            for (let k = 0; !stop && k < 40; k++) {
              const value = `db-${opts.seed}-${round}-${w}-${k}-${r.int(0, 1e9)}`;
              m.sent.add(value);
              const a = await track(
                'secret write',
                inst.json('PUT', `${W}/secrets/data/${p}`, { type: 'password', value: { password: value } }),
              );
              if (a && a.status < 300) {
                const out = a.json<{ version: number; pruned?: number[] }>();
                m.acked.set(out.version, value);
                for (const v of out.pruned ?? []) m.acked.delete(v); // past the version limit: pruned on purpose
              } else if (a?.status === 503) {
                if (a.json<{ outcome?: string }>().outcome === 'unknown') {
                  m.inDoubt++;
                  inDoubt++;
                } else m.refused.add(value);
              }
              // Read once a write was acknowledged (before that, 404 is the right answer).
              if (m.acked.size > 0)
                await track('secret read', inst.req(`${W}/secrets/reveal/${p}`, { method: 'POST' }));
            }
          })(),
        );
      }
      workers.push(
        (async () => {
          const name = `dbf-d${round % 2}`;
          const m = datasets.get(name) ?? { sent: new Set<string>(), acked: new Set<number>() };
          datasets.set(name, m);
          for (let k = 0; !stop && k < 10; k++) {
            const body = Buffer.alloc(r.int(64, 512) * 1024, `${round}-${k}-${r.int(0, 1e9)}`);
            m.sent.add(sha(body));
            const a = await track(
              'upload',
              inst.req(`${W}/datasets/${name}/versions?filename=d.bin`, {
                method: 'PUT',
                headers: { 'content-type': 'application/octet-stream' },
                body,
              }),
            );
            if (a?.status === 201) m.acked.add(a.json<{ version: { version: number } }>().version.version);
          }
        })(),
      );

      await new Promise((res) => setTimeout(res, r.int(100, 1500)));
      if (fault === 'terminate') {
        const n = await terminateBackends(adminUrl, database);
        log(`round ${round + 1}: terminated ${n} backends`);
      } else if (fault === 'pg-restart') {
        // While the postmaster restarts, requests keep coming: each is 2xx or a 503 problem (the
        // restart may be over before any given one lands, so none is required to be a 503).
        const t0 = Date.now();
        await cluster!.restart();
        log(`round ${round + 1}: PostgreSQL restarted (immediate, WAL replay) in ${Date.now() - t0} ms`);
      } else {
        proxy.mode(fault === 'refused' ? 'refuse' : 'blackhole');
        // While it is down: a read, a write and a sign-in must each be answered with a 503 problem.
        const down = await Promise.all([
          track('read while down', inst.req(`${W}/secrets`)),
          track(
            'write while down',
            inst.json('PUT', `${W}/secrets/data/dbf/down`, { type: 'password', value: { password: 'never' } }),
          ),
          track(
            'login while down',
            inst.json('POST', '/api/v1/auth/login', { email: 'x@y.test', password: 'p' }, 'none'),
          ),
        ]);
        for (const a of down)
          if (a?.status !== 503) problems.push(`while the database is down: ${a?.status} ${a?.body.slice(0, 200)}`);
        proxy.mode('pass');
      }
      stop = true;
      await Promise.all(workers);

      for (const { what, a } of got) {
        answers++;
        if (a instanceof Error) problems.push(`${what}: no answer (${a.message})`);
        else if (a.status === 503) {
          unavailable++;
          if (argvVerbose) {
            const id = String(a.headers['x-request-id']);
            log(`  503 ${what}: ${a.body.slice(0, 300)}`);
            for (const l of inst.logs().filter((x) => x.includes(id) && !x.includes('"request completed"')))
              log(`  server: ${l.slice(0, 1500)}`);
          }
          if (!String(a.headers['content-type']).startsWith('application/problem+json'))
            problems.push(`${what}: 503 that is not a problem`);
        } else if (a.status >= 300 && !(what === 'login while down' && a.status === 401)) {
          problems.push(`${what}: ${a.status} ${a.body.slice(0, 200)}`);
          const id = String(a.headers['x-request-id']);
          if (argvVerbose)
            for (const l of inst.logs().filter((x) => x.includes(id) && !x.includes('"request completed"')))
              log(`  server: ${l.slice(0, 1500)}`);
        }
      }
      const alive = () => inst.serve().child.exitCode === null && inst.serve().child.signalCode === null;
      if (!alive() || inst.serve().child.pid !== pid) {
        const last = inst
          .logs()
          .filter((l) => /"level":"(error|fatal)"/.test(l))
          .slice(-2);
        problems.push(
          `the server process exited (it must ride out the database): ${inst.stderr().slice(-600)} ${last.join(' ').slice(0, 1500)}`,
        );
        await inst.start(); // so the next rounds and the invariants can still be checked
      } else if (!(await recovered(inst))) problems.push('the server did not recover by itself');
      problems.push(...(await invariants(inst, secrets, datasets)));
      log(
        `round ${round + 1}/${opts.rounds} (${fault}): ${got.length} answers; ${problems.length === 0 ? 'ok' : problems.join('; ')}`,
      );
      if (problems.length === 0) passed++;
      else findings.push(...problems.map((p) => `round ${round + 1} (${fault}): ${p}`));
    }
    return { tried: opts.rounds, passed, failed: opts.rounds - passed, answers, unavailable, inDoubt, findings };
  } finally {
    await inst.close();
    await proxy.stop();
    cluster?.stop();
  }
}

/** Successful secret write events per secret path (every page of the audit search). */
async function successfulWrites(inst: Instance): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor = '';
  for (;;) {
    const a = await inst.req(
      `${W}/audit/events?action=vault.secret.&outcome=success&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      { as: 'owner' },
    );
    if (a.status !== 200) throw new Error(`audit search: ${a.status} ${a.body.slice(0, 200)}`);
    const page = a.json<{ events: { action: string; resource: { id?: string } }[]; nextCursor: string | null }>();
    for (const e of page.events)
      if (e.action === 'vault.secret.update' || e.action === 'vault.secret.create')
        out.set(String(e.resource.id), (out.get(String(e.resource.id)) ?? 0) + 1);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

async function invariants(
  inst: Instance,
  secrets: Map<string, SecretKnowledge>,
  datasets: Map<string, { sent: Set<string>; acked: Set<number> }>,
): Promise<string[]> {
  const problems: string[] = [];
  const verify = await inst.req('/api/v1/audit/verify', { as: 'operator' });
  if (verify.status !== 200 || verify.json<{ ok: boolean }>().ok !== true)
    problems.push(`audit verify: ${verify.status} ${verify.body.slice(0, 300)}`);
  const versions = new Map<string, number>();
  const down = await inst.req(`${W}/secrets/data/dbf/down`);
  if (down.status !== 404) problems.push(`a write answered 503 while the database was down exists (${down.status})`);
  for (const [p, m] of secrets) {
    const meta = await inst.req(`${W}/secrets/data/${p}`);
    if (meta.status === 404 && m.acked.size === 0) continue;
    const current = meta.json<{ currentVersion: number }>().currentVersion;
    for (const [v, want] of m.acked) {
      const a = await inst.req(`${W}/secrets/reveal/${p}?version=${v}`, { method: 'POST' });
      if (a.status === 200 && a.json<{ value: { password: string } }>().value.password === want) continue;
      // Pruned by a later write the client never heard back from: one answered "outcome
      // unknown" that did commit (the version limit then removed this one).
      if (a.status === 404 && current >= v + MAX_VERSIONS && m.inDoubt > 0) {
        m.acked.delete(v);
        continue;
      }
      problems.push(
        `secret ${p} v${v}: acknowledged value lost, current version ${current} (${a.status} ${a.body.slice(0, 300)})`,
      );
    }
    const cur = await inst.req(`${W}/secrets/reveal/${p}`, { method: 'POST' });
    const value = cur.status === 200 ? cur.json<{ value: { password: string } }>().value.password : undefined;
    if (value === undefined || !m.sent.has(value))
      problems.push(`secret ${p}: current value is not one that was written`);
    else if (m.refused.has(value)) problems.push(`secret ${p}: the current value's write was answered "not performed"`);
    versions.set(p, current);
  }
  // Fail-closed audit: each version exists only with its successful write event. The audit
  // search chains what is pending before it reads, so the count is taken at once (no waiting).
  const written = await successfulWrites(inst);
  const short = [...versions].filter(([p, n]) => (written.get(p) ?? 0) < n);
  for (const [p, current] of short)
    problems.push(`secret ${p}: ${current} versions but ${written.get(p) ?? 0} successful write events`);
  for (const [name, m] of datasets) {
    const ds = await inst.req(`${W}/datasets/${name}`);
    if (ds.status === 404 && m.acked.size === 0) continue;
    const listed = ds.json<{ versions: { version: number; sha256: string }[] }>().versions;
    for (const v of m.acked)
      if (!listed.some((x) => x.version === v)) problems.push(`dataset ${name} v${v}: acknowledged version lost`);
    for (const v of listed) {
      const a = await inst.req(`${W}/datasets/${name}/versions/${v.version}/content`);
      if (a.status !== 200 || sha(a.raw) !== v.sha256 || !m.sent.has(v.sha256))
        problems.push(`dataset ${name} v${v.version}: listed but not whole (${a.status})`);
    }
  }
  return problems;
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const seed = flag(argv, '--seed', Math.floor(Math.random() * 2 ** 31));
  const rounds = flag(argv, '--rounds', argv.includes('--long') ? 15 : 3);
  console.log(`reliability-db-faults: seed=${seed} rounds=${rounds}`);
  const t0 = Date.now();
  const res = await runDbFaults({ rounds, seed, shared: argv.includes('--shared') });
  for (const f of res.findings) console.log(`finding: ${f}`);
  console.log(`seconds=${((Date.now() - t0) / 1000).toFixed(1)}`);
  console.log(
    summary('db-faults', {
      tried: res.tried,
      passed: res.passed,
      failed: res.failed,
      answers: res.answers,
      unavailable: res.unavailable,
      in_doubt: res.inDoubt,
      seed,
    }),
  );
  process.exit(res.failed === 0 ? 0 : 1);
}
