/**
 * Security posture over HTTPS on both backends: the operator's installation report with live
 * evidence (TLS scanned by connecting, HSTS and the redirect, the certificate, keys, audit chain),
 * controls driven to pass/warn/fail (first-run credential, MFA of admins, key term age through an
 * injected clock), changes to fail audited, workspace reports confined to their workspace,
 * default deny, history, metrics, signed evidence packs (a tampered one fails), and scheduled
 * rotation when the term is too old.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { BACKENDS, postgresAvailable } from './helpers/db.ts';
import { startTestApp, type TestApp } from './helpers/app.ts';
import { requirePeer } from './helpers/peers.ts';
import { expectAudit } from './helpers/audit.ts';
import { createUser, createWorkspace, GOOD_PASSWORD, jsonBody, login, ownerSession } from './helpers/identity.ts';
import { verifyEvidencePack, type PostureReport } from '../src/modules/posture/index.ts';
import { rotateIfDue } from '../src/modules/keys/index.ts';

const DAY = 24 * 3600 * 1000;
const byId = (r: PostureReport, id: string) => {
  const c = r.controls.find((x) => x.id === id);
  assert.ok(c, `control ${id} in the report`);
  return c;
};

const EXPECTED_CONTROLS = [
  'audit.chain',
  'audit.checkpoint-export',
  'audit.streaming',
  'backups.drill',
  'backups.freshness',
  'backups.recovery-key',
  'drives.health',
  'encryption.at-rest',
  'identity.inactive-users',
  'identity.mfa-privileged',
  'identity.token-lifetime',
  'keys.rewrap',
  'keys.root-provider',
  'keys.seal',
  'keys.term-age',
  'network.client-allowlist',
  'platform.data-dir',
  'platform.database-tls',
  'platform.first-run-credential',
  'platform.versions',
  'retention.audit-class',
  'retention.terminations',
  'sso.break-glass',
  'sso.configured',
  'sso.enforced',
  'tls.certificate',
  'tls.hsts-redirect',
  'tls.protocols',
  'vault.secrets-due',
];

function metrics(app: TestApp): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(`http://127.0.0.1:${app.server.metricsPort}/metrics`, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

for (const backend of BACKENDS) {
  describe(`security posture API on ${backend}`, () => {
    let app: TestApp;
    let skip = false;
    let offsetMs = 0;
    before(async (t) => {
      if (
        backend === 'postgres' &&
        !requirePeer(t as never, 'PostgreSQL', await postgresAvailable(), 'pg_ctlcluster 15 main start')
      ) {
        skip = true;
        return;
      }
      app = await startTestApp(backend, {
        env: { STRONGROOM_POSTURE_CHECK_SECONDS: '0', STRONGROOM_KEY_ROTATION_DAYS: '90' },
        now: () => new Date(Date.now() + offsetMs),
      });
    });
    after(async () => {
      if (!skip) await app.close();
    });

    test('the installation report: every control, live TLS evidence, an open setup token fails', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const res = await app.asOperator('/api/v1/posture/run', { method: 'POST' });
      assert.equal(res.status, 200, res.body);
      const r = res.json<PostureReport>();
      assert.deepEqual(r.controls.map((c) => c.id).sort(), EXPECTED_CONTROLS);
      const tls = byId(r, 'tls.protocols');
      assert.equal(tls.status, 'pass', tls.summary);
      assert.deepEqual(tls.evidence.accepted, ['TLSv1.2', 'TLSv1.3']);
      assert.ok((tls.evidence.tls12Suites as string[]).every((s) => s.startsWith('ECDHE-')));
      assert.equal(byId(r, 'tls.hsts-redirect').status, 'pass');
      assert.equal(byId(r, 'tls.hsts-redirect').evidence.httpStatus, 308);
      assert.equal(byId(r, 'tls.certificate').status, 'warn'); // the test certificate is self-signed
      assert.equal(byId(r, 'keys.seal').status, 'pass');
      assert.equal(byId(r, 'keys.root-provider').status, 'warn'); // file provider
      assert.equal(byId(r, 'keys.term-age').status, 'pass');
      assert.equal(byId(r, 'audit.chain').status, 'pass');
      assert.equal(byId(r, 'audit.streaming').status, 'warn'); // no sink configured
      assert.equal(byId(r, 'platform.data-dir').status, 'pass');
      assert.equal(byId(r, 'platform.versions').status, 'pass', byId(r, 'platform.versions').summary);
      assert.equal(byId(r, 'platform.database-tls').status, backend === 'pglite' ? 'pass' : 'warn');
      const first = byId(r, 'platform.first-run-credential');
      assert.equal(first.status, 'fail');
      assert.equal(first.evidence.open, 1);
      assert.ok(first.frameworks.pciDss?.includes('8.3.5'));
      await expectAudit(app, { action: 'posture.control.run', outcome: 'success', actorId: 'operator' });
      await expectAudit(app, {
        action: 'posture.control.failed',
        outcome: 'failure',
        resource: { type: 'posture-control', id: 'platform.first-run-credential' },
        details: { from: 'none', to: 'fail' },
      });

      // Consuming the setup token drives it to pass; the change back is audited too.
      const setup = await app.req(
        '/api/v1/setup',
        jsonBody({ token: app.setupToken, email: 'first@corp.test', password: GOOD_PASSWORD, displayName: 'First' }),
      );
      assert.equal(setup.status, 201, setup.body);
      const again = (await app.asOperator('/api/v1/posture/run', { method: 'POST' })).json<PostureReport>();
      assert.equal(byId(again, 'platform.first-run-credential').status, 'pass');
      await expectAudit(app, {
        action: 'posture.control.recovered',
        resource: { id: 'platform.first-run-credential' },
        details: { from: 'fail', to: 'pass' },
      });
      // The setup owner has no MFA yet: the installation's MFA control fails and names them.
      const mfa = byId(again, 'identity.mfa-privileged');
      assert.equal(mfa.status, 'fail');
      assert.deepEqual(mfa.evidence.withoutMfa, ['default/first@corp.test']);
    });

    test('default deny: no credential 401, a viewer 403, a user on the installation route 403; all audited', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      assert.equal((await app.req('/api/v1/posture')).status, 401);
      await createWorkspace(app, 'ws-v');
      const viewerUser = await createUser(app, 'viewer@corp.test', { role: 'viewer', workspace: 'ws-v' });
      const viewer = await login(app, 'viewer@corp.test');
      const denied = await viewer.req('/api/v1/workspaces/ws-v/posture');
      assert.equal(denied.status, 403);
      await expectAudit(app, { action: 'posture.control.read', outcome: 'denied', actorId: viewerUser.id });
      const owner = await ownerSession(app, 'owner-v@corp.test', 'ws-v');
      assert.equal((await owner.session.req('/api/v1/posture')).status, 403);
      assert.equal((await owner.session.req('/api/v1/posture/evidence', { method: 'POST' })).status, 403);
    });

    test('a workspace report: its admins only, never another tenant; an admin without MFA fails it', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      await createWorkspace(app, 'ws-a');
      const owner = await ownerSession(app, 'owner-a@corp.test', 'ws-a');
      const run = async () => {
        const res = await owner.session.req('/api/v1/workspaces/ws-a/posture/run', { method: 'POST' });
        assert.equal(res.status, 200, res.body);
        return res.json<PostureReport>();
      };
      const ok = await run();
      assert.equal(ok.scope, 'ws-a');
      assert.equal(byId(ok, 'identity.mfa-privileged').status, 'pass');
      assert.ok(!JSON.stringify(ok).includes('first@corp.test'), 'another workspace’s people stay out');
      assert.ok(!JSON.stringify(ok).includes('ws-v'));
      await createUser(app, 'admin-a@corp.test', { role: 'admin', workspace: 'ws-a' });
      const bad = await run();
      const mfa = byId(bad, 'identity.mfa-privileged');
      assert.equal(mfa.status, 'fail');
      assert.deepEqual(mfa.evidence.withoutMfa, ['admin-a@corp.test']);
      assert.ok(mfa.remedy.length > 0);
      await expectAudit(app, {
        action: 'posture.control.failed',
        resource: { id: 'identity.mfa-privileged', workspace: 'ws-a' },
      });
      const hist = await owner.session.req('/api/v1/workspaces/ws-a/posture/history?control=identity.mfa-privileged');
      assert.deepEqual(
        hist.json<{ results: { status: string }[] }>().results.map((h) => h.status),
        ['fail', 'pass'],
      );
      const bad422 = await owner.session.req('/api/v1/workspaces/ws-a/posture/history?control=..%2Fetc');
      assert.equal(bad422.status, 422);
      assert.equal(bad422.headers['content-type'], 'application/problem+json; charset=utf-8');
    });

    test('evidence pack: signed with the audit key, verifiable offline; any edit fails', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      const res = await app.asOperator('/api/v1/posture/evidence', { method: 'POST' });
      assert.equal(res.status, 200, res.body);
      const { pack, html, publicKeyPem } = res.json<{
        pack: Record<string, unknown>;
        html: string;
        publicKeyPem: string;
      }>();
      assert.equal(pack.format, 'strongroom/evidence-pack/v1');
      assert.ok((pack.auditHead as { seq: number }).seq > 0);
      assert.match(publicKeyPem, /BEGIN PUBLIC KEY/);
      assert.deepEqual(verifyEvidencePack(pack, publicKeyPem), {
        ok: true,
        problems: [],
        keyId: (pack.signature as { keyId: string }).keyId,
      });
      assert.match(html, /Strongroom security evidence/);
      assert.ok(!html.includes('<script'));
      const tampered = structuredClone(pack) as { report: PostureReport };
      byId(tampered.report, 'identity.mfa-privileged').status = 'pass';
      const verdict = verifyEvidencePack(tampered, publicKeyPem);
      assert.equal(verdict.ok, false);
      assert.match(verdict.problems.join(), /does not match/);
      await expectAudit(app, { action: 'posture.evidence.export', actorId: 'operator' });
    });

    test('key term age: warn near the schedule, fail past it (injected clock); scheduled rotation fixes it', async (t) => {
      if (skip) return t.skip('no PostgreSQL');
      offsetMs = 85 * DAY;
      let r = (await app.asOperator('/api/v1/posture/run', { method: 'POST' })).json<PostureReport>();
      assert.equal(byId(r, 'keys.term-age').status, 'warn');
      offsetMs = 91 * DAY;
      r = (await app.asOperator('/api/v1/posture/run', { method: 'POST' })).json<PostureReport>();
      const age = byId(r, 'keys.term-age');
      assert.equal(age.status, 'fail');
      assert.equal(age.evidence.scheduleDays, 90);
      assert.match(await metrics(app), /strongroom_posture_control_status\{control="keys.term-age"\} 2/);

      const before = (await app.server.keys.status()).activeTerm!;
      const outcome = await rotateIfDue({
        keys: app.server.keys,
        home: app.home,
        rotationDays: 90,
        now: () => new Date(Date.now() + offsetMs),
        record: (e, trx) => {
          const input = {
            actor: { id: 'system', kind: 'system' as const, authMethod: 'schedule' },
            action: e.action,
            outcome: 'success' as const,
            resource: { type: 'keyring', id: 'root' },
            details: e.details,
          };
          return trx ? app.server.audit.record(trx, input) : app.server.audit.recordCommitted(input);
        },
      });
      assert.equal(outcome.rotated, true);
      assert.equal(outcome.activeTerm, before + 1);
      await outcome.rewrap;
      await expectAudit(app, {
        action: 'keys.keyring.rotate',
        actorId: 'system',
        details: { schedule: true, previousTerm: before },
      });
      await expectAudit(app, { action: 'keys.keyring.rewrap', actorId: 'system', details: { taskId: outcome.taskId } });
      offsetMs = 0;
      r = (await app.asOperator('/api/v1/posture/run', { method: 'POST' })).json<PostureReport>();
      assert.equal(byId(r, 'keys.term-age').status, 'pass');
      assert.equal(byId(r, 'keys.rewrap').status, 'pass', byId(r, 'keys.rewrap').summary);
      // Not due: nothing happens.
      const again = await rotateIfDue({
        keys: app.server.keys,
        home: app.home,
        rotationDays: 90,
        record: async () => undefined,
      });
      assert.equal(again.rotated, false);
    });
  });
}
