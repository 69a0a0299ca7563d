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

/**
 * Every JSON route declares its answer's schema (the typed client and the console read the same
 * shape). The routes listed here do not yet (a 204, a stream, a file, a redirect or a schema still
 * to write); the list may only shrink: a new route without a response schema fails this test.
 */
const WITHOUT_RESPONSE_SCHEMA: string[] = [
  'DELETE /api/v1/auth/mfa',
  'DELETE /api/v1/backups/targets/{name}',
  'DELETE /api/v1/holds/{id}',
  'DELETE /api/v1/retention/terminations/{ws}',
  'DELETE /api/v1/sso/providers/{provider}',
  'DELETE /api/v1/tokens/{id}',
  'DELETE /api/v1/workspaces/{ws}/data-policies/{name}',
  'DELETE /api/v1/workspaces/{ws}/datasets/{name}/uploads/{id}',
  'DELETE /api/v1/workspaces/{ws}/policies/{id}',
  'DELETE /api/v1/workspaces/{ws}/sso/scim-token',
  'DELETE /api/v1/workspaces/{ws}/tokens/{id}',
  'DELETE /scim/v2/Groups/{id}',
  'DELETE /scim/v2/Users/{id}',
  'GET /api/v1/audit/events',
  'GET /api/v1/audit/export',
  'GET /api/v1/auth/sso/{provider}/saml/metadata',
  'GET /api/v1/auth/sso/{provider}/start',
  'GET /api/v1/backups',
  'GET /api/v1/backups/status',
  'GET /api/v1/backups/targets',
  'GET /api/v1/backups/{id}',
  'GET /api/v1/holds',
  'GET /api/v1/retention',
  'GET /api/v1/retention/users/{id}/export',
  'GET /api/v1/workspaces/{ws}/audit/events',
  'GET /api/v1/workspaces/{ws}/audit/export',
  'GET /api/v1/workspaces/{ws}/data-policies',
  'GET /api/v1/workspaces/{ws}/data-policies/{name}',
  'GET /api/v1/workspaces/{ws}/data-policies/{name}/history',
  'GET /api/v1/workspaces/{ws}/datasets/{name}/versions/{v}/content',
  'GET /api/v1/workspaces/{ws}/datasets/{name}/versions/{v}/export',
  'GET /api/v1/workspaces/{ws}/datasets/{name}/versions/{v}/preview',
  'GET /api/v1/workspaces/{ws}/datasets/{name}/versions/{v}/profile',
  'GET /healthz',
  'GET /readyz',
  'GET /scim/v2/Groups',
  'GET /scim/v2/Groups/{id}',
  'GET /scim/v2/ServiceProviderConfig',
  'GET /scim/v2/Users',
  'GET /scim/v2/Users/{id}',
  'PATCH /scim/v2/Groups/{id}',
  'PATCH /scim/v2/Users/{id}',
  'POST /api/v1/auth/logout',
  'POST /api/v1/auth/password',
  'POST /api/v1/auth/reauth',
  'POST /api/v1/auth/sessions/revoke-all',
  'POST /api/v1/auth/sso/{provider}/link',
  'POST /api/v1/backups',
  'POST /api/v1/backups/prune',
  'POST /api/v1/backups/recovery-key',
  'POST /api/v1/backups/targets',
  'POST /api/v1/backups/{id}/verify',
  'POST /api/v1/keys/rotate',
  'POST /api/v1/keys/rotate-root',
  'POST /api/v1/keys/terms/{term}/retire',
  'POST /api/v1/keys/workspaces/{ws}/destroy',
  'POST /api/v1/keys/workspaces/{ws}/destroy/confirm',
  'POST /api/v1/keys/workspaces/{ws}/export',
  'POST /api/v1/retention/purge',
  'POST /api/v1/retention/users/{id}/erase',
  'POST /api/v1/sys/reload-root-key',
  'POST /api/v1/sys/seal',
  'POST /api/v1/sys/unseal',
  'POST /api/v1/workspaces/{ws}/query',
  'POST /api/v1/workspaces/{ws}/service-accounts/{id}/disable',
  'POST /api/v1/workspaces/{ws}/users/{id}/disable',
  'POST /scim/v2/Groups',
  'POST /scim/v2/Users',
  'PUT /api/v1/retention',
  'PUT /api/v1/workspaces/{ws}/data-policies/{name}',
  'PUT /api/v1/workspaces/{ws}/sso/enforcement',
  'PUT /api/v1/workspaces/{ws}/sso/mappings/{provider}',
  'PUT /api/v1/workspaces/{ws}/users/{id}/roles',
  'PUT /scim/v2/Users/{id}',
];

test('every route declares a response schema, except the listed ones', async () => {
  const doc = (await app.req('/api/v1/openapi.json')).json<any>();
  const missing: string[] = [];
  // The console's page routes exist only where the console is built (web/dist): not counted.
  const consolePages = new Set(['/', '/assets/{*}', '/{*}']);
  for (const [path, ops] of Object.entries<Record<string, any>>(doc.paths).filter(([p]) => !consolePages.has(p)))
    for (const [method, op] of Object.entries<any>(ops)) {
      const answers = Object.entries<any>(op.responses ?? {}).filter(([code]) => /^2/.test(code));
      if (!answers.some(([, r]) => r?.content)) missing.push(`${method.toUpperCase()} ${path}`);
    }
  missing.sort();
  assert.deepEqual(missing, [...WITHOUT_RESPONSE_SCHEMA].sort());
});
