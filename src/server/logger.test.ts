import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, redact, scrubText, REDACTED } from './logger.ts';

const CANARY = 'CANARY-logger-5e1d';

test('fields named like credentials are redacted at any depth; others stay', () => {
  const out = redact({
    a: { password: CANARY, nested: [{ apiKey: CANARY, client_secret: CANARY, name: 'ok' }] },
    sessionToken: CANARY,
    keyId: 'k1',
  }) as Record<string, any>;
  const text = JSON.stringify(out);
  assert.ok(!text.includes(CANARY), text);
  assert.equal(out.a.password, REDACTED);
  assert.equal(out.a.nested[0].name, 'ok');
  assert.equal(out.keyId, 'k1');
});

test('inline credentials in free text are scrubbed', () => {
  for (const s of [
    `password=${CANARY}`,
    `connect postgres://app:${CANARY}@db:5432/x failed`,
    `Authorization: Bearer ${CANARY}`,
    `{"token":"${CANARY}"}`,
    `api_key: ${CANARY}`,
  ]) {
    assert.ok(!scrubText(s).includes(CANARY), `${s} → ${scrubText(s)}`);
  }
  assert.equal(scrubText('nothing to hide here'), 'nothing to hide here');
});

test('a logger writes no canary, whatever shape it is logged in', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
  const log = createLogger('info', sink);
  log.info({ user: { password: CANARY } }, 'one');
  log.error({ err: new Error(`failed with secret=${CANARY}`) }, 'two');
  log.info({ headers: { authorization: `Bearer ${CANARY}`, cookie: `sid=${CANARY}` } }, 'three');
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 3);
  for (const l of lines) assert.ok(!l.includes(CANARY), l);
  const circular: Record<string, unknown> = { name: 'x' };
  circular.self = circular;
  assert.doesNotThrow(() => redact(circular));
});
