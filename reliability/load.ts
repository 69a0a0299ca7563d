/**
 * `npm run reliability -- load [--seconds N] [--concurrency C] [--seed S]`: a mixed workload
 * against the real server (`strongroom serve`, PGlite, a separate process) at a fixed concurrency:
 * secret reveals and writes, dataset list, download and upload, audit search, a query, sign-in and
 * `auth/me`, drawn from a seeded generator. Reports the throughput, p50/p99 per operation, the
 * error counts and the server's resident memory (sampled from /proc every second: the median of
 * the first fifth of the run against the last fifth).
 *
 * A run fails on any 5xx, any request without an answer, or any 4xx other than a rate limit
 * (429, counted apart). Memory is judged only on runs of 60 s or more: the last fifth's median
 * RSS may not exceed the first fifth's by more than half.
 *
 * Ends with `reliability-load: tried=… passed=… failed=… err5xx=… throttled=… rps=… p99_ms=…
 * rss_first_mb=… rss_last_mb=… seconds=… seed=…`.
 */
import { readFileSync } from 'node:fs';
import { createInstance, flag, isMain, rng, summary, type Answer, type Instance } from './lib/instance.ts';

const W = '/api/v1/workspaces/default';
/**
 * Uploads go on kept-alive connections like every other request (an upload sent while the
 * connection's previous answer was still being flushed used to be reset: fixed, see
 * src/server/plugins/connection-reads.ts); `--fresh-uploads` sends each on a new connection.
 */
const FRESH_UPLOADS = process.argv.includes('--fresh-uploads');

/** `i`: the request's sequence number; `w`: the worker (one upload per data set at a time is the product's rule). */
type Op = { name: string; weight: number; run: (inst: Instance, i: number, w: number) => Promise<Answer> };

const OPS: Op[] = [
  { name: 'secret.reveal', weight: 25, run: (x, i) => x.req(`${W}/secrets/reveal/load/s${i % 8}`, { method: 'POST' }) },
  {
    name: 'secret.write',
    weight: 12,
    run: (x, i) =>
      x.json('PUT', `${W}/secrets/data/load/s${i % 8}`, { type: 'password', value: { password: `v${i}` } }),
  },
  { name: 'dataset.list', weight: 10, run: (x) => x.req(`${W}/datasets`) },
  { name: 'dataset.download', weight: 15, run: (x) => x.req(`${W}/datasets/loaddata/versions/1/content`) },
  {
    name: 'dataset.upload',
    weight: 5,
    run: (x, i, w) =>
      x.req(`${W}/datasets/load-up-${w}/versions?filename=u.csv`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.alloc(64 * 1024, `a,b\n${i},${i}\n`),
        fresh: FRESH_UPLOADS,
      }),
  },
  { name: 'audit.search', weight: 10, run: (x) => x.req(`${W}/audit/events?limit=50&order=desc`) },
  {
    name: 'query',
    weight: 10,
    run: (x) => x.json('POST', `${W}/query`, { sql: 'SELECT count(*) AS n FROM loaddata' }),
  },
  {
    name: 'auth.login',
    weight: 3,
    run: (x) =>
      x.json(
        'POST',
        '/api/v1/auth/login',
        { email: 'owner@reliability.test', password: 'correct horse battery staple 42' },
        'none',
      ),
  },
  { name: 'auth.me', weight: 10, run: (x) => x.req('/api/v1/auth/me') },
];

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const median = (xs: number[]) => pct(xs, 50);

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

