import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import pkcs11js from 'pkcs11js';
import { requirePeer } from '../../../../test/helpers/peers.ts';
import { softHsmMissing, startSoftHsm } from '../../../../test/peers/softhsm/softhsm.ts';
import type { SoftHsm } from '../../../../test/peers/softhsm/softhsm.ts';
import { AppError } from '../../../core/errors.ts';
import { keyErrorReason } from '../key-errors.ts';
import type { KeyErrorReason } from '../key-errors.ts';
import { readKeyAttributes } from './pkcs11-key.ts';
import { Pkcs11RootKeyProvider } from './pkcs11-provider.ts';
import type { Pkcs11RootKeyProviderOptions } from './pkcs11-provider.ts';
import { withTokenSession } from './pkcs11-session.ts';

const missing = softHsmMissing();
let hsm: SoftHsm | undefined;
let root: string;
let n = 0;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'strongroom-pkcs11-'));
  if (!missing) hsm = await startSoftHsm({ tokenLabel: 'strongroom-test' });
});
after(async () => {
  await hsm?.cleanup();
  await rm(root, { recursive: true, force: true });
});

/** The SoftHSM peer, or undefined after skipping (or failing in strict mode). */
function peer(t: TestContext): SoftHsm | undefined {
  if (!requirePeer(t, 'softhsm2', missing === undefined && hsm !== undefined, missing ?? 'SoftHSM did not start'))
    return undefined;
  return hsm;
}

function options(h: SoftHsm, extra: Partial<Pkcs11RootKeyProviderOptions> = {}): Pkcs11RootKeyProviderOptions {
  return {
    dataDir: path.join(root, `d${n++}`),
    modulePath: h.modulePath,
    tokenLabel: h.tokenLabel,
    pin: h.pin,
    keyLabel: `root-wrap-${n}`,
    ...extra,
  };
}

const rejectsWith = (reason: KeyErrorReason, pattern?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof AppError, String(err));
  assert.equal(keyErrorReason(err), reason, err.detail);
  if (pattern) assert.match(err.detail ?? '', pattern);
  assert.doesNotMatch(err.detail ?? '', /at PKCS11\.|\.cpp|nativeStack/);
  return true;
};

