/**
 * Operator commands as a person runs them: offline on a stopped data directory and online
 * against a running server (each says which), Shamir init + unseal through the CLI, and an
 * HSM-backed installation (SoftHSM2) that auto-unseals at start.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, runCli, startServe } from './helpers/cli.ts';
import { requirePeer } from './helpers/peers.ts';
import { softHsmMissing, startSoftHsm } from './peers/softhsm/softhsm.ts';

async function home(): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-keys-cli-'));
  return {
    env: {
      STRONGROOM_HOME: path.join(dir, 'data'),
      STRONGROOM_HTTPS_PORT: String(await freePort()),
      STRONGROOM_HTTP_PORT: 'off',
      STRONGROOM_METRICS_PORT: 'off',
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

test('file provider: offline then online key management, both audited, audit verify passes', async () => {
  const h = await home();
  try {
    const init = runCli(['init'], h.env);
    assert.equal(init.status, 0, init.stderr);
    assert.match(init.stdout, /root key \(file\) and keyring term 1 created/);

    const rot = runCli(['keys', 'rotate'], h.env);
    assert.equal(rot.status, 0, rot.stderr);
    assert.match(rot.stderr, /^offline: rotate/m);
    assert.match(rot.stdout, /active term is now 2/);

    const serve = await startServe(h.env);
    try {
      const st = runCli(['keys', 'status', '--json'], h.env);
      assert.equal(st.status, 0, st.stderr);
      assert.match(st.stderr, /^online: key status/m);
      const status = JSON.parse(st.stdout);
      assert.equal(status.activeTerm, 2);
      assert.equal(status.state, 'unsealed');

      const seal = runCli(['operator', 'seal'], h.env);
      assert.equal(seal.status, 0, seal.stderr);
      const sealed = runCli(['keys', 'status'], h.env);
      assert.equal(sealed.status, 1);
      assert.match(sealed.stderr, /503 SEALED/);
      const unseal = runCli(['operator', 'unseal', '--auto'], h.env);
      assert.equal(unseal.status, 0, unseal.stderr);
      assert.equal(runCli(['keys', 'status'], h.env).status, 0);

      const online = runCli(['audit', 'verify'], h.env);
      assert.equal(online.status, 0, online.stdout + online.stderr);
      assert.match(online.stderr, /^online: audit/m);
      assert.match(online.stdout, /^OK: \d+ events verified/m);
      const search = runCli(['audit', 'search', '--action', 'keys.keyring', '--format', 'csv'], h.env);
      assert.equal(search.status, 0, search.stderr);
      assert.match(search.stdout.split('\n')[0]!, /seq/);
      assert.match(search.stdout, /keys\.keyring\.read/);
    } finally {
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0);
    }
    const verify = runCli(['audit', 'verify'], h.env);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    const tail = runCli(['audit', 'tail', '-n', '50'], h.env);
    for (const action of [
      'keys.keyring.rotate',
      'keys.keyring.read',
      'operator.keyring.seal',
      'operator.keyring.unseal',
    ]) {
      assert.match(tail.stdout, new RegExp(action.replaceAll('.', '\\.')), `${action} is in the audit trail`);
    }
  } finally {
    await h.cleanup();
  }
});

test('shamir: init prints shares once; the server starts sealed; holders unseal through the CLI', async () => {
  const h = await home();
  const env = {
    ...h.env,
    STRONGROOM_ROOT_KEY_PROVIDER: 'shamir',
    STRONGROOM_SHAMIR_SHARES: '4',
    STRONGROOM_SHAMIR_THRESHOLD: '2',
  };
  try {
    const init = runCli(['init'], env);
    assert.equal(init.status, 0, init.stderr);
    const shares = [...init.stdout.matchAll(/share \d: (srs1-\S+)/g)].map((m) => m[1]!);
    assert.equal(shares.length, 4);
    assert.match(init.stdout, /any 2 of 4/);
    const again = runCli(['init'], env);
    assert.doesNotMatch(again.stdout, /srs1-/, 'shares are shown only once');

    const offline = runCli(['keys', 'rotate'], env);
    assert.equal(offline.status, 1);
    assert.match(offline.stderr, /Shamir shares: start the server/);

    const serve = await startServe(env);
    try {
      assert.equal(runCli(['keys', 'status'], env).status, 1, 'sealed at start');
      const first = runCli(['operator', 'unseal'], env, `${shares[2]}\n`);
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stdout, /1 of 2; still sealed/);
      const second = runCli(['operator', 'unseal'], env, `${shares[0]}\n`);
      assert.match(second.stdout, /^unsealed/m);
      assert.equal(runCli(['keys', 'status'], env).status, 0);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  } finally {
    await h.cleanup();
  }
});

test('pkcs11 (SoftHSM2): init wraps the root key in the HSM; the server auto-unseals; a wrong PIN refuses to start', async (t) => {
  if (!requirePeer(t, 'SoftHSM2', softHsmMissing() === undefined, 'apt-get install softhsm2')) return;
  const hsm = await startSoftHsm({ tokenLabel: 'strongroom-e2e' });
  const h = await home();
  const env = {
    ...h.env,
    SOFTHSM2_CONF: hsm.confPath,
    STRONGROOM_ROOT_KEY_PROVIDER: 'pkcs11',
    STRONGROOM_PKCS11_MODULE: hsm.modulePath,
    STRONGROOM_PKCS11_TOKEN_LABEL: hsm.tokenLabel,
    STRONGROOM_PKCS11_PIN: hsm.pin,
  };
  try {
    const init = runCli(['init'], env);
    assert.equal(init.status, 0, init.stderr);
    assert.match(init.stdout, /root key \(pkcs11\) and keyring term 1 created/);
    const serve = await startServe(env);
    try {
      const st = runCli(['keys', 'status', '--json'], env);
      assert.equal(st.status, 0, st.stderr);
      assert.equal(JSON.parse(st.stdout).provider, 'pkcs11');
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    const wrong = runCli(['keys', 'status'], { ...env, STRONGROOM_PKCS11_PIN: '000000' });
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /PIN/i);
  } finally {
    await h.cleanup();
    await hsm.cleanup();
  }
});
