/**
 * `strongroom sso` as an operator runs it against a running server: a SAML provider from the IdP's
 * metadata file, an OIDC provider by discovery with the client secret from a file (never printed,
 * never answered back), an issuer the egress guard refuses, list/show/remove. The IdP runs in this
 * process, so the CLI runs without blocking it (`cliAsync`).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cliAsync, freePort, runCli, startServe } from './helpers/cli.ts';
import { startOidcIdp } from './peers/idp/oidc-idp.ts';
import { startSamlIdp } from './peers/idp/saml-idp.ts';

test('strongroom sso: add-saml, add-oidc (secret from a file), a refused issuer, list, show, remove', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-sso-cli-'));
  const env = {
    STRONGROOM_HOME: path.join(dir, 'data'),
    STRONGROOM_HTTPS_PORT: String(await freePort()),
    STRONGROOM_HTTP_PORT: 'off',
    STRONGROOM_METRICS_PORT: 'off',
    STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32',
  };
  const saml = await startSamlIdp();
  const oidc = await startOidcIdp({ redirectUris: ['https://localhost/cb'] });
  try {
    assert.equal(runCli(['init'], env).status, 0);
    const serve = await startServe(env);
    try {
      await writeFile(path.join(dir, 'idp.xml'), saml.metadataXml);
      const addSaml = await cliAsync(
        ['sso', 'add-saml', 'corp-saml', '--metadata-file', path.join(dir, 'idp.xml')],
        env,
      );
      assert.equal(addSaml.status, 0, addSaml.stderr);
      assert.match(addSaml.stdout, /corp-saml {2}saml {2}enabled/);
      assert.match(addSaml.stdout, /ACS \/api\/v1\/auth\/sso\/corp-saml\/saml\/acs/);

      await writeFile(path.join(dir, 'secret'), `${oidc.clientSecret}\n`, { mode: 0o600 });
      await writeFile(path.join(dir, 'ca.pem'), oidc.ca);
      const addOidc = await cliAsync(
        [
          'sso',
          'add-oidc',
          'corp-oidc',
          '--issuer',
          oidc.issuer,
          '--client-id',
          oidc.clientId,
          '--client-secret-file',
          path.join(dir, 'secret'),
          '--ca-file',
          path.join(dir, 'ca.pem'),
          '--name',
          'Corp',
        ],
        env,
      );
      assert.equal(addOidc.status, 0, addOidc.stderr);
      assert.match(addOidc.stdout, /\(client secret set\)/);

      const refused = await cliAsync(
        ['sso', 'add-oidc', 'evil', '--issuer', 'https://127.0.0.2:9/', '--client-id', 'x'],
        env,
      );
      assert.equal(refused.status, 2, 'a refused issuer is a configuration error');
      assert.match(refused.stderr, /EGRESS_DENIED|may not be reached/);

      const list = await cliAsync(['sso', 'list'], env);
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, /corp-oidc {2}oidc/);
      assert.match(list.stdout, /corp-saml {2}saml/);
      assert.doesNotMatch(list.stdout, /evil/);
      const show = await cliAsync(['sso', 'show', 'corp-oidc'], env);
      assert.equal(show.status, 0, show.stderr);
      for (const out of [addOidc.stdout, addOidc.stderr, list.stdout, show.stdout])
        assert.ok(!out.includes(oidc.clientSecret), 'the client secret is never printed');

      assert.equal((await cliAsync(['sso', 'remove', 'corp-saml'], env)).status, 0);
      assert.doesNotMatch((await cliAsync(['sso', 'list'], env)).stdout, /corp-saml/);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  } finally {
    await oidc.close();
    await rm(dir, { recursive: true, force: true });
  }
});
