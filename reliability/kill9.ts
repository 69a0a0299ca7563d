/**
 * `npm run reliability -- kill9 [--rounds N] [--seed S]`: the real server (`strongroom serve`,
 * PGlite on disk) is killed with SIGKILL while every kind of durable write is in flight at once —
 * streamed dataset uploads, a resumable upload's completion, secret writes, data policy saves, key
 * rotation with its rewrap, root-key rotation and a backup — at a seeded point of each round, then
 * started again on the same data directory. After each restart:
 *
 * - `audit verify` passes (the chain is whole; an action answered before the kill is recorded);
 * - every write answered 2xx before the kill is present with its exact content (secrets revealed
 *   byte for byte, dataset versions downloaded and hashed);
 * - nothing partial is visible: every listed dataset version downloads whole and is one of the
 *   bodies sent; every secret's current value is one that was written; the policy in force is the
 *   newest in its history and the history has no gap;
 * - an interrupted resumable upload completes afterwards; a backup that reports `complete`
 *   verifies; the key ring is unsealed and a rewrap can run (and finishes);
 * - no answer before the kill was a 5xx other than 503.
 *
 * Then, once, the crypto-shredding phase (reliability/kill9-shred.ts): SIGKILL while a workspace
 * key's destruction is confirmed, and during `strongroom backup restore`; each is done or not
 * done, never half. It counts as one more try (`tried` = rounds + 1); `--no-shred` leaves it out,
 * `--rounds 0` runs it alone (the CI budget runs the two apart).
 *
 * Ends with `reliability-kill9: tried=<rounds> passed=… failed=… checks=… seed=…`.
 */
import { createHash } from 'node:crypto';
import { shredAndRestore } from './kill9-shred.ts';
import { createInstance, flag, isMain, rng, summary, type Answer, type Instance } from './lib/instance.ts';

const W = '/api/v1/workspaces/default';
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface Model {
  /** secret path → every value written (any may be current) and the acknowledged version → value. */
  secrets: Map<string, { sent: Set<string>; acked: Map<number, string> }>;
  /** dataset → sha256 of every body sent, and acknowledged version → sha256. */
  datasets: Map<string, { sent: Set<string>; acked: Map<number, string> }>;
  /** resumable uploads left open by a kill: id → sha256 of the whole body. */
  pendingUploads: { dataset: string; id: string; sha: string }[];
  policyAcked: number;
}

export interface Kill9Result {
  tried: number;
  passed: number;
  failed: number;
  checks: number;
  seed: number;
  findings: string[];
}

