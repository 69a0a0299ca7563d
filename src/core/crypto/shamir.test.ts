import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { combine } from 'shamir-secret-sharing';
import { AppError } from '../errors.ts';
import {
  SHARE_PREFIX,
  combineShares,
  commitSecret,
  decodeShare,
  encodeShare,
  splitSecret,
  verifyCommitment,
} from './shamir.ts';

// set id 01020304, threshold 3, share bytes 0x42×32 ‖ x=7.
const SHARE_VECTOR = 'srs1-AQIDBANCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQgfDZE9Z';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const validation = (detail: RegExp) => (err: unknown) =>
  err instanceof AppError && err.code === 'VALIDATION_FAILED' && detail.test(err.detail ?? '');

function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  return items.flatMap((item, i) => subsets(items.slice(i + 1), k - 1).map((rest) => [item, ...rest]));
}

test('share encoding known-answer vector', () => {
  const decoded = {
    setId: Buffer.from('01020304', 'hex'),
    threshold: 3,
    share: Buffer.concat([Buffer.alloc(32, 0x42), Buffer.of(7)]),
  };
  assert.equal(encodeShare(decoded), SHARE_VECTOR);
  assert.deepEqual(decodeShare(SHARE_VECTOR), decoded);
  assert.deepEqual(
    decodeShare(`  ${SHARE_VECTOR.slice(0, 30)}\n${SHARE_VECTOR.slice(30)} `),
    decoded,
    'whitespace from pasting is ignored',
  );
});

test('any 3 of 5 shares recover the secret (defaults)', async () => {
  const secret = randomBytes(32);
  const { shares, commitment } = await splitSecret(secret);
  assert.equal(shares.length, 5);
  for (const s of shares) assert.ok(s.startsWith(SHARE_PREFIX));
  for (const k of [3, 4, 5]) {
    for (const subset of subsets(shares, k)) assert.deepEqual(await combineShares(subset, commitment), secret);
  }
  assert.deepEqual(
    await combineShares([shares[4]!, shares[0]!, shares[2]!], commitment),
    secret,
    'order does not matter',
  );
});

test('K-1 shares do not recover the secret', async () => {
  const secret = randomBytes(32);
  const { shares, commitment } = await splitSecret(secret, { shares: 5, threshold: 3 });
  for (const pair of subsets(shares, 2)) {
    await assert.rejects(combineShares(pair, commitment), validation(/3 shares are needed, 2 given/));
    const raw = await combine(pair.map((s) => new Uint8Array(decodeShare(s).share)));
    const guess = Buffer.from(raw);
    assert.notDeepEqual(guess, secret);
    assert.equal(verifyCommitment(guess, commitment), false);
  }
});

test('every single-character typo in a share is caught before combining', () => {
  const body = SHARE_VECTOR.slice(SHARE_PREFIX.length);
  for (let i = 0; i < body.length; i++) {
    for (const c of B64URL) {
      if (c === body[i]) continue;
      const typo = SHARE_PREFIX + body.slice(0, i) + c + body.slice(i + 1);
      assert.throws(
        () => decodeShare(typo, 2),
        validation(/^share 2 (failed its checksum|is not a Strongroom share)/),
        `${i}:${c}`,
      );
    }
  }
  assert.throws(() => decodeShare(SHARE_VECTOR.slice(0, -1)), validation(/not a Strongroom share/));
  assert.throws(() => decodeShare(SHARE_VECTOR.replace('srs1-', 'srs2-')), validation(/not a Strongroom share/));
  assert.throws(() => decodeShare(SHARE_VECTOR + '!'), validation(/not a Strongroom share/));
});

test('a typo among real shares is reported by position', async () => {
  const { shares, commitment } = await splitSecret(randomBytes(32));
  const s = shares[1]!;
  const last = s.at(-3) === 'A' ? 'B' : 'A';
  const typo = s.slice(0, -3) + last + s.slice(-2);
  await assert.rejects(combineShares([shares[0]!, typo, shares[2]!], commitment), validation(/^share 2 /));
});

test('mixed splits, duplicates, a wrong commitment and forged shares are refused', async () => {
  const secret = randomBytes(32);
  const a = await splitSecret(secret);
  const b = await splitSecret(secret);
  await assert.rejects(
    combineShares([a.shares[0]!, a.shares[1]!, b.shares[2]!], a.commitment),
    validation(/share 3 comes from a different split/),
  );
  await assert.rejects(
    combineShares([a.shares[0]!, a.shares[1]!, a.shares[0]!], a.commitment),
    validation(/share 3 repeats/),
  );
  await assert.rejects(
    combineShares(a.shares.slice(0, 3), commitSecret(randomBytes(32))),
    validation(/do not reconstruct/),
  );
  await assert.rejects(combineShares(a.shares.slice(0, 3), Buffer.alloc(5)), validation(/do not reconstruct/));
  await assert.rejects(combineShares([], a.commitment), validation(/no shares/));
  const forged = decodeShare(a.shares[2]!);
  forged.share[0]! ^= 1;
  await assert.rejects(
    combineShares([a.shares[0]!, a.shares[1]!, encodeShare(forged)], a.commitment),
    validation(/do not reconstruct/),
  );
});

test('split validates 2 ≤ K ≤ N ≤ 255 and a 32-byte secret', async () => {
  const secret = randomBytes(32);
  for (const [shares, threshold] of [
    [5, 1],
    [2, 3],
    [256, 3],
    [5, 2.5],
    [1, 1],
  ] as const) {
    await assert.rejects(splitSecret(secret, { shares, threshold }), validation(/2 ≤ threshold ≤ shares ≤ 255/));
  }
  await assert.rejects(splitSecret(randomBytes(16)), RangeError);
  assert.equal((await splitSecret(secret, { shares: 2, threshold: 2 })).shares.length, 2);
});

test('commitment: constant-time check, bound to the secret', () => {
  const secret = randomBytes(32);
  const c = commitSecret(secret);
  assert.equal(c.length, 32);
  assert.equal(verifyCommitment(secret, c), true);
  const other = Buffer.from(secret);
  other[31]! ^= 1;
  assert.equal(verifyCommitment(other, c), false);
  assert.equal(verifyCommitment(secret, c.subarray(0, 31)), false);
});

test('property: split/combine round-trips for random secrets and random valid (K, N)', async () => {
  const params = fc.integer({ min: 2, max: 255 }).chain((n) =>
    fc.integer({ min: 2, max: n }).chain((k) =>
      fc.record({
        n: fc.constant(n),
        k: fc.constant(k),
        picked: fc.shuffledSubarray([...Array(n).keys()], { minLength: k, maxLength: k }),
        secret: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      }),
    ),
  );
  await fc.assert(
    fc.asyncProperty(params, async ({ n, k, picked, secret }) => {
      const key = Buffer.from(secret);
      const { shares, commitment } = await splitSecret(key, { shares: n, threshold: k });
      assert.deepEqual(
        await combineShares(
          picked.map((i) => shares[i]!),
          commitment,
        ),
        key,
      );
    }),
    { numRuns: 40 },
  );
});
