/**
 * Every route that takes a body, walked from the live route table on both backends, with a
 * credential that reaches its handler: the owner (MFA done) or, where the owner is refused, the
 * operator. Each route gets every wrong body — JSON `null`, `[]`, a string, a number, `{}`, empty
 * bodies with and without a content type, text, raw bytes, multipart garbage, a form, an unknown
 * media type, a content length far past any limit, one that is not a number and one shorter than
 * the body. Every answer must come in time, be below 500, and every error must be problem+json
 * with its status and title and no internals (stack frames, file paths). Where the outcome is
 * decided before the handler — by the body parser or the route's declared body schema (read from
 * the OpenAPI document the schemas generate) — the exact status and code are asserted.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import { createUser, createWorkspace, ownerSession, type Session } from './helpers/identity.ts';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const TIMEOUT_MS = 5000;
const WS = 'default';
/** Workspace for the key routes (`/keys/workspaces/:ws/…`), so a destroy request touches nothing else. */
const SCRATCH_WS = 'bodies-scratch';

/** Routes whose body is not JSON. Every entry must still exist (a stale entry fails the walk). */
/**
 * Cases refused by the HTTP parser before any route runs (no media type decides them). A
 * content length shorter than the body is not one: the route answers the bytes it was given first
 * (its media type decides), and the leftover bytes' 400 only follows that answer.
 */
const FRAMING = new Set(['content-length not a number']);

/** What a route declares about its body. */
type Contract =
  | { kind: 'json'; emptyObjectInvalid: boolean } // a zod body schema (required fields or a union → `{}` is invalid)
  | { kind: 'none' } // no body schema: the handler ignores a body
  | { kind: 'raw' } // application/octet-stream only
  | { kind: 'multipart' } // multipart/form-data only
  | { kind: 'form' } // application/x-www-form-urlencoded only, with a body schema (the SAML ACS)
  | { kind: 'scim' }; // application/scim+json or application/json, any JSON value: the handler checks the token, then the body

/** `{status, code}`: decided before the handler. `handler`: the handler decides (any answer below 500). */
type Expect = { status: number; code: string | string[] } | 'handler';

interface BodyCase {
  name: string;
  headers: Record<string, string>;
  body: string | Buffer;
  expect(c: Contract): Expect;
}

const UNSUPPORTED = { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' };
const INVALID = { status: 422, code: 'VALIDATION_FAILED' };
const MALFORMED = { status: 400, code: 'MALFORMED_JSON' };
/** A non-object JSON value: only a route with a body schema decides before the handler. */
const notAnObject = (c: Contract): Expect =>
  c.kind === 'json' ? INVALID : c.kind === 'none' || c.kind === 'scim' ? 'handler' : UNSUPPORTED;
const json = (text: string) => ({ headers: { 'content-type': 'application/json' }, body: text });

const CASES: BodyCase[] = [
  { name: 'JSON null', ...json('null'), expect: notAnObject },
  { name: 'JSON []', ...json('[]'), expect: notAnObject },
  { name: 'JSON "a string"', ...json('"a string"'), expect: notAnObject },
  { name: 'JSON 42', ...json('42'), expect: notAnObject },
  {
    name: 'JSON {}',
    ...json('{}'),
    expect: (c) =>
      c.kind === 'json'
        ? c.emptyObjectInvalid
          ? INVALID
          : 'handler'
        : c.kind === 'none' || c.kind === 'scim'
          ? 'handler'
          : UNSUPPORTED,
  },
  { name: 'empty body as application/json', ...json(''), expect: (c) => (c.kind === 'raw' ? UNSUPPORTED : MALFORMED) },
  {
    name: 'empty body, no content type',
    headers: {},
    body: '',
    expect: (c) =>
      c.kind === 'json' || c.kind === 'form' ? INVALID : c.kind === 'multipart' ? UNSUPPORTED : 'handler',
  },
  {
    name: 'text/plain "x"',
    headers: { 'content-type': 'text/plain' },
    body: 'x',
    expect: (c) => (c.kind === 'scim' ? UNSUPPORTED : notAnObject(c)),
  },
  {
    name: 'application/octet-stream bytes',
    headers: { 'content-type': 'application/octet-stream' },
    body: randomBytes(64),
    expect: (c) => (c.kind === 'raw' ? 'handler' : UNSUPPORTED),
  },
  {
    name: 'multipart garbage',
    headers: { 'content-type': 'multipart/form-data; boundary=walkwalk' },
    body: '--walkwalk\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nno closing boundary',
    expect: (c) => (c.kind === 'multipart' ? { status: 400, code: 'BAD_REQUEST' } : UNSUPPORTED),
  },
  {
    name: 'form-urlencoded',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'a=1&b=2',
    expect: (c) => (c.kind === 'form' ? INVALID : UNSUPPORTED),
  },
  {
    name: 'unknown media type',
    headers: { 'content-type': 'application/x-walk-nonsense' },
    body: 'x',
    expect: () => UNSUPPORTED,
  },
  // Refused from the header alone: nothing is read or buffered. Raw routes take no JSON at all.
  {
    name: 'JSON with content-length 1 TiB',
    headers: { 'content-type': 'application/json', 'content-length': String(2 ** 40) },
    body: '{}',
    expect: (c) => (c.kind === 'raw' ? UNSUPPORTED : { status: 413, code: 'BODY_TOO_LARGE' }),
  },
  // Bad framing is refused by the HTTP parser before any route runs, and the connection closed.
  {
    name: 'content-length not a number',
    headers: { 'content-type': 'application/json', 'content-length': 'abc' },
    body: '{}',
    expect: () => ({ status: 400, code: 'BAD_REQUEST' }),
  },
  {
    name: 'content-length shorter than the body',
    headers: { 'content-type': 'application/json', 'content-length': '3' },
    body: '{"a":1}',
    // A route taking JSON finds `{"a` malformed (one taking no JSON refused the media type already).
    expect: () => ({ status: 400, code: ['BAD_REQUEST', 'MALFORMED_JSON'] }),
  },
];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  failure?: string;
}