export async function runKill9(opts: {
  rounds: number;
  seed: number;
  /** Run the crypto-shredding phase after the rounds (default true). */
  shred?: boolean;
  log?: (l: string) => void;
}): Promise<Kill9Result> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const r = rng(opts.seed);
  const inst = await createInstance();
  const model: Model = { secrets: new Map(), datasets: new Map(), pendingUploads: [], policyAcked: 0 };
  let checks = 0;
  let passed = 0;
  const findings: string[] = [];
  try {
    await inst.start();
    // A data set the policy targets, the policy, and a backup target on the default local drive.
    const people = await inst.req(`${W}/datasets/people/versions?filename=p.csv`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'id,ssn\n1,SSN-KILL9-1\n',
    });
    if (people.status !== 201) throw new Error(`setup upload: ${people.status} ${people.body}`);
    const target = await inst.json(
      'POST',
      '/api/v1/backups/targets',
      { name: 'local', workspace: 'default', drive: 'default', prefix: 'backups' },
      'operator',
    );
    if (target.status >= 300) throw new Error(`setup backup target: ${target.status} ${target.body}`);

    for (let round = 0; round < opts.rounds; round++) {
      const problems: string[] = [];
      const answers: { what: string; a: Answer | Error }[] = [];
      const track = (what: string, p: Promise<Answer>) =>
        p.then(
          (a) => (answers.push({ what, a }), a),
          (e: Error) => (answers.push({ what, a: e }), undefined),
        );
      const inflight: Promise<unknown>[] = [];

      // Secret writes: several paths, several versions each.
      for (let s = 0; s < 4; s++) {
        const p = `kill9/s${s}`;
        const m = model.secrets.get(p) ?? { sent: new Set<string>(), acked: new Map<number, string>() };
        model.secrets.set(p, m);
        inflight.push(
          (async () => {
            for (let k = 0; k < 3; k++) {
              const value = `v-${opts.seed}-${round}-${s}-${k}-${r.int(0, 1e9)}`;
              m.sent.add(value);
              const a = await track(
                'secret write',
                inst.json('PUT', `${W}/secrets/data/${p}`, { type: 'password', value: { password: value } }),
              );
              if (!a) return;
              if (a.status === 200 || a.status === 201) m.acked.set(a.json<{ version: number }>().version, value);
            }
          })(),
        );
      }
      // Streamed uploads: bodies of 1–6 MB, each one distinct.
      for (let d = 0; d < 3; d++) {
        const name = `kill9-d${d}`;
        const m = model.datasets.get(name) ?? { sent: new Set<string>(), acked: new Map<number, string>() };
        model.datasets.set(name, m);
        const size = r.int(1, 6) * 1024 * 1024;
        const body = Buffer.alloc(size, `${round}-${d}-${r.int(0, 1e9)}\n`);
        const h = sha(body);
        m.sent.add(h);
        inflight.push(
          track(
            'streamed upload',
            inst.req(`${W}/datasets/${name}/versions?filename=x.bin`, {
              method: 'PUT',
              headers: { 'content-type': 'application/octet-stream' },
              body,
            }),
          ).then((a) => {
            if (a?.status === 201) m.acked.set(a.json<{ version: { version: number } }>().version.version, h);
          }),
        );
      }
      // A resumable upload: opened and its parts stored, then completed while the kill comes.
      inflight.push(
        (async () => {
          const name = 'kill9-resumable';
          const m = model.datasets.get(name) ?? { sent: new Set<string>(), acked: new Map<number, string>() };
          model.datasets.set(name, m);
          const body = Buffer.alloc(r.int(3, 8) * 64 * 1024 + r.int(1, 1000), `r${round}-${r.int(0, 1e9)};`);
          const h = sha(body);
          m.sent.add(h);
          const open = await track(
            'upload open',
            inst.json('POST', `${W}/datasets/${name}/uploads`, { size: body.length, filename: 'r.bin' }),
          );
          if (open?.status !== 201) return;
          const s = open.json<{ id: string; partSize: number; partCount: number }>();
          for (let n = 1; n <= s.partCount; n++) {
            const part = body.subarray((n - 1) * s.partSize, n * s.partSize);
            const a = await track(
              'upload part',
              inst.req(`${W}/datasets/${name}/uploads/${s.id}/parts/${n}`, {
                method: 'PUT',
                headers: { 'content-type': 'application/octet-stream' },
                body: part,
              }),
            );
            if (a?.status !== 200) {
              model.pendingUploads.push({ dataset: name, id: s.id, sha: h });
              return;
            }
          }
          model.pendingUploads.push({ dataset: name, id: s.id, sha: h });
          const done = await track(
            'upload complete',
            inst.json('POST', `${W}/datasets/${name}/uploads/${s.id}/complete`, {}),
          );
          if (done?.status === 201) {
            m.acked.set(done.json<{ version: { version: number } }>().version.version, h);
            model.pendingUploads = model.pendingUploads.filter((u) => u.id !== s.id);
          }
        })(),
      );
      // Policy saves.
      inflight.push(
        (async () => {
          for (let k = 0; k < 4; k++) {
            const a = await track(
              'policy save',
              inst.json('PUT', `${W}/data-policies/ssn`, {
                policy: {
                  target: { dataset: 'people' },
                  description: `r${round}k${k}`,
                  masks: [{ column: 'ssn', kind: 'redact' }],
                },
              }),
            );
            if (!a) return;
            if (a.status < 300) model.policyAcked = Math.max(model.policyAcked, a.json<{ version: number }>().version);
          }
        })(),
      );
      // Key rotation and rewrap, root-key rotation, a backup.
      inflight.push(
        (async () => {
          const order = r.next() < 0.5 ? ['rotate', 'rewrap', 'rotate-root'] : ['rotate-root', 'rotate', 'rewrap'];
          for (const k of order)
            if (!(await track(`keys ${k}`, inst.req(`/api/v1/keys/${k}`, { method: 'POST', as: 'operator' })))) return;
        })(),
      );
      inflight.push(track('backup', inst.json('POST', '/api/v1/backups', {}, 'operator')));

      // The kill: a seeded moment in the first seconds of the round.
      const delay = r.int(50, 2500);
      await new Promise((res) => setTimeout(res, delay));
      await inst.kill9();
      await Promise.all(inflight);
      const answered = answers.filter((x) => !(x.a instanceof Error)).length;
      for (const { what, a } of answers)
        if (!(a instanceof Error) && a.status >= 500 && a.status !== 503)
          problems.push(`${what} answered ${a.status} before the kill: ${a.body.slice(0, 200)}`);

      await inst.start();
      problems.push(...(await invariants(inst, model)));
      checks += 1;
      log(
        `round ${round + 1}/${opts.rounds}: killed after ${delay} ms with ${answered}/${answers.length} answers in; ${problems.length === 0 ? 'ok' : problems.join('; ')}`,
      );
      if (problems.length === 0) passed++;
      else findings.push(...problems.map((p) => `round ${round + 1}: ${p}`));
    }
    if (opts.shred !== false) {
      const shred = await shredAndRestore(inst, r, log);
      checks += 1;
      log(`shred and restore: ${shred.length === 0 ? 'ok' : shred.join('; ')}`);
      if (shred.length === 0) passed++;
      else findings.push(...shred.map((p) => `shred and restore: ${p}`));
    }
    const tried = opts.rounds + (opts.shred !== false ? 1 : 0);
    return { tried, passed, failed: tried - passed, checks, seed: opts.seed, findings };
  } finally {
    await inst.close();
  }
}

