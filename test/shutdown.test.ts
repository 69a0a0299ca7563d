/** Graceful shutdown: in-flight requests finish, new connections are refused, the DB closes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { startTestApp } from './helpers/app.ts';

test('close() lets an in-flight request finish, then refuses new ones and closes the database', async () => {
  let started!: () => void;
  const inHandler = new Promise<void>((r) => (started = r));
  const app = await startTestApp('pglite', {
    extraRoutes: (f) => {
      f.get('/test/slow', { config: { access: { public: 'test probe' } } }, async () => {
        started();
        await new Promise((r) => setTimeout(r, 500));
        return { slow: 'done' };
      });
    },
  });
  const inFlight = app.req('/test/slow');
  await inHandler; // the request is being handled when shutdown begins
  const closing = app.server.close();
  const res = await inFlight;
  assert.equal(res.status, 200);
  assert.deepEqual(res.json(), { slow: 'done' });
  await closing;
  await assert.rejects(app.req('/healthz'), /ECONNREFUSED/);
  await assert.rejects(sql`select 1`.execute(app.server.database.db));
});

test('a route registered without an access declaration stops the server from starting (default deny)', async () => {
  await assert.rejects(
    startTestApp('pglite', {
      extraRoutes: (f) => {
        f.get('/test/undeclared', async () => ({ leaked: true }));
      },
    }),
    (err: Error) =>
      err.name === 'UndeclaredRouteError' && /GET \/test\/undeclared declares no access/.test(err.message),
  );
});

test('a route that leaves its success unaudited but is not a read of the caller itself stops the server from starting', async () => {
  const { registerRoutes } = await import('../src/server/pipeline.ts');
  const { route } = await import('../src/http/route.ts');
  await assert.rejects(
    startTestApp('pglite', {
      extraRoutes: (f) => {
        registerRoutes(
          f,
          [
            route({
              method: 'GET',
              url: '/test/quiet/:ws',
              action: 'vault.secret.list',
              resource: 'workspace',
              run: 'read',
              unaudited: 'would hide reads of workspace data',
              schema: {},
              handler: () => ({ quiet: true }),
            }),
          ],
          {
            audit: undefined as never,
            db: undefined as never,
            authorize: () => ({ allowed: false, reason: 'x', policies: [] }),
          },
        );
      },
    }),
    /GET \/test\/quiet\/:ws: only a GET read of the caller's own account may leave success unaudited/,
  );
});
