import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { allowedRedirectHosts, redirectTarget } from './redirect.ts';

const loopback = allowedRedirectHosts('127.0.0.1');

test('redirects an allowed host to the same path on the HTTPS port', () => {
  assert.equal(
    redirectTarget('localhost:8080', '/a/b?c=1', { httpsPort: 8443, allowedHosts: loopback }),
    'https://localhost:8443/a/b?c=1',
  );
  assert.equal(redirectTarget('127.0.0.1:8080', '/', { httpsPort: 443, allowedHosts: loopback }), 'https://127.0.0.1/');
  assert.equal(redirectTarget('[::1]:8080', '/x', { httpsPort: 8443, allowedHosts: loopback }), 'https://[::1]:8443/x');
  const named = allowedRedirectHosts('0.0.0.0', 'Vault.Corp.Example, 10.0.0.5, fe80::1');
  assert.equal(
    redirectTarget('vault.corp.example', '/', { httpsPort: 443, allowedHosts: named }),
    'https://vault.corp.example/',
  );
  assert.equal(
    redirectTarget('[fe80::1]:80', '/', { httpsPort: 8443, allowedHosts: named }),
    'https://[fe80::1]:8443/',
  );
  assert.equal(
    redirectTarget('10.0.0.5', '/', { httpsPort: 8443, allowedHosts: allowedRedirectHosts('10.0.0.5') }),
    'https://10.0.0.5:8443/',
  );
});

test('a Host that is not configured gets no redirect (issue 13: open redirect)', () => {
  assert.equal(redirectTarget('evil.example', '/x', { httpsPort: 8443, allowedHosts: loopback }), undefined);
  assert.equal(
    redirectTarget('evil.example:8080', '/x', { httpsPort: 8443, allowedHosts: allowedRedirectHosts('0.0.0.0') }),
    undefined,
  );
  assert.equal(
    redirectTarget('localhost', '/x', { httpsPort: 8443, allowedHosts: allowedRedirectHosts('10.0.0.5') }),
    undefined,
    'a server bound elsewhere does not claim localhost',
  );
});

test('the public URL wins over the Host header', () => {
  assert.equal(
    redirectTarget('evil.example', '/x', {
      httpsPort: 8443,
      publicUrl: 'https://vault.corp.example/',
      allowedHosts: loopback,
    }),
    'https://vault.corp.example/x',
  );
});

test('bad hosts are refused and protocol-relative paths cannot change the host', () => {
  const any = new Set(['evil.example/..@x', 'a b', '', 'user@host', 'good.example']);
  for (const host of ['evil.example/..@x', 'a b', '', 'x\r\nSet-Cookie: a=b', 'user@host']) {
    assert.equal(redirectTarget(host, '/', { httpsPort: 8443, allowedHosts: any }), undefined, host);
  }
  assert.equal(
    redirectTarget('good.example', '//evil.example/x', { httpsPort: 443, allowedHosts: any }),
    'https://good.example/',
  );
});

test('property: a redirect only ever goes to an allowed host', () => {
  fc.assert(
    fc.property(fc.domain(), fc.string(), fc.boolean(), (host, p, allow) => {
      const allowedHosts = allowedRedirectHosts('127.0.0.1', allow ? host : 'other.example');
      const t = redirectTarget(host, `/${p}`, { httpsPort: 8443, allowedHosts });
      if (t === undefined) return true;
      return allowedHosts.has(new URL(t).hostname.toLowerCase());
    }),
  );
});
