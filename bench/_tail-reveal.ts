/**
 * Profiling aid (not a benchmark; `_` keeps it out of `npm run bench`): where the reveal's latency
 * tail comes from. The same load as `secret-read` (keep-alive HTTPS/1.1 from a worker thread in
 * this process, `conns` connections), rounds alternated with a bare Fastify hello-world on the
 * same server thread, and during the reveal rounds:
 *
 * - each request's client latency and its time inside the server (the HTTPS server's `request`
 *   event to the response's `finish`, matched by a request number header): what is left is
 *   queueing before the server reads the request and after it writes the answer (socket, TLS,
 *   the loop, the client);
 * - the server thread's event-loop delay (`monitorEventLoopDelay`, 1 ms resolution) and every
 *   stall over 5 ms (a 1 ms timer that came late), with the GC pauses that overlap it;
 * - GC pauses (`PerformanceObserver` 'gc') of the server thread and of the client worker;
 * - with `--postgres`: the wait for a pool connection and each statement's round trip by kind;
 *   with PGlite: each statement's time on the thread (PGlite runs synchronously on it).
 *
 * Usage: node --import tsx bench/_tail-reveal.ts [seconds=3] [rounds=3] [conns=32] [--postgres]
 */
import { monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Worker } from 'node:worker_threads';
import { startBareHello } from './_bare-hello.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const seconds = Number(args[0] ?? 3);
const rounds = Number(args[1] ?? 3);
const conns = Number(args[2] ?? 32);
const backend = process.argv.includes('--postgres') ? 'postgres' : 'pglite';

const pct = (xs: ArrayLike<number>, q: number) => {
  // Requests whose server time was not seen (none expected) are left out rather than sorted last.
  const s = Float64Array.from(xs)
    .filter((x) => Number.isFinite(x))
    .sort();
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const dist = (xs: ArrayLike<number>) =>
  `n ${xs.length}, p50 ${f1(pct(xs, 0.5))}, p90 ${f1(pct(xs, 0.9))}, p99 ${f1(pct(xs, 0.99))}, max ${f1(pct(xs, 1))} ms`;

interface Load {
  done: number;
  /** [epoch ms at start, latency ms, request number] per completed request. */
  reqs: Float64Array;
  gc: number[];
}
let bases = 0;
function load(url: string, ca: string, method: string, headers: Record<string, string>, secs: number): Promise<Load> {
  const code = `
    const { parentPort, workerData: w } = require('node:worker_threads');
    const https = require('node:https');
    const { PerformanceObserver } = require('node:perf_hooks');
    const gc = []; const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) gc.push(e.duration); });
    obs.observe({ entryTypes: ['gc'] });
    const agent = new https.Agent({ keepAlive: true, maxSockets: w.conns, ca: w.ca, servername: 'localhost' });
    let done = 0, n = 0; const out = []; const end = Date.now() + w.secs * 1000; let live = w.conns;
    const t0rigin = performance.timeOrigin;
    function one() {
      if (Date.now() >= end) { if (--live === 0) { agent.destroy(); obs.disconnect(); parentPort.postMessage({ done, gc, reqs: Float64Array.from(out) }); } return; }
      const id = w.base + ++n; const t0 = performance.now();
      const req = https.request(w.url, { method: w.method, agent, headers: { ...w.headers, 'x-bench-n': String(id) }, servername: 'localhost' }, (res) => {
        res.resume();
        res.on('end', () => { if (res.statusCode !== 200) throw new Error('status ' + res.statusCode); done++; out.push(t0rigin + t0, performance.now() - t0, id); one(); });
      });
      req.on('error', (e) => { throw e; }); req.end();
    }
    for (let i = 0; i < w.conns; i++) one();`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, {
      eval: true,
      workerData: { url, ca, method, headers, secs, conns, base: (bases += 1e7) },
    });
    worker.once('message', (m: Load) => {
      void worker.terminate();
      resolve(m);
    });
    worker.once('error', reject);
  });
}

const { startTestApp } = await import('../test/helpers/app.ts');
const { ownerSession, jsonBody } = await import('../test/helpers/identity.ts');
const app = await startTestApp(backend, { env: { STRONGROOM_LOG_LEVEL: 'warn' } });
const { bare, bareUrl } = await startBareHello(app);

