import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { classifyAddress, destinationIpv4, isMetadataAddress } from './address-policy.ts';
import { formatIpv4, formatIpv6 } from './ip-address.ts';

const REFUSED: [string, string][] = [
  ['127.0.0.1', 'LOOPBACK'],
  ['127.255.255.254', 'LOOPBACK'],
  ['0.0.0.0', 'UNSPECIFIED'],
  ['0.1.2.3', 'UNSPECIFIED'],
  ['10.0.0.1', 'PRIVATE'],
  ['172.16.0.1', 'PRIVATE'],
  ['172.31.255.255', 'PRIVATE'],
  ['192.168.1.1', 'PRIVATE'],
  ['100.64.0.1', 'SHARED_ADDRESS'],
  ['100.127.255.255', 'SHARED_ADDRESS'],
  ['169.254.1.1', 'LINK_LOCAL'],
  ['169.254.169.254', 'METADATA'],
  ['169.254.170.2', 'METADATA'],
  ['100.100.100.200', 'METADATA'],
  ['224.0.0.1', 'MULTICAST'],
  ['239.255.255.250', 'MULTICAST'],
  ['255.255.255.255', 'BROADCAST'],
  ['240.0.0.1', 'RESERVED'],
  ['192.0.0.8', 'RESERVED'],
  ['198.18.0.1', 'RESERVED'],
  ['192.88.99.1', 'RESERVED'],
  ['192.0.2.1', 'DOCUMENTATION'],
  ['198.51.100.7', 'DOCUMENTATION'],
  ['203.0.113.9', 'DOCUMENTATION'],
  ['::', 'UNSPECIFIED'],
  ['::1', 'LOOPBACK'],
  ['0:0:0:0:0:0:0:1', 'LOOPBACK'],
  ['::ffff:127.0.0.1', 'LOOPBACK'],
  ['::ffff:7f00:1', 'LOOPBACK'],
  ['::ffff:a9fe:a9fe', 'METADATA'],
  ['::ffff:10.1.2.3', 'PRIVATE'],
  ['::127.0.0.1', 'IPV4_COMPATIBLE'],
  ['::8.8.8.8', 'IPV4_COMPATIBLE'],
  ['64:ff9b::127.0.0.1', 'LOOPBACK'],
  ['64:ff9b::a9fe:a9fe', 'METADATA'],
  ['64:ff9b::192.168.0.1', 'PRIVATE'],
  ['64:ff9b:1::8.8.8.8', 'RESERVED'],
  ['2002:7f00:1::', 'LOOPBACK'], // 6to4 of 127.0.0.1
  ['2002:c0a8:101::1', 'PRIVATE'], // 6to4 of 192.168.1.1
  ['2001:0:a9fe:a9fe::1', 'METADATA'], // Teredo server 169.254.169.254
  ['2001:0:808:808::80ff:fefe', 'LOOPBACK'], // Teredo, client 127.0.1.1 (stored inverted)
  ['fd00:ec2::254', 'METADATA'],
  ['fd20:ce::254', 'METADATA'],
  ['fd12:3456::1', 'UNIQUE_LOCAL'],
  ['fc00::1', 'UNIQUE_LOCAL'],
  ['fe80::1', 'LINK_LOCAL'],
  ['febf:ffff::1', 'LINK_LOCAL'],
  ['fec0::1', 'PRIVATE'],
  ['ff02::1', 'MULTICAST'],
  ['2001:db8::1', 'DOCUMENTATION'],
  ['3fff::1', 'DOCUMENTATION'],
  ['100::1', 'RESERVED'],
  ['2001:2::1', 'RESERVED'],
  ['4000::1', 'RESERVED'],
  ['fe80::1%eth0', 'INVALID_HOST'],
  ['127.1', 'INVALID_HOST'],
  ['not an address', 'INVALID_HOST'],
];

test('special-purpose addresses are refused with their reason', () => {
  for (const [address, reason] of REFUSED) {
    const verdict = classifyAddress(address);
    assert.equal(verdict.allowed ? 'ALLOWED' : verdict.reason, reason, address);
  }
});

test('public unicast passes, also in IPv4-mapped, NAT64, 6to4 and Teredo form', () => {
  for (const address of [
    '8.8.8.8',
    '1.1.1.1',
    '52.216.0.1',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700::1111',
    '2a00:1450:4001::1',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
    '2001:0:808:808::f7f7:f7f7',
  ]) {
    assert.deepEqual(classifyAddress(address), { allowed: true }, address);
  }
});

