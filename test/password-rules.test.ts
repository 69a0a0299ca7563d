/**
 * The console's live password rules (web/src/lib/password-rules.ts) against the server's
 * `checkPassword`: whatever the console flags, the server refuses; whatever the server refuses
 * for length or context words, the console flags (the common-password list is the server's only).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkPassword } from '../src/modules/identity/index.ts';
import { passwordProblem } from '../web/src/lib/password-rules.ts';

const ctx = { email: 'frida.founder@acme-corp.example', displayName: 'Frida Founder', mfa: false };

test('the console flags exactly what the server refuses for length and context words', () => {
  const cases = [
    'short',
    'exactly fourteen',
    'a quiet lighthouse keeps watch',
    'my name is frida, hello there',
    'works at acme-corp for decades',
    'STRONGROOM is my vault password',
    'ｆｕｌｌｗｉｄｔｈ letters count once',
    'x'.repeat(257),
  ];
  for (const p of cases) {
    const server = checkPassword(p, ctx);
    const console = passwordProblem(p, ctx);
    if (server && /common or breached/.test(server)) continue;
    assert.equal(Boolean(console), Boolean(server), `${p}: server ${server} / console ${console}`);
  }
  assert.equal(passwordProblem('', ctx), undefined, 'nothing typed: nothing flagged yet');
  assert.match(passwordProblem('short and sweet', { mfa: true }) ?? 'ok', /ok/);
});

test('property: a console refusal is always a server refusal', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), fc.boolean(), (p, mfa) => {
      if (p === '') return;
      const c = { ...ctx, mfa };
      if (passwordProblem(p, c)) assert.ok(checkPassword(p, c), `console refuses "${p}" but the server accepts it`);
    }),
  );
});