describe('Pkcs11RootKeyProvider (SoftHSM2)', () => {
  it('initialize + load round-trips the root key across provider instances', async (t) => {
    const h = peer(t);
    if (!h) return;
    const opts = options(h);
    const { rootKey, shares } = await new Pkcs11RootKeyProvider(opts).initialize();
    assert.equal(shares, undefined);
    assert.equal(rootKey.length, 32);
    // A second "process" view: a fresh instance with only the config and the data dir.
    const loaded = await new Pkcs11RootKeyProvider({ ...opts }).load();
    assert.ok(loaded.equals(rootKey));

    const provider = new Pkcs11RootKeyProvider(opts);
    const st = await stat(provider.stateFile);
    assert.equal(st.mode & 0o777, 0o600);
    const text = await readFile(provider.stateFile, 'utf8');
    assert.ok(!text.includes(rootKey.toString('base64')) && !text.includes(rootKey.toString('hex')));
    assert.equal((JSON.parse(text) as Record<string, unknown>)['mechanism'], 'CKM_AES_GCM');
    const desc = await provider.describe();
    assert.equal(desc['ok'], true);
    assert.equal(desc['tokenPresent'], true);
  });

  it('the HSM key is persistent, sensitive and non-extractable', async (t) => {
    const h = peer(t);
    if (!h) return;
    const opts = options(h);
    await new Pkcs11RootKeyProvider(opts).initialize();
    withTokenSession({ modulePath: h.modulePath, tokenLabel: h.tokenLabel, pin: h.pin }, (s) => {
      s.p11.C_FindObjectsInit(s.session, [{ type: pkcs11js.CKA_LABEL, value: opts.keyLabel }]);
      const keys = s.p11.C_FindObjects(s.session, 10);
      s.p11.C_FindObjectsFinal(s.session);
      assert.equal(keys.length, 1);
      const key = keys[0]!;
      const a = readKeyAttributes(s, key);
      assert.equal(a.keyType, pkcs11js.CKK_AES);
      assert.equal(a.valueLen, 32);
      assert.equal(a.token, true);
      assert.equal(a.sensitive, true);
      assert.equal(a.extractable, false);
      assert.equal(a.alwaysSensitive, true);
      assert.equal(a.neverExtractable, true);
      // The value itself cannot be read.
      assert.throws(
        () => s.p11.C_GetAttributeValue(s.session, key, [{ type: pkcs11js.CKA_VALUE }]),
        (err: unknown) => (err as { code?: number }).code === pkcs11js.CKR_ATTRIBUTE_SENSITIVE,
      );
      // Nor can it be made extractable.
      assert.throws(() => s.p11.C_SetAttributeValue(s.session, key, [{ type: pkcs11js.CKA_EXTRACTABLE, value: true }]));
    });
  });

  it('a wrong PIN fails with a clear message', async (t) => {
    const h = peer(t);
    if (!h) return;
    const opts = options(h);
    await new Pkcs11RootKeyProvider(opts).initialize();
    await assert.rejects(
      new Pkcs11RootKeyProvider({ ...opts, pin: `${h.pin}x` }).load(),
      rejectsWith('PKCS11_PIN_INCORRECT', /PIN is wrong/),
    );
    await assert.rejects(
      new Pkcs11RootKeyProvider(options(h, { pin: 'nope0000' })).initialize(),
      rejectsWith('PKCS11_PIN_INCORRECT'),
    );
  });

  it('reads the PIN from a 0600 file and refuses a world-readable one', async (t) => {
    const h = peer(t);
    if (!h) return;
    const pinFile = path.join(root, `pin-${n}`);
    await writeFile(pinFile, `${h.pin}\n`, { mode: 0o600 });
    const opts = options(h, { pin: undefined, pinFile });
    const { rootKey } = await new Pkcs11RootKeyProvider(opts).initialize();
    assert.ok((await new Pkcs11RootKeyProvider(opts).load()).equals(rootKey));
    await chmod(pinFile, 0o644);
    await assert.rejects(new Pkcs11RootKeyProvider(opts).load(), rejectsWith('ROOT_KEY_FILE_UNSAFE', /chmod 600/));
  });

  it('a tampered blob fails authentication', async (t) => {
    const h = peer(t);
    if (!h) return;
    const opts = options(h);
    const provider = new Pkcs11RootKeyProvider(opts);
    await provider.initialize();
    const original = await readFile(provider.stateFile, 'utf8');
    const state = JSON.parse(original) as Record<string, string>;
    const flip = (b64: string, i: number) => {
      const buf = Buffer.from(b64, 'base64');
      buf[i] = (buf[i] ?? 0) ^ 0x01;
      return buf.toString('base64');
    };
    const variants = [
      { ...state, wrappedKey: flip(state['wrappedKey'] ?? '', 0) },
      { ...state, wrappedKey: flip(state['wrappedKey'] ?? '', 47) },
      { ...state, iv: flip(state['iv'] ?? '', 5) },
      {
        ...state,
        wrappedKey: Buffer.from(state['wrappedKey'] ?? '', 'base64')
          .subarray(0, 40)
          .toString('base64'),
      },
    ];
    for (const v of variants) {
      await writeFile(provider.stateFile, JSON.stringify(v), { mode: 0o600 });
      await assert.rejects(provider.load(), rejectsWith('PKCS11_BLOB_INVALID', /failed authentication/));
    }
    await writeFile(provider.stateFile, original, { mode: 0o600 });
    assert.equal((await provider.load()).length, 32);
  });

  it('a token label that does not exist fails clearly', async (t) => {
    const h = peer(t);
    if (!h) return;
    const opts = options(h);
    await new Pkcs11RootKeyProvider(opts).initialize();
    const wrong = new Pkcs11RootKeyProvider({ ...opts, tokenLabel: 'no-such-token' });
    await assert.rejects(
      wrong.load(),
      rejectsWith('PKCS11_TOKEN_NOT_FOUND', /no PKCS#11 token labelled "no-such-token"/),
    );
    const desc = await wrong.describe();
    assert.equal(desc['tokenPresent'], false);
    assert.equal(desc['reason'], 'PKCS11_TOKEN_NOT_FOUND');
  });

  it('finds the token by label when it is not the first slot', async (t) => {
    const h = peer(t);
    if (!h) return;
    h.initToken('second-token', h.pin);
    const opts = options(h, { tokenLabel: 'second-token' });
    const { rootKey } = await new Pkcs11RootKeyProvider(opts).initialize();
    assert.ok((await new Pkcs11RootKeyProvider(opts).load()).equals(rootKey));
    // The key lives on that token only.
    await assert.rejects(
      new Pkcs11RootKeyProvider({ ...opts, tokenLabel: h.tokenLabel }).load(),
      rejectsWith('PKCS11_KEY_NOT_FOUND'),
    );
  });

  it('a missing HSM key fails clearly', async (t) => {
    const h = peer(t);
    if (!h) return;
    const opts = options(h);
    const provider = new Pkcs11RootKeyProvider(opts);
    await provider.initialize();
    withTokenSession({ modulePath: h.modulePath, tokenLabel: h.tokenLabel, pin: h.pin }, (s) => {
      s.p11.C_FindObjectsInit(s.session, [{ type: pkcs11js.CKA_LABEL, value: opts.keyLabel }]);
      const keys = s.p11.C_FindObjects(s.session, 10);
      s.p11.C_FindObjectsFinal(s.session);
      for (const k of keys) s.p11.C_DestroyObject(s.session, k);
    });
    await assert.rejects(
      provider.load(),
      rejectsWith('PKCS11_KEY_NOT_FOUND', new RegExp(`no key labelled "${opts.keyLabel}"`)),
    );
  });

  it('refuses to initialize twice', async (t) => {
    const h = peer(t);
    if (!h) return;
    const opts = options(h);
    const first = await new Pkcs11RootKeyProvider(opts).initialize();
    await assert.rejects(new Pkcs11RootKeyProvider(opts).initialize(), rejectsWith('ROOT_KEY_EXISTS'));
    assert.ok((await new Pkcs11RootKeyProvider(opts).load()).equals(first.rootKey));
  });

  it('a bad module path fails clearly', async (t) => {
    const h = peer(t);
    if (!h) return;
    const provider = new Pkcs11RootKeyProvider(options(h, { modulePath: path.join(root, 'nope.so') }));
    await assert.rejects(provider.initialize(), rejectsWith('PKCS11_MODULE_LOAD'));
  });
});
