/**
 * Authorization cost, in one run:
 *
 * 1. Cedar decisions per second with the real built-in policy set (+ one workspace with custom
 *    policies), through `AccessControl.authorize` — the whole decision: actor → entities, the
 *    pre-parsed `statefulIsAuthorized` call, the answer → Decision. Mixes:
 *      operator   the operator token on keys/audit actions (route level)
 *      analyst    analyst reading a dataset in its workspace (route level, permit)
 *      pii        analyst reading a pii-tagged dataset without clearance (ABAC forbid)
 *      matrix     every role × every schema action, round-robin (the realistic spread)
 *      custom     the matrix in a workspace that has 3 custom policies
 *    Each figure is the median of several short rounds, mixes interleaved.
 * 2. In-process overhead: the same calls through a no-op authorizer (returns "allowed"), so
 *    `authorize()` costs 1/decisions_per_s − 1/noop_per_s per call.
 * 3. Over HTTPS with the real app (test/helpers/app.ts, PGlite): a trivial public route vs the
 *    same trivial route declared with an operator action and called with the operator token —
 *    i.e. authenticate + authorize in the auth plugin's onRequest hook. Keep-alive HTTPS/1.1
 *    connections from a worker thread (the server keeps the main thread), rounds alternated.
 *
 * overhead_ratio = (HTTPS req/s of the public route) / (HTTPS req/s of the authorized route):
 * how many times longer an authorized request takes than the same request with no auth at all
 * (1.00 = free). When the HTTPS part cannot run (`--no-http`), it is the in-process ratio
 * noop_per_s / decisions_per_s instead, and the output says so.
 *
 * Usage: npm run bench -- authz [rounds=7] [roundMs=300] [httpSeconds=2] [httpRounds=5] [--no-http]
 * Last line: authz: decisions_per_s=<matrix> overhead_ratio=<https ratio>
 */
import { Worker } from 'node:worker_threads';
import type { Actor } from '../src/core/actor.ts';
import {
  createAccessControl,
  type AccessControl,
  type Decision,
  type ResourceRef,
} from '../src/modules/access/index.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const noHttp = process.argv.includes('--no-http');
const rounds = Number(args[0] ?? 7);
const roundMs = Number(args[1] ?? 300);
const httpSeconds = Number(args[2] ?? 2);
const httpRounds = Number(args[3] ?? 5);

const ROLES = ['owner', 'admin', 'steward', 'engineer', 'analyst', 'viewer', 'auditor'];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

type Call = [Actor, string, ResourceRef | undefined];
const OPERATOR: Actor = {
  id: 'operator',
  kind: 'operator',
  authMethod: 'operator-token',
  roles: ['operator'],
  attributes: {},
};
const user = (
  role: string,
  workspaceId = 'A',
  attributes: Actor['attributes'] = { mfa: true, clearance: 1, region: 'eu' },
): Actor => ({
  id: `u-${role}`,
  kind: 'user',
  authMethod: 'password+totp',
  workspace: workspaceId,
  roles: [role],
  attributes,
});

const t0 = performance.now();
const ac = createAccessControl({
  workspacePolicies: {
    C: [
      {
        id: 'reveal',
        text: 'permit (principal, action == Action::"vault.secret.reveal", resource) when { principal.roles.contains("engineer") };',
      },
      {
        id: 'no-export',
        text: 'forbid (principal, action == Action::"dataset.data.export", resource) unless { principal.roles.contains("owner") };',
      },
      {
        id: 'dept',
        text: 'permit (principal, action == Action::"dataset.version.read", resource) when { principal.department == "finance" };',
      },
    ],
  },
});
const startupMs = performance.now() - t0;

const mixes: Record<string, Call[]> = {
  operator: [
    'keys.keyring.read',
    'keys.keyring.rotate',
    'audit.event.list',
    'audit.trail.verify',
    'operator.keyring.seal',
  ].map((a) => [OPERATOR, a, undefined]),
  analyst: [[user('analyst'), 'dataset.version.read', undefined]],
  pii: [
    [user('analyst'), 'dataset.version.read', { type: 'dataset', id: 'd1', workspace: 'A', tags: ['pii', 'finance'] }],
  ],
  matrix: ROLES.flatMap((r) => ac.actions.map((a): Call => [user(r), a, undefined])),
  custom: ROLES.flatMap((r) => ac.actions.map((a): Call => [user(r, 'C'), a, undefined])),
};
const noop = (_a: Actor, _b: string, _c?: ResourceRef): Decision => ({ allowed: true, reason: 'noop', policies: [] });

let sink = 0;
function runMix(fn: AccessControl['authorize'], calls: Call[], ms: number): number {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 50; i++) {
      const c = calls[(n + i) % calls.length]!;
      if (fn(c[0], c[1], c[2]).allowed) sink++;
    }
    n += 50;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

// Correctness first: the mixes decide what they should.
if (!ac.authorize(OPERATOR, 'keys.keyring.rotate').allowed) throw new Error('operator denied');
if (ac.authorize(...mixes.pii![0]!).allowed) throw new Error('pii rule not applied');
if (!ac.authorize(...mixes.analyst![0]!).allowed) throw new Error('analyst denied');

