/**
 * Client-certificate TLS to PostgreSQL against a second cluster this test starts (own data
 * directory and port, ssl = on, a test CA, `hostssl … cert` only): connects with the right
 * certificate; refused without one, or with one from another CA, and the error says which; the
 * certificate is re-read on reload; its expiry is posture evidence.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { openDatabase, pingDatabase, type DatabaseHandle } from '../src/db/database.ts';
import { explainPgConnectError } from '../src/db/connection-options.ts';
import { platformControls } from '../src/modules/posture/index.ts';
import { freePort } from './helpers/cli.ts';
import { requirePeer } from './helpers/peers.ts';
import { createTestCa, type TestCa } from './helpers/test-ca.ts';
import { pgClusterMissing, startPgCluster, type PgCluster } from './peers/pg-cluster.ts';

describe('PostgreSQL with client certificates', () => {
  let ca: TestCa;
  let other: TestCa;
  let cluster: PgCluster;
  let url: string;
  let skip = false;
  const handles: DatabaseHandle[] = [];

  before(async (t) => {
    const missing = pgClusterMissing();
    if (!requirePeer(t as never, 'a second PostgreSQL cluster', missing === undefined, missing ?? '')) {
      skip = true;
      return;
    }
    ca = createTestCa();
    other = createTestCa();
    const port = await freePort();
    cluster = startPgCluster({ port, caFile: ca.caFile, ...ca.issue('pgserver') });
    url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  });
  after(async () => {
    for (const h of handles) await h.close().catch(() => undefined);
    if (skip) return;
    cluster.stop();
    ca.remove();
    other.remove();
  });

  const open = async (cert?: { certFile: string; keyFile: string }) => {
    const h = await openDatabase({
      kind: 'postgres',
      url,
      caFile: ca.caFile,
      allowWeakTls: false,
      ...(cert ? { clientCertFile: cert.certFile, clientKeyFile: cert.keyFile } : {}),
    });
    handles.push(h);
    return h;
  };

  test('the right certificate connects over verified TLS, and its expiry is evidence', async (t) => {
    if (skip) return t.skip('no cluster');
    const h = await open(ca.issue('postgres', 20, { client: true }));
    await pingDatabase(h.db);
    assert.match(h.summary, /TLS verify-full\), client certificate/);
    assert.match(h.clientCertificate!.subject, /CN=postgres/);
    const control = platformControls({ db: h.db, home: '/', database: h, nodeVersion: process.versions.node }).find(
      (c) => c.id === 'platform.database-tls',
    )!;
    const r = await control.check({ now: new Date() });
    assert.equal(r.status, 'warn', r.summary); // 20 days left
    assert.equal(r.evidence.clientCertificate, h.clientCertificate!.subject);
    const later = await control.check({ now: new Date(Date.now() + 21 * 86_400_000) });
    assert.equal(later.status, 'fail');
  });

  test('without a certificate: refused, and the error says a client certificate is required', async (t) => {
    if (skip) return t.skip('no cluster');
    const h = await open();
    const err = await pingDatabase(h.db).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err, 'refused');
    // Without a certificate the loopback default is no TLS: the server refuses the plain connection.
    assert.match(explainPgConnectError(err) ?? String(err), /requires a client certificate/);
  });

  test('a certificate from another CA: refused, and the error names the CA problem', async (t) => {
    if (skip) return t.skip('no cluster');
    const h = await open(other.issue('postgres', 30, { client: true }));
    const err = await pingDatabase(h.db).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err, 'refused');
    assert.match(explainPgConnectError(err) ?? String(err), /not signed by a CA the server accepts/);
  });

  test('reload: a renewed certificate is used by new connections', async (t) => {
    if (skip) return t.skip('no cluster');
    const first = ca.issue('postgres', 10, { client: true });
    const h = await open(first);
    await pingDatabase(h.db);
    const before = h.clientCertificate!.notAfter.getTime();
    const renewed = ca.issue('postgres', 200, { client: true }); // same file names: replaced in place
    copyFileSync(renewed.certFile, first.certFile);
    copyFileSync(renewed.keyFile, first.keyFile);
    h.reloadClientCertificate!();
    assert.ok(h.clientCertificate!.notAfter.getTime() > before);
    await pingDatabase(h.db);
  });
});
