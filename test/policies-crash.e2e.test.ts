/**
 * kill -9 of the real server (`strongroom serve`, PGlite) while data policy saves are in flight
 * (issue 17): after a restart the policy is at one complete version — the one in force equals the
 * newest version in its history, the history has no gaps — and it is still enforced on reads.
 * There is no moment without a policy: a save commits whole or not at all.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { freePort, runCli, startServe, type ServeProcess } from './helpers/cli.ts';
import { request } from './helpers/https.ts';
import { GOOD_PASSWORD, totpNow } from './helpers/identity.ts';
import { generateSelfSigned } from '../src/installation/tls.ts';

let dir: string;
let serve: ServeProcess | undefined;
after(async () => {
  serve?.child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('kill -9 during policy saves leaves one complete version in force', { timeout: 240_000 }, async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'strongroom-policy-crash-'));
  const { cert, key } = await generateSelfSigned();
  await writeFile(path.join(dir, 'cert.pem'), cert);
  await writeFile(path.join(dir, 'key.pem'), key, { mode: 0o600 });
  await writeFile(path.join(dir, 'pw'), GOOD_PASSWORD, { mode: 0o600 });
  const port = await freePort();
  const env = {
    STRONGROOM_HOME: path.join(dir, 'home'),
    STRONGROOM_HTTPS_PORT: String(port),
    STRONGROOM_HTTP_PORT: 'off',
    STRONGROOM_METRICS_PORT: 'off',
    STRONGROOM_TLS_CERT_FILE: path.join(dir, 'cert.pem'),
    STRONGROOM_TLS_KEY_FILE: path.join(dir, 'key.pem'),
    STRONGROOM_DRIVE_HEALTH_SECONDS: '0',
  };
  const init = runCli(
    ['init', '--admin-email', 'pcrash@corp.test', '--admin-password-file', path.join(dir, 'pw')],
    env,
  );
  assert.equal(init.status, 0, init.stderr);
  const base = `https://localhost:${port}`;
  const req = (p: string, o: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) =>
    request(`${base}${p}`, { ...o, ca: cert });
  serve = await startServe(env);
  const login = await req('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'pcrash@corp.test', password: GOOD_PASSWORD }),
  });
  assert.equal(login.status, 200, login.body);
  const cookieOf = (h: string | string[] | undefined, fallback: string) =>
    String(([] as string[]).concat(h ?? [fallback]).find((c) => c.startsWith('__Host-sr_session='))).split(';')[0]!;
  let cookie = cookieOf(login.headers['set-cookie'], '');
  let csrf = login.json<{ csrfToken: string }>().csrfToken;
  const auth = () => ({ cookie, 'x-csrf-token': csrf });
  const enrol = await req('/api/v1/auth/mfa/enrol', { method: 'POST', headers: auth() });
  const verify = await req('/api/v1/auth/mfa/enrol/verify', {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json' },
    body: JSON.stringify({ code: totpNow(enrol.json<{ secret: string }>().secret) }),
  });
  assert.equal(verify.status, 200, verify.body);
  cookie = cookieOf(verify.headers['set-cookie'], cookie);
  csrf = verify.json<{ csrfToken?: string }>().csrfToken ?? csrf;
  const json = (method: string, body: unknown) => ({
    method,
    headers: { ...auth(), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

  const up = await req('/api/v1/workspaces/default/datasets/people/versions?filename=p.csv', {
    method: 'PUT',
    headers: { ...auth(), 'content-type': 'application/octet-stream' },
    body: 'id,ssn\n1,SSN-CRASH-CANARY-1\n',
  });
  assert.equal(up.status, 201, up.body);
  const P = '/api/v1/workspaces/default/data-policies/ssn';
  const doc = (n: number) => ({
    policy: { target: { dataset: 'people' }, description: `v${n}`, masks: [{ column: 'ssn', kind: 'redact' }] },
  });
  assert.equal((await req(P, json('PUT', doc(1)))).status, 201);

  // Saves in flight, then the process dies.
  const inflight = Array.from({ length: 12 }, (_, i) => req(P, json('PUT', doc(i + 2))).catch(() => undefined));
  await inflight[0]; // one save answered: the others are queued or running when the process dies
  serve.child.kill('SIGKILL');
  await serve.exited;
  await Promise.all(inflight);

  serve = await startServe(env);
  const now = await req(P, { headers: auth() });
  assert.equal(now.status, 200, now.body);
  const cur = now.json<{ version: number; policy: { description: string } }>();
  const hist = (await req(`${P}/history`, { headers: auth() })).json<{
    versions: { version: number; policy: { description: string } }[];
  }>().versions;
  assert.ok(cur.version >= 2, 'the save answered before the kill is in force (or a later one)');
  assert.equal(hist[0]!.version, cur.version, 'the version in force is the newest saved');
  assert.deepEqual(
    hist.map((h) => h.version),
    Array.from({ length: cur.version }, (_, i) => cur.version - i),
    'no gap in the history',
  );
  assert.equal(hist[0]!.policy.description, cur.policy.description);
  const q = await req('/api/v1/workspaces/default/query', json('POST', { sql: 'SELECT ssn FROM people' }));
  assert.equal(q.status, 200, q.body);
  assert.deepEqual(q.json<{ rows: unknown[][] }>().rows, [['[redacted]']], 'still enforced after the crash');
  process.stderr.write(`policy at version ${cur.version} after kill -9 with 12 saves in flight\n`);
});
