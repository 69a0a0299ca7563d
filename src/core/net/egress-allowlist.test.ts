import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ConfigError } from '../config.ts';
import { parseEgressAllowlist } from './egress-allowlist.ts';
import { formatIpv4 } from './ip-address.ts';

function problems(input: string | string[]): string[] {
  try {
    parseEgressAllowlist(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return assert.fail('must throw');
}

test('empty and blank values are the empty list', () => {
  assert.deepEqual(parseEgressAllowlist('').entries, []);
  assert.deepEqual(parseEgressAllowlist('   ').entries, []);
  assert.deepEqual(parseEgressAllowlist([]).entries, []);
});

test('entries are parsed, trimmed and canonical', () => {
  const list = parseEgressAllowlist(' 127.0.0.1/32, 10.0.0.0/8 ,FD00:0:0::/8,::1/128');
  assert.deepEqual(list.entries, ['127.0.0.1/32', '10.0.0.0/8', 'fd00::/8', '::1/128']);
  assert.ok(Object.isFrozen(list));
});

test('bad entries are all reported, each with a clear message', () => {
  const p = problems(
    '127.0.0.1, 10.1.2.3/8, 127.1/32, 0.0.0.0/0, ::/0, 10.0.0.0/33, fe80::1%eth0/128, [::1]/128, 10.0.0.0/08,,example.com/32',
  );
  assert.equal(p.length, 11);
  assert.ok(p.every((m) => m.startsWith('STRONGROOM_EGRESS_ALLOWLIST: ')));
  assert.match(p[0] ?? '', /not address\/prefix .*127\.0\.0\.1\/32/);
  assert.match(p[1] ?? '', /host bits set; write 10\.0\.0\.0\/8 .* 10\.1\.2\.3\/32/);
  assert.match(p[2] ?? '', /"127\.1" is not an IPv4 dotted quad/);
  assert.match(p[3] ?? '', /switch the egress guard off/);
  assert.match(p[4] ?? '', /switch the egress guard off/);
  assert.match(p[5] ?? '', /at most 32/);
  assert.match(p[9] ?? '', /entry 10 is empty/);
  assert.match(problems('fd00::1/8')[0] ?? '', /write fd00::\/8/);
  assert.match(problems('10.0.0.0/8,')[0] ?? '', /entry 2 is empty/);
});

test('the allowlist lets exactly its block through (also IPv4-mapped and NAT64 spellings)', () => {
  const list = parseEgressAllowlist('127.0.0.1/32,10.20.0.0/16,fd00:1234::/32');
  for (const a of ['127.0.0.1', '::ffff:127.0.0.1', '64:ff9b::7f00:1', '10.20.0.0', '10.20.255.255', 'fd00:1234::1'])
    assert.ok(list.allows(a), a);
  for (const a of ['127.0.0.2', '::1', '10.21.0.0', '10.19.255.255', 'fd00:1235::1', 'garbage'])
    assert.ok(!list.allows(a), a);
});

test('metadata addresses stay refused inside an allowlisted block', () => {
  const list = parseEgressAllowlist('169.254.0.0/16,100.64.0.0/10,fd00::/8');
  assert.ok(list.allows('169.254.1.1'));
  for (const a of ['169.254.169.254', '::ffff:169.254.169.254', '100.100.100.200', 'fd00:ec2::254'])
    assert.ok(!list.allows(a), a);
});

test('property: an IPv4 block allows exactly the addresses inside it', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff_ffff }),
      fc.integer({ min: 8, max: 32 }),
      fc.integer({ min: 0, max: 0xffff_ffff }),
      (base, prefix, probe) => {
        const mask = prefix === 32 ? 0xffff_ffff : ~(2 ** (32 - prefix) - 1) >>> 0;
        const network = (base & mask) >>> 0;
        const list = parseEgressAllowlist(`${formatIpv4(BigInt(network))}/${prefix}`);
        const inside = (probe & mask) >>> 0 === network;
        const address = formatIpv4(BigInt(probe));
        // Metadata addresses are never allowed, whatever the block.
        const metadata = ['169.254.169.254', '169.254.170.2', '169.254.170.23', '100.100.100.200'].includes(address);
        return list.allows(address) === (inside && !metadata);
      },
    ),
    { numRuns: 300 },
  );
});