/** One TLS context per app (trusting its certificate): building one per request costs more than the request. */
const trustOf = new WeakMap<TestApp, tls.SecureContext>();

/** One request on its own connection to 127.0.0.1, never longer than TIMEOUT_MS. */
function send(
  app: TestApp,
  method: string,
  pathname: string,
  headers: Record<string, string>,
  body: string | Buffer,
): Promise<Answer> {
  let secureContext = trustOf.get(app);
  if (!secureContext) trustOf.set(app, (secureContext = tls.createSecureContext({ ca: app.ca })));
  return new Promise((resolve) => {
    const done = (a: Answer) => {
      clearTimeout(timer);
      resolve(a);
    };
    // `secureContext` goes through to tls.connect (the https option types leave it out).
    const options: https.RequestOptions & Pick<tls.ConnectionOptions, 'secureContext'> = {
      host: '127.0.0.1',
      port: app.server.httpsPort,
      servername: 'localhost',
      secureContext,
      agent: false,
      method,
      path: pathname,
      headers: { 'content-length': String(Buffer.byteLength(body)), ...headers },
    };
    const req = https.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (err) => done({ status: 0, headers: {}, body: '', failure: `response broken: ${err.message}` }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ status: 0, headers: {}, body: '', failure: `no answer within ${TIMEOUT_MS} ms (hang)` });
    }, TIMEOUT_MS);
    req.on('error', (err) => done({ status: 0, headers: {}, body: '', failure: `no answer: ${err.message}` }));
    req.end(body);
  });
}

/** Problems with one answer (empty: fine). */
function check(a: Answer, expected: Expect, publicRoute: boolean, home: string): string[] {
  if (a.failure) return [a.failure];
  const out: string[] = [];
  if (a.status >= 500) out.push(`${a.status} (server error)`);
  if (/node_modules|\/work\/|\n\s+at |\bat [^\s]+ \(|\.ts:\d+/.test(a.body) || a.body.includes(home))
    out.push('internals (stack frame or file path) in the body');
  // Public routes whose body is a credential are rate limited before anything else (429).
  const limited = publicRoute && a.status === 429;
  if (expected !== 'handler' && !limited && a.status !== expected.status)
    out.push(`status ${a.status}, expected ${expected.status}`);
  if (a.status < 400) return out;
  if (!/^application\/problem\+json/.test(String(a.headers['content-type'])))
    return [...out, `error as ${String(a.headers['content-type'])}, not problem+json: ${a.body.slice(0, 120)}`];
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(a.body) as Record<string, unknown>;
  } catch {
    return [...out, 'problem body is not JSON'];
  }
  if (p.status !== a.status) out.push(`problem status ${String(p.status)} ≠ ${a.status}`);
  if (typeof p.title !== 'string' || p.title.length === 0) out.push('problem without a title');
  if ('stack' in p) out.push('problem carries a stack');
  if (expected !== 'handler' && !limited && ![expected.code].flat().includes(String(p.code)))
    out.push(`code ${String(p.code)}, expected ${[expected.code].flat().join(' or ')}`);
  return out;
}

