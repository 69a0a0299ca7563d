import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { AppError } from '../../../core/errors.ts';
import { keyErrorReason } from '../key-errors.ts';
import type { KeyErrorReason } from '../key-errors.ts';
import { ShamirRootKeyProvider } from './shamir-provider.ts';
import { SHARE_PREFIX, commitSecret, decodeShare, encodeShare, splitSecret } from '../../../core/crypto/shamir.ts';
import { Unsealer } from './shamir-unsealer.ts';

let root: string;
let n = 0;
const freshDir = () => path.join(root, `d${n++}`);

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'strongroom-shamir-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const rejectsWith = (reason: KeyErrorReason) => (err: unknown) => {
  assert.ok(err instanceof AppError, String(err));
  assert.equal(keyErrorReason(err), reason, err.detail);
  return true;
};

/** All k-subsets of [0..n). */
function subsets(size: number, k: number): number[][] {
  if (k === 0) return [[]];
  if (size < k) return [];
  const without = subsets(size - 1, k);
  const withLast = subsets(size - 1, k - 1).map((s) => [...s, size - 1]);
  return [...without, ...withLast];
}

async function initialized() {
  const provider = new ShamirRootKeyProvider({ dataDir: freshDir() });
  const { rootKey, shares } = await provider.initialize();
  assert.ok(shares);
  return { provider, rootKey, shares };
}

