/**
 * SoftHSM2 test peer: a fresh token store in a temp directory, one initialized token.
 *
 * pkcs11js loads libsofthsm2 in-process and SoftHSM reads `SOFTHSM2_CONF` at C_Initialize, so
 * `startSoftHsm()` sets `process.env.SOFTHSM2_CONF` for the current process (restored by
 * `cleanup()`). Use one SoftHSM per test process (node:test runs each file in its own process).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const SOFTHSM_UTIL = '/usr/bin/softhsm2-util';
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** Why SoftHSM2 cannot be used here, or undefined when it can. */
export function softHsmMissing(): string | undefined {
  const missing = [SOFTHSM_UTIL, SOFTHSM_MODULE].filter((p) => !existsSync(p));
  if (missing.length === 0) return undefined;
  return `softhsm2 is missing (${missing.join(', ')} not found); install it with \`apt-get install -y softhsm2\``;
}

export interface SoftHsm {
  modulePath: string;
  tokenLabel: string;
  pin: string;
  soPin: string;
  /** The SOFTHSM2_CONF file in use. */
  confPath: string;
  /** Initialize one more token in the same store. */
  initToken(label: string, pin: string): void;
  /** Remove the token store and restore SOFTHSM2_CONF. */
  cleanup(): Promise<void>;
}

export interface StartSoftHsmOptions {
  tokenLabel?: string;
  pin?: string;
  soPin?: string;
}

/** Start a SoftHSM2 token store with one token. Throws if softhsm2 is missing. */
export async function startSoftHsm(opts: StartSoftHsmOptions = {}): Promise<SoftHsm> {
  const missing = softHsmMissing();
  if (missing) throw new Error(missing);
  const dir = await mkdtemp(path.join(tmpdir(), 'strongroom-softhsm-'));
  const tokenDir = path.join(dir, 'tokens');
  await mkdir(tokenDir, { mode: 0o700 });
  const confPath = path.join(dir, 'softhsm2.conf');
  await writeFile(confPath, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`, {
    mode: 0o600,
  });

  const tokenLabel = opts.tokenLabel ?? 'strongroom-test';
  const pin = opts.pin ?? randomBytes(6).toString('hex');
  const soPin = opts.soPin ?? randomBytes(6).toString('hex');
  const previous = process.env['SOFTHSM2_CONF'];
  process.env['SOFTHSM2_CONF'] = confPath;

  const initToken = (label: string, userPin: string): void => {
    const r = spawnSync(
      SOFTHSM_UTIL,
      ['--init-token', '--free', '--label', label, '--pin', userPin, '--so-pin', soPin],
      {
        env: { ...process.env, SOFTHSM2_CONF: confPath },
        encoding: 'utf8',
      },
    );
    if (r.status !== 0)
      throw new Error(`softhsm2-util --init-token failed: ${r.stderr || r.stdout || r.error?.message}`);
  };
  initToken(tokenLabel, pin);

  return {
    modulePath: SOFTHSM_MODULE,
    tokenLabel,
    pin,
    soPin,
    confPath,
    initToken,
    async cleanup() {
      if (previous === undefined) delete process.env['SOFTHSM2_CONF'];
      else process.env['SOFTHSM2_CONF'] = previous;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
