/**
 * `strongroom audit verify | tail | search` as a child process, offline, on a prepared PGlite data
 * directory: exit 0 on a clean trail, exit 1 with each problem printed after tampering.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import { openDatabase } from '../src/db/database.ts';
import { createAuditModule } from '../src/modules/audit/index.ts';
import { BIN, cliAsync, freePort, runCli } from './helpers/cli.ts';
import { generateSelfSigned } from '../src/installation/tls.ts';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

const audit = (args: string[], env: Record<string, string>) => runCli(['audit', ...args], env);

describe('strongroom audit (offline CLI)', () => {
  let home: string;
  let env: Record<string, string>;

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'sr-audit-cli-'));
    // A port no server of this test listens on: a server of the developer's on the default port
    // must not be mistaken for this installation's.
    env = { STRONGROOM_HOME: home, STRONGROOM_HTTPS_PORT: String(await freePort()) };
    const init = runCli(['init'], env);
    assert.equal(init.status, 0, init.stderr);
    assert.ok(BIN.length > 0);
    const h = await openDatabase({ kind: 'pglite', dataDir: path.join(home, 'db') });
    try {
      const a = createAuditModule({
        db: h.db,
        barrier: createBarrier({ keyring: Keyring.create() }),
        logDir: path.join(home, 'logs'),
      });
      for (let i = 1; i <= 12; i++) {
        await h.db.transaction().execute((trx) =>
          a.record(trx, {
            actor: { id: i % 2 ? 'alice' : 'bob', kind: 'user' },
            action: 'vault.secret.read',
            resource: { type: 'secret', id: `s${i}` },
            outcome: i === 4 ? 'denied' : 'success',
            details: { i },
          }),
        );
      }
      await a.checkpointNow();
    } finally {
      await h.close();
    }
  });
  after(async () => rm(home, { recursive: true, force: true }));

  test('verify: exit 0 on a clean trail', () => {
    const r = audit(['verify'], env);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stderr, /offline: .*read the data directory directly/);
    assert.match(r.stdout, /^OK: 12 events verified, head at seq 12/);
  });

  test('tail and search', () => {
    const tail = audit(['tail', '-n', '3'], env);
    assert.equal(tail.status, 0, tail.stderr);
    assert.deepEqual(
      tail.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
      [10, 11, 12],
    );
    const s = audit(['search', '--actor', 'bob', '--format', 'csv'], env);
    assert.equal(s.status, 0, s.stderr);
    const lines = s.stdout.trim().split('\r\n');
    assert.match(lines[0]!, /^seq,time,actor_id/);
    assert.deepEqual(
      lines.slice(1).map((l) => Number(l.split(',')[0])),
      [2, 4, 6, 8, 10, 12],
    );
    const d = audit(['search', '--outcome', 'denied'], env);
    assert.deepEqual(
      d.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
      [4],
    );
  });

  test('verify: exit 1 and each problem printed with its seq after tampering', async () => {
    const h = await openDatabase({ kind: 'pglite', dataDir: path.join(home, 'db') });
    try {
      await sql`update audit_events set actor_id = 'mallory' where seq = 6`.execute(h.db);
      await sql`delete from audit_events where seq = 9`.execute(h.db);
    } finally {
      await h.close();
    }
    const r = audit(['verify'], env);
    assert.equal(r.status, 1, r.stderr + r.stdout);
    assert.match(r.stdout, /^edited at seq 6: /m);
    assert.match(r.stdout, /^gap at seq 9: /m);
    assert.match(r.stderr, /verification FAILED: \d+ problem\(s\)/);
  });

  test('a server of another installation on the configured port is named as such, not trusted', async () => {
    const { cert, key } = await generateSelfSigned();
    const other = https.createServer({ cert, key }, (_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const port = (other.address() as AddressInfo).port;
      const r = await cliAsync(['audit', 'verify'], { ...env, STRONGROOM_HTTPS_PORT: String(port) });
      assert.equal(r.status, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`is not the one of the data directory ${home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      );
      assert.doesNotMatch(r.stderr, /Unexpected error/);
    } finally {
      other.close();
    }
  });
});
