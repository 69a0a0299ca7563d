/**
 * Paths the router or the authentication step sees before any route schema: escapes that are not
 * valid percent-encoding, parameters past the length limit, and a workspace segment that cannot be
 * a workspace id (empty, NUL, unicode). Each answer is a 4xx problem with the usual headers, never
 * a 5xx, and never echoes the path. Found by `npm run reliability -- fuzz`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { ownerSession, type Session } from './helpers/identity.ts';
import type { TestResponse } from './helpers/https.ts';

function assertProblem(res: TestResponse, status: number, code: string) {
  assert.equal(res.status, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const p = res.json<{ status: number; code: string; title: string }>();
  assert.equal(p.status, status);
  assert.equal(p.code, code);
  assert.ok(p.title.length > 0);
  assert.match(String(res.headers['x-request-id']), /.{8,}/);
  assert.match(String(res.headers['strict-transport-security']), /max-age=/);
  assert.doesNotMatch(res.body, /api\/v1|%zz|aaaaaaaaaa/, 'the path is not echoed back');
}

describe('paths refused before any route schema', () => {
  let app: TestApp;
  let owner: Session;
  before(async () => {
    app = await startTestApp('pglite');
    owner = (await ownerSession(app)).session;
  });
  after(() => app.close());

  test('an escape that is not valid percent-encoding is a 400 problem', async () => {
    for (const p of [
      '/api/v1/workspaces/%zz/datasets',
      '/api/v1/keys/terms/%/retire',
      '/api/v1/workspaces/default/drives/%c3%28',
    ])
      assertProblem(await owner.req(p), 400, 'BAD_REQUEST');
  });

  test('a path parameter past the length limit is a 414 problem', async () => {
    // Whether the router refuses it itself or skips the route and falls through to the console's
    // page fallback: the same 414 problem, never the router's own answer echoing the path.
    const long = await owner.req(`/api/v1/workspaces/${'a'.repeat(300)}/datasets`);
    assertProblem(long, 414, 'URI_TOO_LONG');
    assert.ok(!long.body.includes('a'.repeat(300)));
    const longId = await app.req(`/api/v1/backups/${'a'.repeat(300)}`);
    assertProblem(longId, 414, 'URI_TOO_LONG');
    // A browser's page load of an API path reaches the console's fallback: still the 414 problem.
    const page = await owner.req(`/api/v1/workspaces/${'b'.repeat(300)}/datasets`, {
      headers: { accept: 'text/html' },
    });
    assertProblem(page, 414, 'URI_TOO_LONG');
  });

  test('a workspace segment that cannot be a workspace id is a 422 for everyone, not a 5xx', async () => {
    for (const workspaceId of ['%00', '', '-1', '%E2%98%83', '.hidden'])
      for (const [who, send] of [
        ['owner', (p: string) => owner.req(p)],
        ['operator', (p: string) => app.asOperator(p)],
        ['anonymous', (p: string) => app.req(p)],
      ] as const) {
        const res = await send(`/api/v1/workspaces/${workspaceId}/service-accounts`);
        assert.equal(res.status, 422, `${who} ${workspaceId}: ${res.body}`);
        const p = res.json<{ code: string; issues: { path: string }[] }>();
        assert.equal(p.code, 'VALIDATION_FAILED');
        assert.deepEqual(
          p.issues.map((i) => i.path),
          ['/ws'],
        );
      }
  });
});