describe('ShamirRootKeyProvider', () => {
  it('stores only a commitment (0600) and starts sealed', async () => {
    const { provider, rootKey, shares } = await initialized();
    assert.equal(shares.length, 5);
    for (const s of shares) assert.match(s, /^srs1-[A-Za-z0-9_-]{56}$/);
    const st = await stat(provider.stateFile);
    assert.equal(st.mode & 0o777, 0o600);
    const text = await readFile(provider.stateFile, 'utf8');
    assert.ok(!text.includes(rootKey.toString('base64')) && !text.includes(rootKey.toString('hex')));
    for (const s of shares) assert.ok(!text.includes(s.slice(SHARE_PREFIX.length)));
    const state = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(state).sort(), [
      'commitment',
      'commitmentAlg',
      'createdAt',
      'keyId',
      'kind',
      'shares',
      'threshold',
      'version',
    ]);
    assert.equal(state['commitment'], commitSecret(rootKey).toString('base64'));
    assert.equal(await provider.load(), undefined);
    const desc = await provider.describe();
    assert.equal(desc['ok'], true);
    assert.equal(desc['threshold'], 3);
  });

  it('refuses to initialize twice', async () => {
    const { provider } = await initialized();
    await assert.rejects(provider.initialize(), rejectsWith('ROOT_KEY_EXISTS'));
  });

  it('rejects impossible parameters', () => {
    for (const [shares, threshold] of [
      [5, 1],
      [2, 3],
      [256, 3],
      [3.5, 2],
    ] as const) {
      assert.throws(
        () => new ShamirRootKeyProvider({ dataDir: root, shares, threshold }),
        rejectsWith('INVALID_CONFIG'),
      );
    }
  });

  it('unseals with any 3 of 5 shares', async () => {
    const { provider, rootKey, shares } = await initialized();
    for (const subset of subsets(5, 3)) {
      const unsealer = await provider.unsealer();
      const results = [];
      for (const i of subset) results.push(await unsealer.submit(shares[i] ?? ''));
      assert.deepEqual(
        results.slice(0, 2).map((r) => [r.progress, r.unsealed]),
        [
          [1, false],
          [2, false],
        ],
      );
      const last = results[2];
      assert.equal(last?.unsealed, true, `subset ${subset.join(',')}`);
      assert.ok(last?.rootKey?.equals(rootKey));
    }
  });

  it('stays sealed with 2 of 5 shares (progress 2/3)', async () => {
    const { provider, shares } = await initialized();
    const unsealer = await provider.unsealer();
    await unsealer.submit(shares[0] ?? '');
    const r = await unsealer.submit(`  ${shares[4] ?? ''}\n`);
    assert.deepEqual(r, { progress: 2, threshold: 3, unsealed: false });
    assert.deepEqual(unsealer.status, { progress: 2, threshold: 3, unsealed: false });
  });

  it('rejects a duplicate share without counting it', async () => {
    const { provider, rootKey, shares } = await initialized();
    const unsealer = await provider.unsealer();
    await unsealer.submit(shares[1] ?? '');
    await assert.rejects(unsealer.submit(shares[1] ?? ''), rejectsWith('SHARE_DUPLICATE'));
    assert.equal(unsealer.status.progress, 1);
    await unsealer.submit(shares[2] ?? '');
    const r = await unsealer.submit(shares[3] ?? '');
    assert.ok(r.rootKey?.equals(rootKey));
    await assert.rejects(unsealer.submit(shares[4] ?? ''), rejectsWith('ALREADY_UNSEALED'));
  });

  it('rejects a mistyped share by its checksum', async () => {
    const { provider, shares } = await initialized();
    const unsealer = await provider.unsealer();
    const share = shares[0] ?? '';
    const i = 10;
    const typo = share.slice(0, i) + (share[i] === 'A' ? 'B' : 'A') + share.slice(i + 1);
    await assert.rejects(unsealer.submit(typo), rejectsWith('SHARE_CHECKSUM'));
    const badSum = share.slice(0, -1) + (share.endsWith('0') ? '1' : '0');
    await assert.rejects(unsealer.submit(badSum), rejectsWith('SHARE_CHECKSUM'));
    assert.equal(unsealer.status.progress, 0);
  });

  it('rejects malformed shares clearly', async () => {
    const { provider, shares } = await initialized();
    const unsealer = await provider.unsealer();
    const share = shares[0] ?? '';
    for (const bad of [
      '',
      'hello',
      share.replace('srs1', 'srs2'),
      share.slice(0, 20) + share.slice(24),
      `${share}${share}`,
    ]) {
      await assert.rejects(unsealer.submit(bad), rejectsWith('SHARE_MALFORMED'));
    }
    await assert.rejects(unsealer.submit(share.slice(0, -4)), (err: unknown) => {
      rejectsWith('SHARE_MALFORMED')(err);
      assert.match((err as AppError).detail ?? '', /wrong length/);
      return true;
    });
    assert.equal(unsealer.status.progress, 0);
  });

  it('a share of another initialization is refused at once, before the threshold, and resets progress', async () => {
    const a = await initialized();
    const b = await initialized();
    const unsealer = await a.provider.unsealer();
    await unsealer.submit(a.shares[0] ?? '');
    // Same x-coordinate or not, the set id tells the two initializations apart.
    await assert.rejects(unsealer.submit(b.shares[0] ?? ''), (err: unknown) => {
      rejectsWith('SHARES_MISMATCH')(err);
      assert.match((err as AppError).detail ?? '', /different initializations.*progress was reset/);
      return true;
    });
    assert.deepEqual(unsealer.status, { progress: 0, threshold: 3, unsealed: false });
    // The right shares still work afterwards.
    for (const s of a.shares.slice(2, 4)) await unsealer.submit(s);
    const r = await unsealer.submit(a.shares[0] ?? '');
    assert.ok(r.rootKey?.equals(a.rootKey));
  });

  it('a share made for another threshold is refused without counting or resetting', async () => {
    const a = await initialized();
    const other = new ShamirRootKeyProvider({ dataDir: freshDir(), shares: 3, threshold: 2 });
    const { shares: foreign } = await other.initialize();
    const unsealer = await a.provider.unsealer();
    await unsealer.submit(a.shares[0] ?? '');
    await assert.rejects(unsealer.submit(foreign?.[0] ?? ''), rejectsWith('SHARES_MISMATCH'));
    assert.equal(unsealer.status.progress, 1);
  });

  it('a full set of another initialization fails the commitment and resets progress', async () => {
    const a = await initialized();
    const b = await initialized();
    const unsealer = await a.provider.unsealer();
    await unsealer.submit(b.shares[0] ?? '');
    await unsealer.submit(b.shares[1] ?? '');
    await assert.rejects(unsealer.submit(b.shares[2] ?? ''), (err: unknown) => {
      rejectsWith('SHARES_MISMATCH')(err);
      assert.match((err as AppError).detail ?? '', /do not combine to this server's root key.*progress was reset/);
      return true;
    });
    assert.deepEqual(unsealer.status, { progress: 0, threshold: 3, unsealed: false });
    for (const s of a.shares.slice(0, 2)) await unsealer.submit(s);
    assert.ok((await unsealer.submit(a.shares[4] ?? '')).rootKey?.equals(a.rootKey));
  });

  it('a forged share with a valid checksum fails the commitment', async () => {
    const { provider, shares } = await initialized();
    const forged = decodeShare(shares[2] ?? '');
    forged.share[0]! ^= 1;
    const unsealer = await provider.unsealer();
    await unsealer.submit(shares[0] ?? '');
    await unsealer.submit(shares[1] ?? '');
    await assert.rejects(unsealer.submit(encodeShare(forged)), rejectsWith('SHARES_MISMATCH'));
    assert.equal(unsealer.status.progress, 0);
  });

  it('serializes concurrent submissions', async () => {
    const { provider, rootKey, shares } = await initialized();
    const unsealer = await provider.unsealer();
    const results = await Promise.all(shares.slice(0, 3).map((s) => unsealer.submit(s)));
    assert.deepEqual(
      results.map((r) => r.progress),
      [1, 2, 3],
    );
    assert.ok(results[2]?.rootKey?.equals(rootKey));
  });

  it('reset() forgets submitted shares', async () => {
    const { provider, shares } = await initialized();
    const unsealer = await provider.unsealer();
    await unsealer.submit(shares[0] ?? '');
    unsealer.reset();
    assert.equal(unsealer.status.progress, 0);
    assert.equal((await unsealer.submit(shares[0] ?? '')).progress, 1);
  });

  it('property: any K of N shares unseal, K-1 leave it sealed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 8 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            k: fc.integer({ min: 2, max: n }),
            pick: fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
          }),
        ),
        async ({ n, k, pick }) => {
          const key = randomBytes(32);
          const { shares, commitment } = await splitSecret(key, { shares: n, threshold: k });
          const unsealer = new Unsealer({ keyId: 'test', threshold: k, commitment });
          const chosen = pick.slice(0, k).map((i) => shares[i] ?? '');
          for (const s of chosen.slice(0, k - 1)) assert.equal((await unsealer.submit(s)).unsealed, false);
          const last = await unsealer.submit(chosen[k - 1] ?? '');
          assert.ok(last.unsealed && last.rootKey?.equals(key));
        },
      ),
      { numRuns: 60 },
    );
  });
});