export async function runLoad(opts: { seconds: number; concurrency: number; seed: number; log?: (l: string) => void }) {
  const log = opts.log ?? ((l: string) => console.log(l));
  const r = rng(opts.seed);
  const inst = await createInstance();
  try {
    await inst.start();
    const up = await inst.req(`${W}/datasets/loaddata/versions?filename=l.csv`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: Array.from({ length: 2000 }, (_, i) => `${i},name${i},${i * 3}`)
        .join('\n')
        .replace(/^/, 'id,name,n\n'),
    });
    if (up.status !== 201) throw new Error(`setup upload: ${up.status} ${up.body}`);
    for (let s = 0; s < 8; s++)
      await inst.json('PUT', `${W}/secrets/data/load/s${s}`, { type: 'password', value: { password: `v${s}` } });

    const pid = inst.serve().child.pid!;
    const total = OPS.reduce((a, o) => a + o.weight, 0);
    const pick = () => {
      let x = r.next() * total;
      for (const o of OPS) if ((x -= o.weight) < 0) return o;
      return OPS[0]!;
    };
    const lat = new Map<string, number[]>(OPS.map((o) => [o.name, []]));
    const errors: string[] = [];
    let tried = 0;
    let ok = 0;
    let err5xx = 0;
    let throttled = 0;
    const throttledBy = new Map<string, number>();
    const rss: number[] = [];
    const sampler = setInterval(() => rss.push(rssMb(pid)), 1000);
    rss.push(rssMb(pid));
    const t0 = Date.now();
    const end = t0 + opts.seconds * 1000;
    let seq = 0;
    await Promise.all(
      Array.from({ length: opts.concurrency }, async (_, w) => {
        while (Date.now() < end) {
          const op = pick();
          const i = seq++;
          const start = performance.now();
          tried++;
          try {
            const a = await op.run(inst, i, w);
            lat.get(op.name)!.push(performance.now() - start);
            if (a.status < 400) ok++;
            else if (a.status === 429) {
              throttled++;
              throttledBy.set(op.name, (throttledBy.get(op.name) ?? 0) + 1);
            } else {
              if (a.status >= 500) err5xx++;
              if (errors.length < 20) errors.push(`${op.name}: ${a.status} ${a.body.slice(0, 200)}`);
            }
          } catch (e) {
            if (errors.length < 20) errors.push(`${op.name}: no answer (${(e as Error).message})`);
          }
        }
      }),
    );
    clearInterval(sampler);
    rss.push(rssMb(pid));
    const seconds = (Date.now() - t0) / 1000;
    const fifth = Math.max(1, Math.floor(rss.length / 5));
    const rssFirst = median(rss.slice(0, fifth));
    const rssLast = median(rss.slice(-fifth));
    for (const o of OPS) {
      const xs = lat.get(o.name)!;
      log(
        `${o.name.padEnd(18)} n=${String(xs.length).padStart(6)} p50=${pct(xs, 50).toFixed(1)} ms p99=${pct(xs, 99).toFixed(1)} ms`,
      );
    }
    const all = [...lat.values()].flat();
    for (const e of errors) log(`error: ${e}`);
    for (const l of inst
      .logs()
      .filter((x) => /"level":"(error|fatal|warn)"/.test(x))
      .slice(0, 5))
      log(`server: ${l.slice(0, 600)}`);
    if (throttled > 0) log(`rate limited (429): ${[...throttledBy].map(([k, v]) => `${k}=${v}`).join(' ')}`);
    const memoryGrew = opts.seconds >= 60 && rssLast > rssFirst * 1.5;
    if (memoryGrew) errors.push(`resident memory grew from ${rssFirst.toFixed(0)} MB to ${rssLast.toFixed(0)} MB`);
    const failed = tried - ok - throttled + (memoryGrew ? 1 : 0);
    return {
      tried,
      passed: ok + throttled,
      failed,
      err5xx,
      throttled,
      rps: tried / seconds,
      p50: pct(all, 50),
      p99: pct(all, 99),
      rssFirst,
      rssLast,
      seconds,
      findings: errors,
    };
  } finally {
    await inst.close();
  }
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const seed = flag(argv, '--seed', Math.floor(Math.random() * 2 ** 31));
  const seconds = flag(argv, '--seconds', argv.includes('--long') ? 300 : 60);
  const concurrency = flag(argv, '--concurrency', 16);
  console.log(`reliability-load: seed=${seed} seconds=${seconds} concurrency=${concurrency}`);
  const res = await runLoad({ seconds, concurrency, seed });
  console.log(
    summary('load', {
      tried: res.tried,
      passed: res.passed,
      failed: res.failed,
      err5xx: res.err5xx,
      throttled: res.throttled,
      rps: res.rps.toFixed(1),
      p50_ms: res.p50.toFixed(1),
      p99_ms: res.p99.toFixed(1),
      rss_first_mb: res.rssFirst.toFixed(0),
      rss_last_mb: res.rssLast.toFixed(0),
      seconds: res.seconds.toFixed(0),
      seed,
    }),
  );
  process.exit(res.failed === 0 ? 0 : 1);
}
