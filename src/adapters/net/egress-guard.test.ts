import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../core/config.ts';
import { BYPASS_ANSWERS, BYPASS_HOSTS } from '../../core/net/egress-bypass.fixture.ts';
import { EgressDeniedError } from '../../core/net/egress-error.ts';
import type { EgressReason } from '../../core/net/egress-error.ts';
import { EgressTimeoutError } from './egress-agents.ts';
import { createEgressGuard, createEgressGuardFromConfig } from './egress-guard.ts';
import type { ResolvedAddress, Resolver } from './egress-guard.ts';

const TIMEOUTS = { connectTimeoutMs: 200, readTimeoutMs: 200 };

/** A fake DNS: a table of names; records every query so tests can prove none was made. */
function fakeDns(table: Record<string, string[]>): Resolver & { queries: string[] } {
  const queries: string[] = [];
  const resolve = async (name: string): Promise<ResolvedAddress[]> => {
    queries.push(name);
    const answers = table[name];
    if (!answers) throw Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { queries });
}

async function reasonOf(promise: Promise<unknown>): Promise<EgressReason | 'ALLOWED'> {
  try {
    await promise;
    return 'ALLOWED';
  } catch (err) {
    assert.ok(err instanceof EgressDeniedError, String(err));
    return err.reason;
  }
}

test('checkUrl refuses every bypass spelling as a URL host, without a DNS query', async () => {
  const dns = fakeDns({});
  const guard = createEgressGuard({ allowlist: '', resolve: dns, ...TIMEOUTS });
  for (const [host, reason] of BYPASS_HOSTS) {
    // The URL parser deletes tabs and reads `https:///bucket` as host "bucket": other, plain names.
    if (host.includes('\t') || host === '') continue;
    const got = await reasonOf(guard.checkUrl(`https://${host}/bucket`));
    // Two spellings change meaning inside a URL: user@host and host:port.
    const inUrl: Record<string, EgressReason> = {
      'evil.example@127.0.0.1': 'USERINFO_NOT_ALLOWED',
      '127.0.0.1:80': 'LOOPBACK',
    };
    const expected = inUrl[host] ?? reason;
    assert.equal(got, expected, JSON.stringify(host));
  }
  assert.deepEqual(dns.queries, []);
});

test('a name is refused when any DNS answer is refused, even next to a public one', async () => {
  for (const [answer, reason] of BYPASS_ANSWERS) {
    const dns = fakeDns({ 'store.example': ['52.216.8.1', answer] });
    const guard = createEgressGuard({ allowlist: '', resolve: dns, ...TIMEOUTS });
    assert.equal(await reasonOf(guard.checkUrl('https://store.example/')), reason, answer);
    assert.equal(await reasonOf(guard.resolveHost('store.example')), reason, answer);
  }
});

test('public names and literals pass; checkUrl returns the checked addresses', async () => {
  const guard = createEgressGuard({
    allowlist: '',
    resolve: fakeDns({ 's3.example.com': ['52.216.8.1', '2600:1f18::1'] }),
    ...TIMEOUTS,
  });
  const r = await guard.checkUrl('https://S3.Example.com./bucket?x=1');
  assert.deepEqual(r.addresses, ['52.216.8.1', '2600:1f18::1']);
  assert.equal(r.url.hostname, 's3.example.com.');
  assert.deepEqual((await guard.checkUrl('http://8.8.8.8:9000/')).addresses, ['8.8.8.8']);
});

test('checkUrl: http(s) only, no user:password@, a valid URL', async () => {
  const guard = createEgressGuard({ allowlist: '', resolve: fakeDns({ 'a.example': ['8.8.8.8'] }), ...TIMEOUTS });
  for (const url of [
    'ftp://a.example/',
    'file:///etc/passwd',
    'gopher://a.example/',
    'data:text/plain,x',
    'ws://a.example/',
  ]) {
    assert.equal(await reasonOf(guard.checkUrl(url)), 'SCHEME_NOT_ALLOWED', url);
  }
  assert.equal(await reasonOf(guard.checkUrl('https://user:pw@a.example/')), 'USERINFO_NOT_ALLOWED');
  assert.equal(await reasonOf(guard.checkUrl('https://user@a.example/')), 'USERINFO_NOT_ALLOWED');
  assert.equal(await reasonOf(guard.checkUrl('not a url')), 'INVALID_HOST');
  assert.equal(await reasonOf(guard.checkUrl(new URL('https://a.example/'))), 'ALLOWED');
});