// --- probes, active only while `on` ---
let on = false;
const now = () => performance.timeOrigin + performance.now();
/** Server time per request number. */
const serverMs = new Map<number, number>();
/** Per request number: ms since its request event at which each phase mark was reached (first time). */
const marks = new Map<number, Record<string, number>>();
const als = new AsyncLocalStorage<{ n: number; t: number }>();
const mark = (what: string) => {
  const r = on ? als.getStore() : undefined;
  if (!r) return;
  let m = marks.get(r.n);
  if (!m) marks.set(r.n, (m = {}));
  m[what] ??= performance.now() - r.t;
};
app.server.app.fastify.server.prependListener(
  'request',
  (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    if (!on) return;
    const n = Number(req.headers['x-bench-n']);
    const t = performance.now();
    als.enterWith({ n, t }); // Fastify's own listener runs next, in this context
    res.once('finish', () => serverMs.set(n, performance.now() - t));
  },
);
// The reveal's event: handed to group commit, committed.
const auditModule = app.server.audit as unknown as { recordCommitted: (i: unknown) => Promise<void> };
const recordCommitted = auditModule.recordCommitted.bind(auditModule);
auditModule.recordCommitted = async (i: unknown) => {
  mark('audit event handed to group commit');
  await recordCommitted(i);
  mark('audit event committed');
};
const gcMain: { start: number; ms: number; kind: number }[] = [];
new PerformanceObserver((l) => {
  if (!on) return;
  for (const e of l.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[])
    gcMain.push({ start: performance.timeOrigin + e.startTime, ms: e.duration, kind: e.detail?.kind ?? 0 });
}).observe({ entryTypes: ['gc'] });
const eld = monitorEventLoopDelay({ resolution: 1 });
/** Stalls: a 1 ms timer that fired more than 5 ms late, [epoch end, ms late]. */
const stalls: [number, number][] = [];
let last = performance.now();
setInterval(() => {
  const t = performance.now();
  if (on && t - last > 6) stalls.push([now(), t - last - 1]);
  last = t;
}, 1).unref();
const poolWait: number[] = [];
const stmt = new Map<string, number[]>();
/** Background transactions (begin → commit outside any request: the chainer, checkpoints): [start, ms]. */
const holds: [number, number][] = [];
let openedAt: number | undefined;
const background = (k: string, t0: number, t1: number) => {
  if (!on || als.getStore() !== undefined) return;
  if (k.endsWith('begin')) openedAt = t0;
  else if (k.endsWith('commit') && openedAt !== undefined) {
    holds.push([openedAt, t1 - openedAt]);
    openedAt = undefined;
  }
};
const note = (k: string, ms: number) => {
  if (!on) return;
  let a = stmt.get(k);
  if (!a) stmt.set(k, (a = []));
  a.push(ms);
};
const kindOf = (text: string) => {
  const t = text.replace(/\s+/g, ' ').toLowerCase();
  if (t.includes('audit_head') && t.includes('for update')) return 'chainer/checkpoint: lock head';
  if (t.startsWith('delete from "audit_pending"') || t.includes('delete from audit_pending'))
    return 'chainer: take pending';
  if (t.includes('insert into "audit_events"') || t.includes('insert into audit_events'))
    return 'chainer: insert events';
  if (t.includes('audit_pending') && t.includes('insert')) return 'group commit: insert pending';
  if (t.includes('update') && t.includes('sessions')) return 'session slide (update)';
  if (t.includes('session')) return 'session lookup';
  if (t.includes('secret')) return 'secret read';
  return t.slice(0, 40);
};
/** PGlite: statement names to kinds, read once the statements are prepared (after the warm-up). */
let nameKinds: (() => Promise<void>) | undefined;
if (app.server.database.pglite) {
  const c = app.server.database.pglite as unknown as {
    execProtocolStream: (m: Uint8Array, o: unknown) => unknown;
    query: (...a: unknown[]) => Promise<unknown>;
  };
  const names = new Map<string, string>();
  const stream = c.execProtocolStream.bind(c);
  c.execProtocolStream = (m: Uint8Array, o: unknown) => {
    const t = performance.now();
    const r = stream(m, o);
    let k = 'protocol call';
    if (m[0] === 66 && m[5] === 0) {
      const name = Buffer.from(m.subarray(6, m.indexOf(0, 6))).toString();
      k = names.get(name) ?? `named ${name}`;
    }
    mark(`${k} start`);
    note(`[sync] ${k}`, performance.now() - t);
    background(k, t, performance.now());
    mark(`${k} end`);
    return r;
  };
  const q = c.query.bind(c);
  c.query = async (...a: unknown[]) => {
    const t = performance.now();
    mark(`[query] ${kindOf(String(a[0]))} asked`);
    try {
      return await q(...a);
    } finally {
      mark(`[query] ${kindOf(String(a[0]))} done`);
      note(`[query] ${kindOf(String(a[0]))}`, performance.now() - t);
    }
  };
  // Name → kind, once statements are prepared (after the warm-up).
  nameKinds = async () => {
    const { rows } = (await q('select name, statement from pg_prepared_statements')) as {
      rows: { name: string; statement: string }[];
    };
    for (const r of rows) names.set(r.name, kindOf(r.statement));
  };
} else {
  const pg = (await import('pg')).default;
  const pool = pg.Pool.prototype as unknown as { connect: (...a: unknown[]) => unknown };
  const connect = pool.connect;
  pool.connect = function (this: unknown, ...a: unknown[]) {
    if (a.length > 0) return connect.apply(this, a);
    const t = performance.now();
    const r = als.getStore();
    mark('pool asked');
    return (connect.apply(this, a) as Promise<unknown>).then((c) => {
      if (r) als.run(r, () => mark('pool got'));
      if (on) poolWait.push(performance.now() - t);
      return c;
    });
  };
  const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const query = proto.query;
  proto.query = function (this: unknown, ...a: unknown[]) {
    const text = typeof a[0] === 'string' ? a[0] : String((a[0] as { text?: string })?.text);
    const t = performance.now();
    const k = kindOf(text);
    const st = als.getStore();
    mark(`${k} sent`);
    const r = query.apply(this, a);
    if (r && typeof (r as Promise<unknown>).then === 'function')
      (r as Promise<unknown>).then(
        () => {
          note(k, performance.now() - t);
          if (!st) background(k, t, performance.now());
          if (st) als.run(st, () => mark(`${k} done`));
        },
        () => undefined,
      );
    return r;
  };
}

