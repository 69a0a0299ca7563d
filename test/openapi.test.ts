/** The OpenAPI document is generated from the routes' schemas and covers the vault and keys APIs. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp('pglite');
});
after(async () => {
  await app.close();
});

test('GET /api/v1/openapi.json describes the API (paths, schemas, security schemes)', async () => {
  const res = await app.req('/api/v1/openapi.json');
  assert.equal(res.status, 200, res.body);
  const doc = res.json<any>();
  assert.equal(doc.openapi, '3.1.0');
  const paths = Object.keys(doc.paths);
  for (const p of [
    '/api/v1/auth/login',
    '/api/v1/keys/rotate',
    '/api/v1/audit/events',
    '/api/v1/workspaces/{ws}/secrets',
    '/api/v1/workspaces/{ws}/policies',
  ]) {
    assert.ok(paths.includes(p), `${p} is documented (have ${paths.length} paths)`);
  }
  assert.ok(
    paths.some((p) => p.startsWith('/api/v1/workspaces/{ws}/secrets/reveal')),
    'the reveal route is documented',
  );
  assert.ok(!paths.includes('/api/v1/openapi.json'), 'the document route hides itself');
  const login = doc.paths['/api/v1/auth/login'].post;
  assert.ok(JSON.stringify(login.requestBody).includes('password'), 'request schemas come from zod');
  assert.ok(doc.components.securitySchemes.session && doc.components.securitySchemes.bearer);
});
