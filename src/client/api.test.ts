/**
 * The client's route table: every dynamic segment is URI-encoded (a name cannot climb out of its
 * segment or start a query), secret paths keep their `/`, and queries leave out absent values.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createApi, paths, type JsonTransport } from './api.ts';

describe('client paths', () => {
  test('segments are encoded: a name cannot change the route', () => {
    assert.equal(paths.dataset('a/b', '../x?y#z'), '/api/v1/workspaces/a%2Fb/datasets/..%2Fx%3Fy%23z');
    assert.equal(paths.drive('w', 'd 1'), '/api/v1/workspaces/w/drives/d%201');
    assert.equal(paths.userDisable('w', 'u/1'), '/api/v1/workspaces/w/users/u%2F1/disable');
    assert.equal(paths.token('t?x=1'), '/api/v1/tokens/t%3Fx%3D1');
    assert.equal(paths.workspaceKeyExport('w/../x'), '/api/v1/keys/workspaces/w%2F..%2Fx/export');
    assert.equal(paths.uploadPart('w', 'ds', 'up_1', 3), '/api/v1/workspaces/w/datasets/ds/uploads/up_1/parts/3');
  });

  test('a secret path keeps its slashes; each segment is encoded', () => {
    assert.equal(
      paths.secret('w', 'reveal', 'app/db pass', { version: 2 }),
      '/api/v1/workspaces/w/secrets/reveal/app/db%20pass?version=2',
    );
    assert.equal(paths.secret('w', 'data', 'a/%2F'), '/api/v1/workspaces/w/secrets/data/a/%252F');
  });

  test('queries leave out undefined and empty values and repeat arrays', () => {
    assert.equal(
      paths.datasetVersions('w', 'ds', { size: 3, drive: undefined, description: '', tag: ['a', 'b'] }),
      '/api/v1/workspaces/w/datasets/ds/versions?size=3&tag=a&tag=b',
    );
    assert.equal(paths.datasets('w'), '/api/v1/workspaces/w/datasets');
    assert.equal(paths.auditTrailEvents({ order: 'desc', limit: 5 }), '/api/v1/audit/events?order=desc&limit=5');
  });

  test('the typed functions send their method, path and body through the transport', async () => {
    const seen: [string, string, unknown][] = [];
    const t: JsonTransport = {
      request: async <T>(m: string, p: string, b?: unknown) => (seen.push([m, p, b]), {} as T),
    };
    const api = createApi(t);
    await api.secrets.rollback('w', 'a/b', 2);
    await api.keys.retireTerm(4);
    await api.sys.unseal('share-1234');
    await api.datasets.version('w', 'ds', 7);
    assert.deepEqual(seen, [
      ['POST', '/api/v1/workspaces/w/secrets/rollback/a/b', { version: 2 }],
      ['POST', '/api/v1/keys/terms/4/retire', undefined],
      ['POST', '/api/v1/sys/unseal', { share: 'share-1234' }],
      ['GET', '/api/v1/workspaces/w/datasets/ds/versions/7', undefined],
    ]);
  });
});
