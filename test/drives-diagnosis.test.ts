/**
 * Issue 15 on drives, over HTTPS on both backends against real peers (s3rver, local TLS and TCP
 * servers on 127.0.0.1): the endpoint step really resolves through the egress guard ("cannot
 * resolve NAME" for a name under `.invalid`, and adding such a drive is a 422 naming the cause);
 * connection refused, TLS failures and timeouts each have their own step, reason and hint, and
 * none of them blames the credentials; CORS is informational while the console uploads through
 * Strongroom and names the public origin; "versioning off" warns with a hint; TLS of a local drive
 * is a skip. A drive page's data: usage with the datasets holding it, health history, credential
 * rotation (tested first, re-authenticated); removing a drive in use names its datasets.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import { expectAudit } from './helpers/audit.ts';
import { jsonBody, ownerSession, type Session } from './helpers/identity.ts';
import { generateSelfSigned } from '../src/installation/tls.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3Peer } from './peers/s3/s3rver.ts';

const WS = '/api/v1/workspaces/default';
const D = `${WS}/drives`;

interface Step {
  id: string;
  status: string;
  reason: string;
  hint?: string;
}
interface Report {
  ok: boolean;
  code?: string;
  steps: Step[];
  corsSuggestion?: unknown;
}

const listen = (srv: net.Server) =>
  new Promise<number>((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port)));
const close = (srv: net.Server) => new Promise<void>((resolve) => srv.close(() => resolve()));

for (const backend of BACKENDS) {
  describe(`drive diagnosis on ${backend}`, () => {
    let app: TestApp;
    let owner: Session;
    let s3: S3Peer;
    let skip = false;
    let tlsServer: https.Server;
    let silent: net.Server;
    const sockets = new Set<net.Socket>();
    const skipped = (t: Parameters<typeof requirePeer>[0]) =>
      skip && !requirePeer(t, 'PostgreSQL', false, 'start PostgreSQL at 127.0.0.1:5432');

    const s3Drive = (name: string, endpoint: string, creds: Record<string, string> = S3RVER_CREDENTIALS) => ({
      name,
      kind: 's3',
      config: { bucket: 'warehouse', endpoint, pathStyle: true },
      credentials: { provider: 's3', ...creds },
    });
    const test$ = async (body: unknown) => {
      const res = await owner.req(`${D}/test`, jsonBody(body));
      assert.equal(res.status, 200, res.body);
      return res.json<Report>();
    };
    const step = (r: Report, id: string) => r.steps.find((s) => s.id === id)!;

    before(async () => {
      if (backend === 'postgres' && !(await postgresAvailable())) {
        skip = true;
        return;
      }
      s3 = await startS3rver(['warehouse']);
      const { cert, key } = await generateSelfSigned();
      tlsServer = https.createServer({ cert, key }, (_req, res) => res.end('not a bucket'));
      silent = net.createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      await Promise.all([listen(tlsServer), listen(silent)]);
      app = await startTestApp(backend, {
        env: {
          STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32',
          STRONGROOM_DRIVE_HEALTH_SECONDS: '0',
          STRONGROOM_EGRESS_READ_TIMEOUT_MS: '1000',
          STRONGROOM_PUBLIC_URL: 'https://strongroom.example.test',
        },
      });
      owner = (await ownerSession(app)).session;
    });
    after(async () => {
      await app?.close();
      for (const s of sockets) s.destroy();
      if (silent) await close(silent);
      if (tlsServer) await close(tlsServer);
      await s3?.stop();
    });

    test('a name that does not resolve: "cannot resolve NAME" at the endpoint step; adding it is a 422', async (t) => {
      if (skipped(t)) return;
      const r = await test$(s3Drive('typo', 'http://no-such-bucket-host.invalid:9000'));
      assert.equal(r.code, 'DRIVE_UNREACHABLE', JSON.stringify(r));
      const endpoint = step(r, 'endpoint');
      assert.equal(endpoint.status, 'fail');
      assert.equal(endpoint.reason, 'cannot resolve no-such-bucket-host.invalid');
      assert.match(endpoint.hint!, /spelling of the host name/);
      assert.equal(step(r, 'credentials').status, 'skip', 'the credentials are not blamed');
      const added = await owner.req(D, jsonBody(s3Drive('typo', 'http://no-such-bucket-host.invalid:9000')));
      assert.equal(added.status, 422, added.body);
      const problem = added.json<{ code: string; detail: string; diagnosis: Report }>();
      assert.equal(problem.code, 'DRIVE_UNREACHABLE');
      assert.match(problem.detail, /cannot resolve no-such-bucket-host\.invalid/);
      assert.equal((await owner.req(`${D}/typo`)).status, 404, 'nothing was added');
      await expectAudit(app, { action: 'drive.drive.create', outcome: 'failure', resource: { id: 'typo' } });
    });

    test('an endpoint that is not a URL (in an Azure connection string) is a diagnosis, not a server error', async (t) => {
      if (skipped(t)) return;
      const res = await owner.req(
        `${D}/test`,
        jsonBody({
          name: 'odd',
          kind: 'azure',
          config: { container: 'datasets' },
          credentials: {
            provider: 'azure',
            kind: 'connection-string',
            connectionString: 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;BlobEndpoint=not a url',
          },
        }),
      );
      assert.equal(res.status, 200, res.body);
      const r = res.json<Report>();
      assert.equal(r.code, 'VALIDATION_FAILED');
      assert.equal(step(r, 'endpoint').reason, 'the endpoint is not a valid URL');
    });

    test('an allowed address passes the endpoint step by naming it', async (t) => {
      if (skipped(t)) return;
      const r = await test$(s3Drive('fine', s3.endpoint));
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.match(step(r, 'endpoint').reason, /resolves to 127\.0\.0\.1 \(allowed\)/);
      assert.equal(step(r, 'connect').status, 'pass');
    });

    test('connection refused, TLS failures and a silent server each say so, never blaming the credentials', async (t) => {
      if (skipped(t)) return;
      const free = net.createServer();
      const port = await listen(free);
      await close(free);
      const refused = await test$(s3Drive('refused', `http://127.0.0.1:${port}`));
      assert.equal(refused.code, 'DRIVE_UNREACHABLE');
      assert.equal(step(refused, 'connect').status, 'fail');
      assert.equal(step(refused, 'connect').reason, `127.0.0.1:${port} refused the connection`);
      assert.match(step(refused, 'connect').hint!, /check the port/);
      assert.equal(step(refused, 'credentials').status, 'skip');

      const tlsPort = (tlsServer.address() as net.AddressInfo).port;
      const untrusted = await test$(s3Drive('untrusted', `https://127.0.0.1:${tlsPort}`));
      assert.equal(untrusted.code, 'DRIVE_UNREACHABLE', JSON.stringify(untrusted));
      assert.equal(step(untrusted, 'connect').status, 'pass');
      assert.equal(step(untrusted, 'tls').status, 'fail');
      assert.match(step(untrusted, 'tls').reason, /not signed by a certificate authority Strongroom trusts/);
      assert.match(step(untrusted, 'tls').hint!, /NODE_EXTRA_CA_CERTS/);

      const s3Port = new URL(s3.endpoint).port;
      const plain = await test$(s3Drive('plain', `https://127.0.0.1:${s3Port}`));
      assert.equal(step(plain, 'tls').status, 'fail', JSON.stringify(plain));
      assert.equal(step(plain, 'tls').reason, `the TLS handshake with 127.0.0.1:${s3Port} failed`);

      const silentPort = (silent.address() as net.AddressInfo).port;
      const slow = await test$(s3Drive('slow', `http://127.0.0.1:${silentPort}`));
      assert.equal(slow.code, 'DRIVE_UNREACHABLE', JSON.stringify(slow));
      assert.equal(step(slow, 'connect').status, 'fail');
      assert.equal(step(slow, 'connect').reason, `no answer from 127.0.0.1:${silentPort} in time`);
      assert.match(step(slow, 'connect').hint!, /firewall/);
      assert.equal(step(slow, 'credentials').status, 'skip');
    });

    test('CORS is informational and names the public origin; versioning off warns; local TLS is a skip', async (t) => {
      if (skipped(t)) return;
      const r = await test$(s3Drive('cors', s3.endpoint));
      const cors = step(r, 'cors');
      assert.equal(cors.status, 'skip', JSON.stringify(cors));
      assert.match(cors.reason, /informational: the console uploads through Strongroom/);
      assert.match(cors.reason, /https:\/\/strongroom\.example\.test/);
      assert.ok(!/localhost/.test(cors.reason));
      assert.equal(r.corsSuggestion, undefined, 'no rules to paste for uploads the console does not make');
      assert.ok(!JSON.stringify(r).includes('corsSuggestion'), 'no hint names an API field');
      const versioning = step(r, 'versioning');
      assert.equal(versioning.status, 'warn', JSON.stringify(versioning));
      assert.match(versioning.hint!, /Turn on bucket versioning/);
      const local = (await owner.req(`${D}/default/test`, { method: 'POST' })).json<Report>();
      assert.equal(step(local, 'tls').status, 'skip');
      assert.equal(step(local, 'tls').reason, 'not applicable to a local directory');
      assert.equal(step(local, 'connect').status, 'skip');
    });

    test('drive page data: usage with its datasets, health history, rotation; removal names the datasets', async (t) => {
      if (skipped(t)) return;
      const added = await owner.req(D, jsonBody(s3Drive('lake', s3.endpoint)));
      assert.equal(added.status, 201, added.body);
      for (const name of ['alpha', 'beta'])
        assert.equal(
          (
            await owner.req(`${WS}/datasets/${name}/versions?drive=lake`, {
              method: 'PUT',
              headers: { 'content-type': 'application/octet-stream' },
              body: `${name}\n1\n`,
            })
          ).status,
          201,
        );
      const usage = (await owner.req(`${D}/lake/usage`)).json<{
        versions: number;
        bytes: number;
        datasets: string[];
      }>();
      assert.deepEqual(usage, { versions: 2, bytes: 15, datasets: ['alpha', 'beta'] });
      const shown = await owner.req(`${D}/lake`);
      assert.ok(!/secretAccessKey|S3RVER/.test(shown.body), 'settings without secrets');

      assert.equal((await owner.req(`${D}/lake/test`, { method: 'POST' })).status, 200);
      const history = (await owner.req(`${D}/lake/health`)).json<{ checks: { ok: boolean; code: string | null }[] }>();
      assert.equal(history.checks.length, 2, 'the test on add and the re-test');
      assert.ok(history.checks.every((c) => c.ok && c.code === null));

      const bad = await owner.req(
        `${D}/lake/credentials`,
        jsonBody({ credentials: { provider: 's3', accessKeyId: 'WRONG', secretAccessKey: 'WRONG' } }, 'PUT'),
      );
      assert.equal(bad.status, 422, bad.body);
      assert.equal(bad.json<{ code: string }>().code, 'DRIVE_AUTH_FAILED');
      assert.match(bad.json<{ detail: string }>().detail, /The old credentials stay in use/);
      assert.equal(
        (await owner.req(`${D}/lake/test`, { method: 'POST' })).json<Report>().ok,
        true,
        'old ones still work',
      );
      const rotated = await owner.req(
        `${D}/lake/credentials`,
        jsonBody({ credentials: { provider: 's3', ...S3RVER_CREDENTIALS } }, 'PUT'),
      );
      assert.equal(rotated.status, 200, rotated.body);
      assert.ok(!rotated.body.includes(S3RVER_CREDENTIALS.secretAccessKey), 'the answer has no secret');
      const meta = await owner.req(`${WS}/secrets/metadata/drives/lake/credentials`);
      assert.equal(meta.json<{ currentVersion: number }>().currentVersion, 2, 'a new version of the drive secret');
      await expectAudit(app, {
        action: 'drive.drive.update',
        outcome: 'success',
        resource: { id: 'lake' },
        details: { credentials: 'rotated' },
        mustNotContain: [S3RVER_CREDENTIALS.secretAccessKey],
      });
      await app.server.database.db
        .updateTable('sessions')
        .set({ authenticated_at: new Date(Date.now() - 3600_000) })
        .execute();
      const stale = await owner.req(
        `${D}/lake/credentials`,
        jsonBody({ credentials: { provider: 's3', ...S3RVER_CREDENTIALS } }, 'PUT'),
      );
      assert.equal(stale.json<{ code: string }>().code, 'REAUTH_REQUIRED');

      const removed = await owner.req(`${D}/lake`, { method: 'DELETE' });
      assert.equal(removed.status, 409);
      const problem = removed.json<{ detail: string; datasets: string[] }>();
      assert.match(problem.detail, /alpha, beta/);
      assert.deepEqual(problem.datasets, ['alpha', 'beta']);
    });
  });
}