test('the description is plain and names the address', () => {
  const v = classifyAddress('::ffff:127.0.0.1');
  assert.ok(!v.allowed);
  assert.equal(v.description, '::ffff:7f00:1, an IPv4-mapped form of a loopback address 127.0.0.1');
  const w = classifyAddress('10.9.8.7');
  assert.ok(!w.allowed);
  assert.equal(w.description, 'a private (RFC 1918) address 10.9.8.7');
});

test('destinationIpv4 and isMetadataAddress see through mapped and NAT64 spellings', () => {
  assert.equal(destinationIpv4('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(destinationIpv4('64:ff9b::a00:1'), '10.0.0.1');
  assert.equal(destinationIpv4('2002:a00:1::'), undefined);
  assert.equal(destinationIpv4('10.0.0.1'), undefined);
  for (const a of ['169.254.169.254', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', 'fd00:ec2::254'])
    assert.ok(isMetadataAddress(a), a);
  assert.ok(!isMetadataAddress('169.254.169.253'));
});

// Property tests: random addresses inside each blocked block, and their embedded forms.
const v4In = (base: string, prefix: number) => {
  const [a = 0, b = 0, c = 0, d = 0] = base.split('.').map(Number);
  const start = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
  return fc.integer({ min: 0, max: 2 ** (32 - prefix) - 1 }).map((offset) => formatIpv4(BigInt(start + offset)));
};
const BLOCKED_V4 = fc.oneof(
  v4In('10.0.0.0', 8),
  v4In('127.0.0.0', 8),
  v4In('169.254.0.0', 16),
  v4In('100.64.0.0', 10),
  v4In('172.16.0.0', 12),
  v4In('192.168.0.0', 16),
  v4In('0.0.0.0', 8),
  v4In('224.0.0.0', 3),
);
const bigint128 = (prefixValue: bigint, prefix: number) =>
  fc
    .bigInt({ min: 0n, max: (1n << BigInt(128 - prefix)) - 1n })
    .map((low) => formatIpv6((prefixValue << BigInt(128 - prefix)) | low));

test('property: every address in a blocked IPv4 block is refused, in every spelling', () => {
  fc.assert(
    fc.property(BLOCKED_V4, (v4) => {
      const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number);
      const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
      for (const form of [v4, `::ffff:${v4}`, `::ffff:${hex}`, `64:ff9b::${v4}`, `64:ff9b::${hex}`, `2002:${hex}::1`]) {
        assert.equal(classifyAddress(form).allowed, false, form);
      }
    }),
    { numRuns: 500 },
  );
});

test('property: every address in fc00::/7, fe80::/10, ff00::/8 and 64:ff9b:1::/48 is refused', () => {
  const blocks = fc.oneof(
    bigint128(0x7en, 7),
    bigint128(0x3fan, 10),
    bigint128(0xffn, 8),
    bigint128(0x0064ff9b0001n, 48),
  );
  fc.assert(
    fc.property(blocks, (address) => classifyAddress(address).allowed === false),
    { numRuns: 500 },
  );
});

const PUBLIC_V4 = fc
  .tuple(
    fc.integer({ min: 1, max: 223 }),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 1, max: 254 }),
  )
  .filter(
    ([a, b, c]) =>
      ![0, 10, 127].includes(a) &&
      !(a === 100 && b >= 64 && b < 128) &&
      !(a === 169 && b === 254) &&
      !(a === 172 && b >= 16 && b < 32) &&
      !(a === 192 && b === 168) &&
      !(a === 192 && b === 0 && (c === 0 || c === 2)) &&
      !(a === 192 && b === 88 && c === 99) &&
      !(a === 198 && (b === 18 || b === 19)) &&
      !(a === 198 && b === 51 && c === 100) &&
      !(a === 203 && b === 0 && c === 113),
  )
  .map((parts) => parts.join('.'));

test('property: random public addresses are allowed (IPv4, mapped, NAT64, and 2000::/3 outside special blocks)', () => {
  fc.assert(
    fc.property(
      PUBLIC_V4,
      (v4) =>
        classifyAddress(v4).allowed &&
        classifyAddress(`::ffff:${v4}`).allowed &&
        classifyAddress(`64:ff9b::${v4}`).allowed,
    ),
    { numRuns: 500 },
  );
  // 2400::/6: global unicast, away from 2001::/23, 2002::/16 and 3fff::/20.
  fc.assert(
    fc.property(bigint128(0x09n, 6), (address) => classifyAddress(address).allowed),
    { numRuns: 500 },
  );
});
