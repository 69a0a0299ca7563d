import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { redirectTarget } from './redirect.ts';

test('redirects to the same host and path on the HTTPS port', () => {
  assert.equal(redirectTarget('localhost:8080', '/a/b?c=1', { httpsPort: 8443 }), 'https://localhost:8443/a/b?c=1');
  assert.equal(redirectTarget('example.com', '/', { httpsPort: 443 }), 'https://example.com/');
  assert.equal(redirectTarget('[::1]:8080', '/x', { httpsPort: 8443 }), 'https://[::1]:8443/x');
});

test('the public URL wins over the Host header', () => {
  assert.equal(redirectTarget('evil.example', '/x', { httpsPort: 8443, publicUrl: 'https://vault.corp.example/' }), 'https://vault.corp.example/x');
});

test('bad hosts are refused and protocol-relative paths cannot change the host', () => {
  for (const host of ['evil.example/..@x', 'a b', '', 'x\r\nSet-Cookie: a=b', 'user@host']) {
    assert.equal(redirectTarget(host, '/', { httpsPort: 8443 }), undefined, host);
  }
  assert.equal(redirectTarget('good.example', '//evil.example/x', { httpsPort: 443 }), 'https://good.example/');
});

test('property: a redirect never leaves the host it was asked for', () => {
  fc.assert(
    fc.property(fc.domain(), fc.string(), (host, p) => {
      const t = redirectTarget(host, `/${p}`, { httpsPort: 8443 });
      if (t === undefined) return true;
      return new URL(t).hostname === host.toLowerCase() || new URL(t).hostname === host;
    }),
  );
});
