import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../../core/errors.ts';
import { keyErrorReason } from '../key-errors.ts';
import { FileRootKeyProvider } from './file-provider.ts';

let root: string;
let n = 0;
const freshDir = () => path.join(root, `d${n++}`);

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'strongroom-file-key-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('FileRootKeyProvider', () => {
  it('creates a 32-byte key file with mode 0600 and loads the same key', async () => {
    const dataDir = freshDir();
    const provider = new FileRootKeyProvider({ dataDir });
    const { rootKey, shares } = await provider.initialize();
    assert.equal(shares, undefined);
    assert.equal(rootKey.length, 32);
    const st = await stat(path.join(dataDir, 'root.key'));
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.size, 32);
    const loaded = await new FileRootKeyProvider({ dataDir }).load();
    assert.ok(loaded.equals(rootKey));
    const desc = await provider.describe();
    assert.equal(desc['ok'], true);
    assert.ok(!JSON.stringify(desc).includes(rootKey.toString('hex')));
  });

  it('honours a configured key path', async () => {
    const keyFile = path.join(freshDir(), 'nested', 'my.key');
    const provider = new FileRootKeyProvider({ dataDir: '/nonexistent', keyFile });
    const { rootKey } = await provider.initialize();
    assert.ok((await provider.load()).equals(rootKey));
  });

  it('refuses to initialize twice and keeps the first key', async () => {
    const dataDir = freshDir();
    const provider = new FileRootKeyProvider({ dataDir });
    const { rootKey } = await provider.initialize();
    await assert.rejects(provider.initialize(), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'CONFLICT');
      assert.equal(keyErrorReason(err), 'ROOT_KEY_EXISTS');
      return true;
    });
    assert.ok((await provider.load()).equals(rootKey));
  });

  for (const mode of [0o640, 0o604, 0o620, 0o644]) {
    it(`refuses a key file with mode 0${mode.toString(8)}, naming the file and the chmod fix`, async () => {
      const provider = new FileRootKeyProvider({ dataDir: freshDir() });
      await provider.initialize();
      await chmod(provider.keyFile, mode);
      await assert.rejects(provider.load(), (err: unknown) => {
        assert.ok(err instanceof AppError);
        assert.equal(err.code, 'SEALED');
        assert.equal(keyErrorReason(err), 'ROOT_KEY_FILE_UNSAFE');
        assert.match(err.detail ?? '', new RegExp(`chmod 600 ${provider.keyFile}`));
        return true;
      });
      const desc = await provider.describe();
      assert.equal(desc['ok'], false);
      assert.equal(desc['reason'], 'ROOT_KEY_FILE_UNSAFE');
    });
  }

  for (const size of [0, 31, 33, 44]) {
    it(`refuses a key file of ${size} bytes`, async () => {
      const dataDir = freshDir();
      const provider = new FileRootKeyProvider({ dataDir });
      await provider.initialize();
      await writeFile(provider.keyFile, Buffer.alloc(size, 7), { mode: 0o600 });
      await assert.rejects(provider.load(), (err: unknown) => {
        assert.equal(keyErrorReason(err), 'ROOT_KEY_FILE_INVALID');
        assert.match((err as AppError).detail ?? '', /exactly 32 raw bytes/);
        assert.ok((err as AppError).detail?.includes(provider.keyFile));
        return true;
      });
    });
  }

  it('reports a missing key file clearly', async () => {
    const provider = new FileRootKeyProvider({ dataDir: freshDir() });
    await assert.rejects(provider.load(), (err: unknown) => {
      assert.equal(keyErrorReason(err), 'ROOT_KEY_MISSING');
      assert.match((err as AppError).detail ?? '', /strongroom init/);
      return true;
    });
    assert.equal((await provider.describe())['initialized'], false);
  });

  it('refuses a directory in place of the key file', async () => {
    const dataDir = freshDir();
    const provider = new FileRootKeyProvider({ dataDir, keyFile: dataDir });
    await mkdir(dataDir, { mode: 0o700 });
    await assert.rejects(provider.load(), (err: unknown) => keyErrorReason(err) === 'ROOT_KEY_FILE_UNSAFE');
  });
});