/** Every invariant after a restart; returns the problems found (none when all hold). */
async function invariants(inst: Instance, model: Model): Promise<string[]> {
  const problems: string[] = [];
  const verify = await inst.req('/api/v1/audit/verify', { as: 'operator' });
  if (verify.status !== 200 || verify.json<{ ok: boolean }>().ok !== true)
    problems.push(`audit verify: ${verify.status} ${verify.body.slice(0, 300)}`);

  const status = await inst.req('/api/v1/keys/status', { as: 'operator' });
  if (status.json<{ state: string }>().state !== 'unsealed') problems.push(`key ring: ${status.body.slice(0, 200)}`);

  for (const [p, m] of model.secrets) {
    const meta = await inst.req(`${W}/secrets/data/${p}`);
    if (meta.status === 404 && m.acked.size === 0) continue;
    if (meta.status !== 200) {
      problems.push(`secret ${p}: ${meta.status}`);
      continue;
    }
    const cur = await inst.req(`${W}/secrets/reveal/${p}`, { method: 'POST' });
    const value = cur.status === 200 ? String(cur.json<{ value: { password: string } }>().value.password) : '';
    if (!m.sent.has(value)) problems.push(`secret ${p}: current value is not one that was written (${cur.status})`);
    for (const [v, want] of m.acked) {
      const a = await inst.req(`${W}/secrets/reveal/${p}?version=${v}`, { method: 'POST' });
      const got = a.status === 200 ? a.json<{ value: { password: string } }>().value.password : `(${a.status})`;
      if (got !== want) problems.push(`secret ${p} v${v}: acknowledged value lost (${got})`);
    }
  }

  // Interrupted resumable uploads: finish them now (the parts were stored before the kill).
  for (const u of model.pendingUploads.splice(0)) {
    const done = await inst.json('POST', `${W}/datasets/${u.dataset}/uploads/${u.id}/complete`, {});
    if (done.status === 201)
      model.datasets.get(u.dataset)!.acked.set(done.json<{ version: { version: number } }>().version.version, u.sha);
    else if (done.status !== 409 && done.status !== 404)
      problems.push(
        `resumable upload ${u.id}: completing after restart gave ${done.status} ${done.body.slice(0, 200)}`,
      );
    else {
      // 404/409: it was completed before the kill (its version must then hold the body) or had a part missing.
      const st = await inst.req(`${W}/datasets/${u.dataset}/uploads/${u.id}`);
      if (st.status === 200) {
        const s = st.json<{ partCount: number; received: number[] }>();
        if (s.received.length === s.partCount)
          problems.push(`resumable upload ${u.id}: every part stored, yet complete gave ${done.status}`);
      }
    }
  }

  for (const [name, m] of model.datasets) {
    const ds = await inst.req(`${W}/datasets/${name}`);
    if (ds.status === 404 && m.acked.size === 0) continue;
    if (ds.status !== 200) {
      problems.push(`dataset ${name}: ${ds.status}`);
      continue;
    }
    const listed = ds.json<{ versions: { version: number; sha256: string }[] }>().versions;
    for (const v of m.acked.keys())
      if (!listed.some((x) => x.version === v)) problems.push(`dataset ${name} v${v}: acknowledged version lost`);
    for (const v of listed) {
      const a = await inst.req(`${W}/datasets/${name}/versions/${v.version}/content`);
      const got = sha(a.raw);
      if (a.status !== 200) problems.push(`dataset ${name} v${v.version}: listed but download gave ${a.status}`);
      else if (got !== v.sha256 || !m.sent.has(got))
        problems.push(`dataset ${name} v${v.version}: partial or foreign content (${a.raw.length} bytes)`);
      else if (m.acked.has(v.version) && m.acked.get(v.version) !== got)
        problems.push(`dataset ${name} v${v.version}: not the acknowledged body`);
    }
  }

  const pol = await inst.req(`${W}/data-policies/ssn`);
  if (pol.status === 200) {
    const cur = pol.json<{ version: number }>().version;
    const hist = (await inst.req(`${W}/data-policies/ssn/history`)).json<{ versions: { version: number }[] }>()
      .versions;
    if (cur < model.policyAcked)
      problems.push(`policy: version ${cur} in force, ${model.policyAcked} was acknowledged`);
    if (hist[0]?.version !== cur) problems.push(`policy: in force ${cur}, newest in history ${hist[0]?.version}`);
    if (hist.map((h) => h.version).join() !== Array.from({ length: cur }, (_, i) => cur - i).join())
      problems.push('policy: gap in the history');
    const q = await inst.json('POST', `${W}/query`, { sql: 'SELECT ssn FROM people' });
    if (q.status !== 200 || JSON.stringify(q.json<{ rows: unknown }>().rows) !== '[["[redacted]"]]')
      problems.push(`policy: not enforced after restart (${q.status} ${q.body.slice(0, 120)})`);
  } else if (model.policyAcked > 0) problems.push(`policy: ${pol.status} after an acknowledged save`);

  const list = await inst.req('/api/v1/backups', { as: 'operator' });
  const backups = (list.json<{ backups?: { id: string; state: string }[] }>().backups ?? []).filter(
    (b) => b.state === 'complete',
  );
  for (const b of backups.slice(-2)) {
    const v = await inst.req(`/api/v1/backups/${b.id}/verify`, { method: 'POST', as: 'operator' });
    if (v.status !== 200) problems.push(`backup ${b.id}: complete but verify gave ${v.status} ${v.body.slice(0, 200)}`);
  }

  // Background work resumes: a rewrap can be started (no stale "running") and finishes.
  const rw = await inst.req('/api/v1/keys/rewrap', { method: 'POST', as: 'operator' });
  if (rw.status !== 202) problems.push(`rewrap after restart: ${rw.status} ${rw.body.slice(0, 200)}`);
  else
    for (let i = 0; i < 120; i++) {
      const st = (await inst.req('/api/v1/keys/status', { as: 'operator' })).json<{ rewrap: { running: boolean } }>();
      if (!st.rewrap.running) break;
      if (i === 119) problems.push('rewrap after restart never finished');
      await new Promise((res) => setTimeout(res, 250));
    }
  return problems;
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const seed = flag(argv, '--seed', Math.floor(Math.random() * 2 ** 31));
  const rounds = flag(argv, '--rounds', argv.includes('--long') ? 20 : 6);
  console.log(`reliability-kill9: seed=${seed} rounds=${rounds} (reproduce with --seed ${seed})`);
  const t0 = Date.now();
  const res = await runKill9({ rounds, seed, shred: !argv.includes('--no-shred') });
  for (const f of res.findings) console.log(`finding: ${f}`);
  console.log(`seconds=${((Date.now() - t0) / 1000).toFixed(1)}`);
  console.log(summary('kill9', { tried: res.tried, passed: res.passed, failed: res.failed, checks: res.checks, seed }));
  process.exit(res.failed === 0 ? 0 : 1);
}
