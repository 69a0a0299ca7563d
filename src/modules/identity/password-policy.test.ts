import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPassword } from './password-policy.ts';
import { hashPassword, needsRehash, verifyPassword } from './password-hash.ts';

const ctx = { email: 'ada.lovelace@example.org', displayName: 'Ada Lovelace', mfa: false };

test('length: 15 without MFA, 8 with MFA; 64+ and up to 256 accepted; 257 refused', () => {
  assert.match(checkPassword('tangerine-moss', ctx)!, /at least 15/);
  assert.equal(checkPassword('tangerine-moss!', ctx), undefined);
  assert.equal(checkPassword('kx9-vole', { ...ctx, mfa: true }), undefined);
  assert.match(checkPassword('kx9-vol', { ...ctx, mfa: true })!, /at least 8/);
  assert.equal(checkPassword('q'.repeat(40) + 'w'.repeat(40), ctx), undefined);
  assert.equal(checkPassword('zebra crossing '.repeat(17).slice(0, 256), ctx), undefined);
  assert.match(checkPassword('z'.repeat(257), ctx)!, /at most 256/);
});

test('common/breached passwords and context words are refused with the reason', () => {
  assert.match(checkPassword('passwordpassword', ctx)!, /common or breached/);
  assert.match(checkPassword('1qaz2wsx3edc4rfv', ctx)!, /common or breached/);
  assert.match(checkPassword('my strongroom password!', ctx)!, /product name/);
  assert.match(checkPassword('ada.lovelace rocks 2024', ctx)!, /name or email/);
  assert.match(checkPassword('i work at example dot org', ctx)!, /name or email/);
  assert.match(checkPassword('LOVELACE was the first programmer', ctx)!, /name or email/);
});

test('any Unicode is accepted and counted in characters; NFKC makes equivalent forms equal', async () => {
  assert.equal(checkPassword('пароль-для-входа-сюда', ctx), undefined);
  assert.equal(checkPassword('🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊', ctx), undefined);
  const h = await hashPassword('ﬁnal answer is ﬁfteen'); // ligature ﬁ → fi under NFKC
  assert.equal(await verifyPassword(h, 'final answer is fifteen'), true);
});

test('argon2id with m=19456, t=2, p=1 recorded in the hash; weaker hashes need a rehash', async () => {
  const h = await hashPassword('correct horse battery staple');
  assert.match(h, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal(needsRehash(h), false);
  assert.equal(needsRehash(h.replace('m=19456,t=2', 'm=4096,t=1')), true);
  assert.equal(needsRehash('$2b$10$abcdefghijklmnopqrstuv'), true);
});

test('no truncation: passwords differing only after character 72 are different', async () => {
  const base = 'x'.repeat(72);
  const h = await hashPassword(`${base}-tail-one`);
  assert.equal(await verifyPassword(h, `${base}-tail-one`), true);
  assert.equal(await verifyPassword(h, `${base}-tail-two`), false);
  assert.equal(await verifyPassword(h, base), false);
});
