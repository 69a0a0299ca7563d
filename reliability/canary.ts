/**
 * `npm run reliability -- canary [--seed S]`: plants canaries — unique strings — in every kind of
 * secret input, then scans every output surface for them. 0 hits expected.
 *
 * Planted: a secret's value (and a second version), a user's password, a wrong password at
 * sign-in, an S3 drive's secret access key (drive test and add, refused by s3rver), an API
 * token, the owner's TOTP seed, and dataset cells under a masking data policy.
 *
 * Scanned: every server log line; the whole audit trail (export); task logs; every response body
 * and header of the run except the one meant to carry the value (the reveal, the token's
 * creation, the enrolment); the OpenAPI document; `/metrics`; dataset previews, profiles,
 * queries and exports of the masked column; a backup and every file under the data directory
 * (drives, backups, task logs); the PGlite database dump.
 *
 * Ends with `reliability-canary: tried=<surfaces> passed=… failed=… canaries=… hits=… seed=…`.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { startTestApp } from '../test/helpers/app.ts';
import type { TestResponse } from '../test/helpers/https.ts';
import { jsonBody, login, ownerSession } from '../test/helpers/identity.ts';
import { startS3rver } from '../test/peers/s3/s3rver.ts';
import { flag, isMain, rng, summary } from './lib/instance.ts';

const W = '/api/v1/workspaces/default';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile() && statSync(p).size < 64 * 1024 * 1024) out.push(p);
  }
  return out;
}

export async function runCanary(opts: { seed: number; log?: (l: string) => void }) {
  const log = opts.log ?? ((l: string) => console.log(l));
  const r = rng(opts.seed);
  const tag = (kind: string) =>
    `CANARY${kind}${Array.from({ length: 12 }, () => 'abcdefghjkmnpqrstuvwxyz'[r.int(0, 22)]).join('')}`;
  const canaries: Record<string, string> = {
    secretValue: tag('SECRETVALUE'),
    secretValue2: tag('SECRETVALUETWO'),
    password: `${tag('PASSWORD')} horse battery`,
    wrongPassword: `${tag('WRONGPASSWORD')} staple`,
    driveKey: tag('DRIVEKEY'),
    maskedCell: tag('MASKEDCELL'),
  };
  const s3 = await startS3rver(['canary']);
  const app = await startTestApp('pglite', {
    env: { STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
  });
  /** Every answer of the run, with whether it is the one meant to carry a value. */
  const seen: { label: string; res: TestResponse; carrier: boolean }[] = [];
  try {
    const owner0 = await ownerSession(app);
    const owner = owner0.session;
    canaries.totpSeed = owner0.secret;
    const call = async (label: string, p: Promise<TestResponse>, carrier = false) => {
      const res = await p;
      seen.push({ label, res, carrier });
      return res;
    };

    await call(
      'secret write',
      owner.req(
        `${W}/secrets/data/canary/db`,
        jsonBody({ type: 'password', value: { password: canaries.secretValue } }, 'PUT'),
      ),
    );
    await call(
      'secret write 2',
      owner.req(
        `${W}/secrets/data/canary/db`,
        jsonBody({ type: 'password', value: { password: canaries.secretValue2 } }, 'PUT'),
      ),
    );
    await call('secret reveal', owner.req(`${W}/secrets/reveal/canary/db`, { method: 'POST' }), true);
    await call('secret metadata', owner.req(`${W}/secrets/metadata/canary/db`));
    await call('secret list', owner.req(`${W}/secrets`));
    await call('secret read', owner.req(`${W}/secrets/data/canary/db`));
    await call(
      'secret wrong type',
      owner.req(
        `${W}/secrets/data/canary/db`,
        jsonBody({ type: 'nope', value: { password: canaries.secretValue } }, 'PUT'),
      ),
    );

    const user = await call(
      'user create',
      owner.req(
        `${W}/users`,
        jsonBody({ email: 'person-q@corp.test', displayName: 'Person Q', password: canaries.password, role: 'viewer' }),
      ),
    );
    if (user.status !== 201) log(`user create answered ${user.status} ${user.body.slice(0, 200)}`);
    await call(
      'login wrong password',
      app.req('/api/v1/auth/login', jsonBody({ email: 'person-q@corp.test', password: canaries.wrongPassword })),
    );
    const viewer = await login(app, 'person-q@corp.test', canaries.password);
    seen.push({ label: 'login', res: viewer.res, carrier: false });
    await call(
      'password change refused',
      viewer.req('/api/v1/auth/password', jsonBody({ current: canaries.wrongPassword, password: canaries.password })),
    );

    const drive = {
      name: 'canary-s3',
      kind: 's3',
      config: { bucket: 'canary', endpoint: s3.endpoint, pathStyle: true },
      credentials: { provider: 's3', accessKeyId: 'S3RVER', secretAccessKey: canaries.driveKey },
    };
    await call('drive test', owner.req(`${W}/drives/test`, jsonBody(drive)));
    await call('drive add', owner.req(`${W}/drives`, jsonBody(drive)));
    await call('drive list', owner.req(`${W}/drives`));

    const token = await call(
      'token create',
      owner.req('/api/v1/tokens', jsonBody({ name: 'canary', scopes: ['vault.*'], workspace: 'default' })),
      true,
    );
    if (token.status === 201) canaries.apiToken = token.json<{ token: string }>().token;
    else log(`token create answered ${token.status} ${token.body.slice(0, 200)}`);
    if (canaries.apiToken) {
      await call('token use', app.req(`${W}/secrets`, { headers: { authorization: `Bearer ${canaries.apiToken}` } }));
      await call('token list', owner.req('/api/v1/tokens'));
      await call(
        'token wrong use',
        app.req(`${W}/datasets`, { headers: { authorization: `Bearer ${canaries.apiToken}x` } }),
      );
    }

    // Dataset cells under a masking policy: only the owner's raw content download may carry them.
    const csv = `id,ssn,city\n${Array.from({ length: 30 }, (_, i) => `${i},${canaries.maskedCell}-${i},Town${i % 3}`).join('\n')}\n`;
    const up = await call(
      'dataset upload',
      owner.req(`${W}/datasets/people/versions?filename=p.csv`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: csv,
      }),
    );
    if (up.status !== 201) log(`upload answered ${up.status} ${up.body.slice(0, 200)}`);
    await call(
      'policy save',
      owner.req(
        `${W}/data-policies/ssn`,
        jsonBody({ policy: { target: { dataset: 'people' }, masks: [{ column: 'ssn', kind: 'redact' }] } }, 'PUT'),
      ),
    );
    await call('query', owner.req(`${W}/query`, jsonBody({ sql: 'SELECT * FROM people' })));
    await call(
      'query aggregate',
      owner.req(`${W}/query`, jsonBody({ sql: "SELECT max(ssn), min(ssn) FROM people WHERE ssn LIKE 'CANARY%'" })),
    );
    await call('query error', owner.req(`${W}/query`, jsonBody({ sql: 'SELECT ssn::int FROM people' })));
    await call('preview', owner.req(`${W}/datasets/people/versions/1/preview`));
    await call('profile', owner.req(`${W}/datasets/people/versions/1/profile`));
    await call('export csv', owner.req(`${W}/datasets/people/versions/1/export?format=csv`));
    await call(
      'from-query',
      owner.req(`${W}/datasets/people/versions/from-query`, jsonBody({ sql: 'SELECT * FROM people' })),
    );
    await call('viewer query', viewer.req(`${W}/query`, jsonBody({ sql: 'SELECT * FROM people' })));
    await call('dataset metadata', owner.req(`${W}/datasets/people`));

    const target = await call(
      'backup target',
      app.asOperator(
        '/api/v1/backups/targets',
        jsonBody({ name: 'canary', workspace: 'default', drive: 'default', prefix: 'bk' }),
      ),
    );
    if (target.status < 300) await call('backup', app.asOperator('/api/v1/backups', jsonBody({ target: 'canary' })));
    await call('rewrap', app.asOperator('/api/v1/keys/rewrap', { method: 'POST' }));
    for (let i = 0; i < 40; i++) {
      const st = await app.asOperator('/api/v1/keys/status');
      if (!st.json<{ rewrap: { running: boolean } }>().rewrap.running) break;
      await new Promise((res) => setTimeout(res, 250));
    }

    // The surfaces.
    const surfaces: { name: string; text: () => Promise<string | Buffer> }[] = [
      { name: 'server logs', text: async () => app.logs.join('\n') },
      {
        name: 'audit trail (export)',
        text: async () =>
          (await app.asOperator('/api/v1/audit/export?format=jsonl')).body +
          (await owner.req(`${W}/audit/export?format=csv`)).body,
      },
      {
        name: 'task logs',
        text: async () => {
          const list = await app.asOperator('/api/v1/tasks');
          const tasks = list.status === 200 ? (list.json<{ tasks?: { id: string }[] }>().tasks ?? []) : [];
          const logs = await Promise.all(tasks.map((t) => app.asOperator(`/api/v1/tasks/${t.id}/log`)));
          return list.body + logs.map((l) => l.body).join('\n');
        },
      },
      {
        name: 'response bodies and headers (all but the carriers)',
        text: async () =>
          seen
            .filter((s) => !s.carrier)
            .map((s) => `${s.label}: ${JSON.stringify(s.res.headers)} ${s.res.body}`)
            .join('\n'),
      },
      { name: 'OpenAPI document', text: async () => (await app.req('/api/v1/openapi.json')).body },
      {
        name: '/metrics',
        text: async () =>
          app.server.metricsPort
            ? (await fetch(`http://127.0.0.1:${app.server.metricsPort}/metrics`)).text()
            : '(no metrics listener)',
      },
      {
        name: 'files under the data directory (drives, backups, task logs)',
        text: async () => Buffer.concat(filesUnder(app.home).map((f) => readFileSync(f))),
      },
      {
        name: 'database dump',
        text: async () => {
          const dump = await app.server.database.pglite!.dumpDataDir('none');
          return Buffer.from(await dump.arrayBuffer());
        },
      },
      { name: 's3rver objects', text: async () => Buffer.concat(filesUnder(s3.directory).map((f) => readFileSync(f))) },
    ];
    const findings: string[] = [];
    for (const s of seen.filter((x) => !x.carrier))
      for (const [k, v] of Object.entries(canaries))
        if (v && (s.res.body.includes(v) || JSON.stringify(s.res.headers).includes(v)))
          log(`  answer "${s.label}" (${s.res.status}) carries ${k}`);
    let passed = 0;
    for (const s of surfaces) {
      const content = await s.text();
      const hay = typeof content === 'string' ? Buffer.from(content) : content;
      const hits = Object.entries(canaries).filter(([, v]) => v && hay.includes(Buffer.from(v)));
      log(
        `${s.name} (${hay.length} bytes): ${hits.length === 0 ? 'no canary' : `FOUND ${hits.map(([k]) => k).join(', ')}`}`,
      );
      if (hits.length === 0) passed++;
      else
        for (const [k, v] of hits) {
          const at = hay.indexOf(Buffer.from(v));
          findings.push(
            `${s.name}: ${k} — …${hay
              .subarray(Math.max(0, at - 200), at + 60)
              .toString('utf8')
              .replace(/\s+/g, ' ')}`,
          );
        }
    }
    // The carriers must carry (otherwise the scan proves nothing about the planting).
    const reveal = seen.find((s) => s.label === 'secret reveal')!;
    if (!reveal.res.body.includes(canaries.secretValue2!))
      findings.push('planting: the reveal did not return the secret');
    return {
      tried: surfaces.length,
      passed,
      failed: surfaces.length - passed + (findings.length > surfaces.length - passed ? 1 : 0),
      canaries: Object.keys(canaries).length,
      hits: findings.length,
      findings,
    };
  } finally {
    await app.close();
    await s3.stop();
  }
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const seed = flag(argv, '--seed', randomBytes(4).readUInt32BE(0) >>> 1);
  console.log(`reliability-canary: seed=${seed}`);
  const res = await runCanary({ seed });
  for (const f of res.findings) console.log(`finding: ${f}`);
  console.log(
    summary('canary', {
      tried: res.tried,
      passed: res.passed,
      failed: res.failed,
      canaries: res.canaries,
      hits: res.hits,
      seed,
    }),
  );
  process.exit(res.failed === 0 && res.hits === 0 ? 0 : 1);
}