const names = [...Object.keys(mixes), 'noop'];
const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (const name of names)
  runMix(name === 'noop' ? noop : ac.authorize, name === 'noop' ? mixes.matrix! : mixes[name]!, 100); // warm-up
const before = ac.stats().preparses;
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + r) % names.length]!;
    samples[name]!.push(
      runMix(name === 'noop' ? noop : ac.authorize, name === 'noop' ? mixes.matrix! : mixes[name]!, roundMs),
    );
  }
}
if (ac.stats().preparses !== before) throw new Error('a decision re-parsed policies');
const perS = Object.fromEntries(names.map((n) => [n, median(samples[n]!)])) as Record<string, number>;

console.log(
  `authz: Cedar ${ac.builtinPolicyIds.length} built-in policies, ${ac.actions.length} actions, node ${process.version}; access control created in ${startupMs.toFixed(0)} ms`,
);
console.log(`${rounds} rounds × ${roundMs} ms per mix, medians`);
console.log('');
console.log('| mix | decisions/s | µs/decision |');
console.log('|---|---:|---:|');
for (const n of names) console.log(`| ${n} | ${fmt(perS[n]!)} | ${(1e6 / perS[n]!).toFixed(2)} |`);
console.log('');
const decisions = perS.matrix!;
const inProcessRatio = perS.noop! / decisions;
console.log(
  `in process: authorize() costs ${(1e6 / decisions - 1e6 / perS.noop!).toFixed(1)} µs per call over a no-op authorizer`,
);

/** HTTPS load from a worker thread: `conns` keep-alive connections for `seconds`; returns req/s. */
function load(
  url: string,
  ca: string,
  headers: Record<string, string>,
  seconds: number,
  conns: number,
): Promise<number> {
  const code = `
    const { parentPort, workerData: w } = require('node:worker_threads');
    const https = require('node:https');
    const agent = new https.Agent({ keepAlive: true, maxSockets: w.conns, ca: w.ca, servername: 'localhost' });
    let done = 0, errors = 0; const end = Date.now() + w.seconds * 1000; let live = w.conns;
    function one() {
      if (Date.now() >= end) { if (--live === 0) { agent.destroy(); parentPort.postMessage({ done, errors }); } return; }
      const req = https.request(w.url, { agent, headers: w.headers, servername: 'localhost' }, (res) => {
        if (res.statusCode !== 200) errors++;
        res.resume(); res.on('end', () => { done++; one(); });
      });
      req.on('error', () => { errors++; one(); }); req.end();
    }
    for (let i = 0; i < w.conns; i++) one();`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { url, ca, headers, seconds, conns } });
    worker.once('message', (m: { done: number; errors: number }) => {
      void worker.terminate();
      if (m.errors > 0) reject(new Error(`${m.errors} failed requests to ${url}`));
      else resolve(m.done / seconds);
    });
    worker.once('error', reject);
  });
}

let overheadRatio = inProcessRatio;
let overheadNote = 'in-process noop_per_s / decisions_per_s (HTTPS part skipped)';
if (!noHttp) {
  try {
    const { startTestApp } = await import('../test/helpers/app.ts');
    const app = await startTestApp('pglite', {
      extraRoutes: (scope) => {
        scope.get('/bench/public', { config: { access: { public: 'benchmark baseline' } } }, async () => ({
          ok: true,
        }));
        // Same handler; authorized as the operator's `keys.keyring.read` (read-only, never audited on success).
        scope.get(
          '/bench/authz',
          { config: { access: { action: 'keys.keyring.read', audit: 'keys.keyring.read' } } },
          async () => ({ ok: true }),
        );
      },
    });
    try {
      const auth = { authorization: `Bearer ${app.operatorToken}` };
      const conns = 16;
      await load(`${app.base}/bench/public`, app.ca, {}, 0.5, conns); // warm-up: TLS sessions, JIT
      await load(`${app.base}/bench/authz`, app.ca, auth, 0.5, conns);
      const pub: number[] = [];
      const authz: number[] = [];
      for (let r = 0; r < httpRounds; r++) {
        pub.push(await load(`${app.base}/bench/public`, app.ca, {}, httpSeconds, conns));
        authz.push(await load(`${app.base}/bench/authz`, app.ca, auth, httpSeconds, conns));
      }
      const p = median(pub);
      const a = median(authz);
      overheadRatio = p / a;
      overheadNote = 'HTTPS public req/s / operator-authorized req/s';
      console.log('');
      console.log(
        `HTTPS (keep-alive, ${conns} connections, ${httpRounds} alternated rounds × ${httpSeconds} s, medians): public ${fmt(p)} req/s, authorized ${fmt(a)} req/s, ${(1e6 / a - 1e6 / p).toFixed(0)} µs more per request`,
      );
    } finally {
      await app.close();
    }
  } catch (err) {
    console.log(`HTTPS part failed (${(err as Error).message}); falling back to the in-process ratio`);
  }
}
if (sink === -1) console.log('');

console.log(`overhead_ratio = ${overheadNote}; in-process ratio ${inProcessRatio.toFixed(1)}`);
console.log(`authz: decisions_per_s=${Math.round(decisions)} overhead_ratio=${overheadRatio.toFixed(2)}`);