/** The route's body contract from the OpenAPI document (built from the same zod schemas). */
function contractOf(
  doc: {
    paths: Record<
      string,
      Record<string, { requestBody?: { content: Record<string, { schema?: Record<string, unknown> }> } }>
    >;
  },
  method: string,
  url: string,
  consumes?: readonly string[],
): Contract {
  const key = `${method} ${url}`;
  if (consumes?.includes('application/octet-stream')) return { kind: 'raw' };
  if (consumes?.includes('multipart/form-data')) return { kind: 'multipart' };
  if (consumes?.includes('application/x-www-form-urlencoded')) return { kind: 'form' };
  if (consumes?.includes('application/scim+json')) return { kind: 'scim' };
  const op = doc.paths[url.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{*}')]?.[method.toLowerCase()];
  assert.ok(op, `${key} is missing from the OpenAPI document`);
  const schema = op.requestBody?.content['application/json']?.schema;
  if (!schema) return { kind: 'none' };
  const required = Array.isArray(schema.required) && schema.required.length > 0;
  return { kind: 'json', emptyObjectInvalid: required || 'anyOf' in schema || 'oneOf' in schema };
}

for (const backend of BACKENDS) {
  describe(`every route with a body, every wrong body, on ${backend}`, () => {
    let app: TestApp;
    let skip = false;
    let owner: { session: Session; userId: string };
    let victimId: string;
    let serviceAccountId: string;
    const names = { dataset: 'walk-data', uploadDataset: 'walk-upload', drive: 'walk-drive', secret: 'walk/secret' };
    const live = { uploadId: '', tokenId: '', policyId: '', version: 1 };

    const asOwner = (): Record<string, string> => ({
      cookie: owner.session.cookie,
      'x-csrf-token': owner.session.csrf,
    });
    const asOperator = (): Record<string, string> => ({ authorization: `Bearer ${app.operatorToken}` });
    const ownerCall = (method: string, p: string, body?: unknown) =>
      send(
        app,
        method,
        p,
        { ...asOwner(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body === undefined ? '' : JSON.stringify(body),
      );
    const expectOk = (a: Answer, what: string) =>
      assert.ok(a.status >= 200 && a.status < 300, `${what}: ${a.status} ${a.failure ?? a.body.slice(0, 300)}`);

    async function newOwner(): Promise<void> {
      const o = await ownerSession(app);
      owner = { session: o.session, userId: o.user.id };
      // An upload session and a token belong to the user who made them: a new owner needs its own.
      live.tokenId = '';
      live.uploadId = '';
      names.uploadDataset = `walk-upload-${o.user.id.slice(0, 8)}`;
    }

    const base = `/api/v1/workspaces/${WS}`;
    const fixtures = {
      async drive() {
        if ((await ownerCall('GET', `${base}/drives/${names.drive}`)).status !== 404) return;
        expectOk(
          await ownerCall('POST', `${base}/drives`, {
            name: names.drive,
            kind: 'local',
            config: { directory: 'walk' },
          }),
          'drive',
        );
      },
      async secret() {
        if ((await ownerCall('GET', `${base}/secrets/metadata/${names.secret}`)).status !== 404) return;
        expectOk(
          await ownerCall('PUT', `${base}/secrets/data/${names.secret}`, {
            type: 'password',
            value: { password: 'walk-password-1' },
          }),
          'secret',
        );
      },
      async dataset() {
        const ds = await ownerCall('GET', `${base}/datasets/${names.dataset}`);
        const versions = ds.status === 200 ? (JSON.parse(ds.body) as { versions: { version: number }[] }).versions : [];
        if (versions.length > 0) {
          live.version = versions.at(-1)!.version;
          return;
        }
        const put = await send(
          app,
          'PUT',
          `${base}/datasets/${names.dataset}/versions`,
          { ...asOwner(), 'content-type': 'application/octet-stream' },
          'walk bytes',
        );
        expectOk(put, 'dataset version');
        live.version = (JSON.parse(put.body) as { version: { version: number } }).version.version;
      },
      async upload() {
        if (
          live.uploadId &&
          (await ownerCall('GET', `${base}/datasets/${names.uploadDataset}/uploads/${live.uploadId}`)).status === 200
        )
          return;
        const open = await ownerCall('POST', `${base}/datasets/${names.uploadDataset}/uploads`, { size: 100 });
        expectOk(open, 'upload session');
        live.uploadId = (JSON.parse(open.body) as { id: string }).id;
      },
      async token() {
        const token = live.tokenId ? await app.server.identity.tokens.find(live.tokenId) : undefined;
        if (token && !token.revokedAt) return;
        live.tokenId = (
          await app.server.database.db.transaction().execute((trx) =>
            app.server.identity.tokens.create(trx, {
              name: 'walk',
              workspace: WS,
              scopes: ['*'],
              expiresInDays: 1,
              owner: { userId: owner.userId },
            }),
          )
        ).info.id;
      },
      async policy() {
        const list = await ownerCall('GET', `${base}/policies`);
        if ((JSON.parse(list.body) as { policies: { id: string }[] }).policies.some((p) => p.id === live.policyId))
          return;
        const added = await ownerCall('POST', `${base}/policies`, {
          text: `permit(principal == User::"${victimId}", action == Action::"access.policy.list", resource);`,
        });
        expectOk(added, 'policy');
        live.policyId = (JSON.parse(added.body) as { id: string }).id;
      },
    };
    /** The fixtures a route pattern names. */
    const fixturesOf = (url: string) => [
      ...(url.includes('/drives/:name') ? [fixtures.drive] : []),
      ...(url.includes('/secrets/') ? [fixtures.secret] : []),
      ...(url.includes('/datasets/:name') && !url.includes('/uploads') ? [fixtures.dataset] : []),
      ...(url.includes('/uploads/:id') ? [fixtures.upload] : []),
      ...(url.includes('/tokens/:id') ? [fixtures.token] : []),
      ...(url.includes('/policies/:id') ? [fixtures.policy] : []),
    ];

    /**
     * Put back what successful requests may have used up, as far as the next request needs it:
     * the unsealed state, a signed-in owner with MFA (logout, revoke-all and MFA reset end it),
     * and the objects the route names (a delete removes them).
     */
    async function restore(url: string): Promise<void> {
      const seal = await send(app, 'GET', '/api/v1/sys/seal-status', {}, '');
      if ((JSON.parse(seal.body) as { sealed: boolean }).sealed)
        expectOk(await send(app, 'POST', '/api/v1/sys/reload-root-key', asOperator(), ''), 'unseal again');
      const me = await ownerCall('GET', '/api/v1/auth/me');
      if (me.status !== 200 || (JSON.parse(me.body) as { mfaEnrolmentRequired: boolean }).mfaEnrolmentRequired)
        await newOwner();
      for (const ensure of fixturesOf(url)) await ensure();
    }

    /** A concrete path for a route pattern: existing objects where they exist, random ids where not. */
    function fill(url: string): string {
      const segs = url.split('/');
      return segs
        .map((seg, i) => {
          if (!seg.startsWith(':') && seg !== '*') return seg;
          const slot = `${segs[i - 1]}/${seg}`;
          if (seg === ':ws') return segs[i - 2] === 'keys' ? SCRATCH_WS : WS;
          if (seg === '*') return names.secret;
          if (slot === 'datasets/:name') return url.includes('/uploads') ? names.uploadDataset : names.dataset;
          if (slot === 'drives/:name') return names.drive;
          if (slot === 'users/:id') return victimId;
          if (slot === 'service-accounts/:id') return serviceAccountId;
          if (slot === 'tokens/:id') return live.tokenId;
          if (slot === 'sessions/:id') return '0123456789abcdef'; // no such session
          if (slot === 'policies/:id') return live.policyId;
          if (slot === 'data-policies/:name') return 'no-such-policy';
          if (slot === 'uploads/:id') return live.uploadId;
          if (seg === ':provider') return 'walk-idp'; // no such sign-in provider
          if (slot === 'Users/:id' || slot === 'Groups/:id') return '00000000-0000-4000-8000-000000000000'; // SCIM
          if (slot === 'parts/:n') return '1';
          if (slot === 'versions/:v') return String(live.version);
          if (slot === 'targets/:name') return 'no-such-target';
          if (slot === 'columns/:col') return 'some_column';
          if (slot === 'holds/:id') return 'hold_00000000-0000-4000-8000-000000000000'; // no such hold
          if (slot === 'backups/:id') return 'bk-20260101t000000z-00000000'; // no such backup
          if (slot === 'terms/:term') return String(1_000_000 + Math.floor(Math.random() * 1_000_000)); // no such term
          throw new Error(`no plausible value for ${seg} in ${url}: add one to fill()`);
        })
        .join('/');
    }

    before(async (t) => {
      if (
        backend === 'postgres' &&
        !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'start it: pg_ctlcluster 15 main start')
      ) {
        skip = true;
        return;
      }
      app = await startTestApp(backend);
      await createWorkspace(app, SCRATCH_WS);
      await newOwner();
      victimId = (await createUser(app, `victim-${randomBytes(3).toString('hex')}@corp.test`, { role: 'viewer' })).id;
      serviceAccountId = (
        await app.server.database.db
          .transaction()
          .execute((trx) => app.server.identity.serviceAccounts.create(trx, WS, 'walk-robot', 'viewer', owner.userId))
      ).id;
      for (const ensure of Object.values(fixtures)) await ensure();
    });
    after(async () => {
      if (!skip) await app.close();
    });

    test('no wrong body gives a 5xx, a hang, or an error that is not problem+json', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const table = app.server.app.routes.filter((r) => BODY_METHODS.has(r.method));
      const keys = new Set(table.map((r) => `${r.method} ${r.url}`));
      const doc = (await app.req('/api/v1/openapi.json')).json<Parameters<typeof contractOf>[0]>();

      const walked = new Map<string, number>();
      const failures: string[] = [];
      for (const route of table) {
        const key = `${route.method} ${route.url}`;
        // Every route says what its body is (a bodyless one: none at all), so every other body is refused.
        assert.ok(route.body !== undefined && route.consumes !== undefined, `${key} declares its body kind`);
        const contract = contractOf(doc, route.method, route.url, route.consumes);
        const publicRoute = route.access !== undefined && 'public' in route.access;
        // What an earlier route used up is put back first; so is what a successful request of this one used up.
        for (const ensure of fixturesOf(route.url)) await ensure();
        // The owner where the owner may call the route, else the operator; a route neither reaches fails.
        let credential: () => Record<string, string> = () => ({});
        if (!publicRoute) {
          // Authorization runs before the body is parsed: 415 for an unknown media type means it let us through.
          const reach = async (c: () => Record<string, string>) =>
            (
              await send(
                app,
                route.method,
                fill(route.url),
                { ...c(), 'content-type': 'application/x-walk-probe' },
                'x',
              )
            ).status === 415;
          credential = (await reach(asOwner)) ? asOwner : (await reach(asOperator)) ? asOperator : () => ({});
          assert.ok(
            Object.keys(credential()).length > 0,
            `${key}: neither an owner nor the operator gets past authorization`,
          );
        }
        let dirty = false;
        for (const c of CASES) {
          if (dirty) await restore(route.url);
          const answer = await send(app, route.method, fill(route.url), { ...credential(), ...c.headers }, c.body);
          // A route that declares the media types it takes refuses every other one (415) from the header.
          const type = (c.headers['content-type'] ?? '').split(';')[0]!.trim();
          const refused =
            route.consumes !== undefined &&
            !FRAMING.has(c.name) &&
            (type !== '' || Buffer.byteLength(c.body) > 0) &&
            !route.consumes.includes(type);
          for (const problem of check(answer, refused ? UNSUPPORTED : c.expect(contract), publicRoute, app.home))
            failures.push(`${key} ← ${c.name}: ${problem}`);
          walked.set(key, (walked.get(key) ?? 0) + 1);
          dirty = answer.status > 0 && answer.status < 400;
        }
        if (dirty) await restore(route.url);
      }
      t.diagnostic(
        `${walked.size} routes × ${CASES.length} bodies = ${[...walked.values()].reduce((a, b) => a + b, 0)} requests`,
      );
      assert.deepEqual(failures, [], `${failures.length} bad answers:\n${failures.join('\n')}`);
      assert.deepEqual([...walked.keys()].sort(), [...keys].sort(), 'every route with a body was walked');
      assert.ok(
        [...walked.values()].every((n) => n === CASES.length),
        'every route got every body',
      );
    });
  });
}