test('the allowlist lets exactly its block through', async () => {
  const dns = fakeDns({
    'emulator.test': ['127.0.0.1'],
    'both.test': ['127.0.0.1', '127.0.0.2'],
    'onprem.test': ['10.1.2.3'],
  });
  const guard = createEgressGuard({ allowlist: ['127.0.0.1/32', '10.1.0.0/16'], resolve: dns, ...TIMEOUTS });
  assert.equal(await reasonOf(guard.checkUrl('http://emulator.test:9000/')), 'ALLOWED');
  assert.equal(await reasonOf(guard.checkUrl('http://127.0.0.1:9000/')), 'ALLOWED');
  assert.equal(await reasonOf(guard.checkUrl('http://onprem.test/')), 'ALLOWED');
  assert.equal(await reasonOf(guard.checkUrl('http://both.test/')), 'LOOPBACK');
  assert.equal(await reasonOf(guard.checkUrl('http://127.0.0.2/')), 'LOOPBACK');
  assert.equal(await reasonOf(guard.checkUrl('http://10.2.0.1/')), 'PRIVATE');
  assert.equal(await reasonOf(guard.checkUrl('http://169.254.169.254/')), 'METADATA');
});

test('a bad allowlist is a ConfigError naming the variable', () => {
  assert.throws(
    () => createEgressGuard({ allowlist: '127.0.0.1', ...TIMEOUTS }),
    (err) => err instanceof ConfigError && /STRONGROOM_EGRESS_ALLOWLIST/.test(err.message),
  );
});

function lookupAsync(
  guard: ReturnType<typeof createEgressGuard>,
  host: string,
  options: object,
): Promise<{ address: string | LookupAddress[]; family?: number }> {
  return new Promise((resolve, reject) => {
    guard.lookup(host, options, (err, address, family) => (err ? reject(err) : resolve({ address, family })));
  });
}

test('lookup is dns.lookup-compatible: one address, all: true, a family filter', async () => {
  const dns = fakeDns({ 'dual.example': ['2600:1f18::1', '52.216.8.1'], 'bad.example': ['52.216.8.1', '10.0.0.1'] });
  const guard = createEgressGuard({ allowlist: '', resolve: dns, ...TIMEOUTS });
  assert.deepEqual(await lookupAsync(guard, 'dual.example', {}), { address: '2600:1f18::1', family: 6 });
  assert.deepEqual(await lookupAsync(guard, 'dual.example', { family: 4 }), { address: '52.216.8.1', family: 4 });
  assert.deepEqual(await lookupAsync(guard, 'dual.example', { all: true }), {
    address: [
      { address: '2600:1f18::1', family: 6 },
      { address: '52.216.8.1', family: 4 },
    ],
    family: undefined,
  });
  await assert.rejects(lookupAsync(guard, 'bad.example', { all: true }), { code: 'EGRESS_DENIED', reason: 'PRIVATE' });
  await assert.rejects(lookupAsync(guard, '0x7f.1', {}), { reason: 'LOOPBACK' });
  await assert.rejects(lookupAsync(guard, 'metadata.google.internal', { all: true }), { reason: 'METADATA_HOST' });
  const onlyV4 = createEgressGuard({ allowlist: '', resolve: fakeDns({ 'v4.example': ['52.216.8.1'] }), ...TIMEOUTS });
  await assert.rejects(lookupAsync(onlyV4, 'v4.example', { family: 6 }), { code: 'ENOTFOUND' });
  // The legacy two-argument form.
  const two = await new Promise((resolve) =>
    (guard.lookup as unknown as (h: string, cb: (...a: unknown[]) => void) => void)('dual.example', (...args) =>
      resolve(args),
    ),
  );
  assert.deepEqual(two, [null, '2600:1f18::1', 6]);
});

test('DNS resolution is bounded by the connect timeout', async () => {
  const guard = createEgressGuard({
    allowlist: '',
    resolve: () => new Promise<never>(() => {}),
    connectTimeoutMs: 100,
    readTimeoutMs: 100,
  });
  const t0 = Date.now();
  await assert.rejects(
    guard.checkUrl('https://slow.example/'),
    (err) => err instanceof EgressTimeoutError && err.phase === 'resolve',
  );
  assert.ok(Date.now() - t0 < 2000);
});

test('with the system resolver, localhost is refused (it resolves to loopback)', async () => {
  const guard = createEgressGuardFromConfig(loadConfig({}));
  assert.equal(await reasonOf(guard.checkUrl('http://localhost:9000/')), 'LOOPBACK');
  assert.equal(guard.connectTimeoutMs, 5000);
  assert.equal(guard.readTimeoutMs, 30_000);
  const allowed = createEgressGuardFromConfig(
    loadConfig({ STRONGROOM_EGRESS_ALLOWLIST: '127.0.0.1/32' }),
    fakeDns({ 'emu.test': ['127.0.0.1'] }),
  );
  assert.equal(await reasonOf(allowed.checkUrl('http://emu.test/')), 'ALLOWED');
});