try {
  const { session } = await ownerSession(app);
  const w = await session.req(
    '/api/v1/workspaces/default/secrets/data/bench/db',
    jsonBody({ type: 'password', value: { password: 'bench-secret-value' } }, 'PUT'),
  );
  if (w.status !== 201) throw new Error(`write failed: ${w.status}`);
  const revealUrl = `${app.base}/api/v1/workspaces/default/secrets/reveal/bench/db`;
  const headers = { cookie: session.cookie, 'x-csrf-token': session.csrf };
  await load(revealUrl, app.ca, 'POST', headers, 0.5);
  await load(bareUrl, app.ca, 'GET', {}, 0.5);
  await nameKinds?.();

  const hello: Load[] = [];
  const reveal: Load[] = [];
  let heldMs = 0;
  for (let r = 0; r < rounds; r++) {
    hello.push(await load(bareUrl, app.ca, 'GET', {}, seconds));
    on = true;
    eld.enable();
    const t = performance.now();
    reveal.push(await load(revealUrl, app.ca, 'POST', headers, seconds));
    heldMs += performance.now() - t;
    eld.disable();
    on = false;
  }
  const lat = (ls: Load[]) => ls.flatMap((l) => [...l.reqs].filter((_, i) => i % 3 === 1));
  console.log(`${backend}, ${conns} connections, ${rounds} alternated rounds × ${seconds} s`);
  const rate = (ls: Load[]) => Math.round(ls.reduce((s, l) => s + l.done, 0) / (ls.length * seconds));
  console.log(`hello client latency  (${rate(hello)} req/s): ${dist(lat(hello))}`);
  console.log(`reveal client latency (${rate(reveal)} req/s): ${dist(lat(reveal))}`);
  const inServer: number[] = [];
  const outside: number[] = [];
  const slow: { start: number; ms: number; server: number; n: number }[] = [];
  const all = reveal.flatMap((l) => {
    const o: { start: number; ms: number; server: number; n: number }[] = [];
    for (let i = 0; i < l.reqs.length; i += 3) {
      const s = serverMs.get(l.reqs[i + 2]!) ?? NaN;
      o.push({ start: l.reqs[i]!, ms: l.reqs[i + 1]!, server: s, n: l.reqs[i + 2]! });
    }
    return o;
  });
  const p99 = pct(
    all.map((x) => x.ms),
    0.99,
  );
  for (const x of all) {
    inServer.push(x.server);
    outside.push(x.ms - x.server);
    if (x.ms >= p99) slow.push(x);
  }
  console.log(`  time in the server (request event → finish): ${dist(inServer)}`);
  console.log(`  time outside it (client latency − server):   ${dist(outside)}`);
  console.log(
    `  the slowest 1 % (≥ ${f1(p99)} ms): server part ${dist(slow.map((x) => x.server))}; outside ${dist(slow.map((x) => x.ms - x.server))}`,
  );
  console.log(
    `event-loop delay (server thread, reveal rounds): p50 ${f1(eld.percentile(50) / 1e6)}, p99 ${f1(eld.percentile(99) / 1e6)}, max ${f1(eld.max / 1e6)} ms`,
  );
  const gcIn = (a: number, b: number) => gcMain.filter((g) => g.start < b && g.start + g.ms > a);
  const stallMs = stalls.reduce((s, x) => s + x[1], 0);
  const withGc = stalls.filter(([end, ms]) => gcIn(end - ms - 1, end).length > 0);
  console.log(
    `stalls > 5 ms: ${stalls.length} (${(stalls.length / (heldMs / 1000)).toFixed(1)}/s), ${f1(stallMs)} ms in all = ${((100 * stallMs) / heldMs).toFixed(1)} % of the time; ${dist(stalls.map((s) => s[1]))}; ${withGc.length} overlap a GC pause`,
  );
  const kinds = ['', 'scavenge', 'mark-compact', '', 'incremental', '', '', '', 'weak-cb'];
  const byKind = new Map<string, number[]>();
  for (const g of gcMain) {
    const k = kinds[g.kind] || String(g.kind);
    byKind.set(k, [...(byKind.get(k) ?? []), g.ms]);
  }
  for (const [k, v] of byKind)
    console.log(
      `  GC server thread ${k}: ${(v.length / (heldMs / 1000)).toFixed(1)}/s, ${f1(v.reduce((a, b) => a + b, 0))} ms in all, ${dist(v)}`,
    );
  const wgc = reveal.flatMap((l) => l.gc);
  console.log(`  GC client worker: ${dist(wgc)}, ${f1(wgc.reduce((a, b) => a + b, 0))} ms in all`);
  // Where the slow requests fall: share of the slowest 1 % whose interval contains a stall ≥ 10 ms.
  const bigStalls = stalls.filter((s) => s[1] >= 10);
  const hit = slow.filter((x) => bigStalls.some(([end, ms]) => end - ms < x.start + x.ms && end > x.start));
  console.log(`  the slowest 1 % that overlap a stall ≥ 10 ms: ${hit.length} of ${slow.length}`);
  // Phase marks: median over all requests vs over the slowest 1 %, ms since the request event.
  const phaseTable = (xs: { n: number }[]) => {
    const by = new Map<string, number[]>();
    for (const x of xs) for (const [k, v] of Object.entries(marks.get(x.n) ?? {})) by.set(k, [...(by.get(k) ?? []), v]);
    return by;
  };
  const allP = phaseTable(all);
  const slowP = phaseTable(slow);
  const order = [...allP].sort((a, b) => pct(a[1], 0.5) - pct(b[1], 0.5));
  console.log('phase marks, ms after the request event (median of all / median of the slowest 1 % / their count):');
  for (const [k, v] of order)
    console.log(
      `  ${k}: ${f1(pct(v, 0.5))} / ${f1(pct(slowP.get(k) ?? [], 0.5))} (${v.length} / ${slowP.get(k)?.length ?? 0})`,
    );
  console.log(
    `  finish: ${f1(pct(inServer, 0.5))} / ${f1(
      pct(
        slow.map((x) => x.server),
        0.5,
      ),
    )}`,
  );
  const did = (x: { n: number }, what: string) => Object.keys(marks.get(x.n) ?? {}).some((k) => k.includes(what));
  for (const what of ['session lookup', 'cidrs']) {
    const yes = all.filter((x) => did(x, what));
    console.log(
      `  requests that sent "${what}": ${yes.length} of ${all.length}, in the slowest 1 %: ${slow.filter((x) => did(x, what)).length}; their latency ${dist(yes.map((x) => x.ms))}`,
    );
  }
  console.log(
    `background transactions (chainer, checkpoint), begin → commit: ${(holds.length / (heldMs / 1000)).toFixed(1)}/s, ${dist(holds.map((h) => h[1]))}, ${((100 * holds.reduce((a, h) => a + h[1], 0)) / heldMs).toFixed(1)} % of the time`,
  );
  if (poolWait.length) console.log(`pool connection wait: ${dist(poolWait)}`);
  for (const [k, v] of [...stmt].sort((a, b) => b[1].length - a[1].length))
    console.log(`  ${k}: ${dist(v)}, ${f1(v.reduce((a, b) => a + b, 0))} ms in all`);
} finally {
  await bare.close();
  await app.close();
}
