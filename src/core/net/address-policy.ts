/**
 * Which IP addresses Strongroom may dial on a user's behalf: pure classification, no I/O.
 *
 * Guarantees:
 * - Only publicly routable unicast passes. Refused: loopback, unspecified (0.0.0.0/8, ::),
 *   RFC 1918, carrier-grade NAT (100.64/10), link-local (169.254/16, fe80::/10), site-local
 *   (fec0::/10), unique-local (fc00::/7), multicast, broadcast, documentation, benchmarking and
 *   other IANA special-purpose ranges that are not globally reachable, the deprecated
 *   IPv4-compatible form (::a.b.c.d), the local-use NAT64 prefix (64:ff9b:1::/48) and every IPv6
 *   address outside 2000::/3 (the only block allocated for global unicast).
 * - Forms that carry an IPv4 address are judged by that address: IPv4-mapped (::ffff:a.b.c.d) and
 *   NAT64 (64:ff9b::/96) by their destination, 6to4 (2002::/16) by the embedded relay address and
 *   Teredo (2001::/32) by both the server and the (de-obfuscated) client address.
 * - Known cloud metadata addresses get their own reason, `METADATA`, and the egress allowlist can
 *   never open them (see `egress-allowlist.ts`).
 */
import net from 'node:net';
import type { EgressReason } from './egress-error.ts';
import { canonicalIpv6, formatIpv4, ipv4Value, ipv6Value } from './ip-address.ts';

export type AddressVerdict =
  | { allowed: true }
  | { allowed: false; reason: EgressReason; /** e.g. "a loopback address 127.0.0.1" */ description: string };

interface Range {
  bits: 32 | 128;
  base: bigint;
  prefix: number;
  reason: EgressReason;
  label: string;
}

function range(cidr: string, reason: EgressReason, label: string): Range {
  const [address = '', prefix = ''] = cidr.split('/');
  const bits = net.isIPv4(address) ? 32 : 128;
  return { bits, base: bits === 32 ? ipv4Value(address) : ipv6Value(address), prefix: Number(prefix), reason, label };
}

function inRange(r: Range, value: bigint): boolean {
  const shift = BigInt(r.bits - r.prefix);
  return value >> shift === r.base >> shift;
}

/** Instance-metadata endpoints: AWS (IMDS, ECS, EKS pod identity), GCP, Alibaba, and the common 169.254.169.254 (Azure, Oracle, DigitalOcean …). */
const METADATA: Range[] = [
  '169.254.169.254/32',
  '169.254.170.2/32',
  '169.254.170.23/32',
  '100.100.100.200/32',
  'fd00:ec2::254/128',
  'fd00:ec2::23/128',
  'fd20:ce::254/128',
].map((cidr) => range(cidr, 'METADATA', 'a cloud metadata address'));

/** First match wins. From the IANA IPv4 special-purpose registry, entries not globally reachable. */
const IPV4: Range[] = [
  range('0.0.0.0/8', 'UNSPECIFIED', 'an unspecified ("this network") address'),
  range('10.0.0.0/8', 'PRIVATE', 'a private (RFC 1918) address'),
  range('100.64.0.0/10', 'SHARED_ADDRESS', 'a carrier-grade NAT (shared) address'),
  range('127.0.0.0/8', 'LOOPBACK', 'a loopback address'),
  range('169.254.0.0/16', 'LINK_LOCAL', 'a link-local address'),
  range('172.16.0.0/12', 'PRIVATE', 'a private (RFC 1918) address'),
  range('192.0.0.0/24', 'RESERVED', 'a reserved (IETF protocol assignment) address'),
  range('192.0.2.0/24', 'DOCUMENTATION', 'a documentation address'),
  range('192.88.99.0/24', 'RESERVED', 'a reserved (6to4 relay anycast) address'),
  range('192.168.0.0/16', 'PRIVATE', 'a private (RFC 1918) address'),
  range('198.18.0.0/15', 'RESERVED', 'a reserved (benchmarking) address'),
  range('198.51.100.0/24', 'DOCUMENTATION', 'a documentation address'),
  range('203.0.113.0/24', 'DOCUMENTATION', 'a documentation address'),
  range('224.0.0.0/4', 'MULTICAST', 'a multicast address'),
  range('255.255.255.255/32', 'BROADCAST', 'the broadcast address'),
  range('240.0.0.0/4', 'RESERVED', 'a reserved (240/4) address'),
];

/** IPv6 ranges refused outright (embedded-IPv4 forms are handled before these). */
const IPV6: Range[] = [
  range('::/128', 'UNSPECIFIED', 'the unspecified address'),
  range('::1/128', 'LOOPBACK', 'the loopback address'),
  range('::/96', 'IPV4_COMPATIBLE', 'a deprecated IPv4-compatible address'),
  range('64:ff9b:1::/48', 'RESERVED', 'a local-use NAT64 address'),
  range('100::/64', 'RESERVED', 'a discard-only address'),
  range('2001:2::/48', 'RESERVED', 'a reserved (benchmarking) address'),
  range('2001:10::/28', 'RESERVED', 'a reserved (ORCHID) address'),
  range('2001:20::/28', 'RESERVED', 'a reserved (ORCHIDv2) address'),
  range('2001:db8::/32', 'DOCUMENTATION', 'a documentation address'),
  range('3fff::/20', 'DOCUMENTATION', 'a documentation address'),
  range('fc00::/7', 'UNIQUE_LOCAL', 'a unique-local address'),
  range('fe80::/10', 'LINK_LOCAL', 'a link-local address'),
  range('fec0::/10', 'PRIVATE', 'a site-local address'),
  range('ff00::/8', 'MULTICAST', 'a multicast address'),
];
const GLOBAL_UNICAST = range('2000::/3', 'RESERVED', '');
const MAPPED = range('::ffff:0:0/96', 'RESERVED', 'an IPv4-mapped form of');
const NAT64 = range('64:ff9b::/96', 'RESERVED', 'a NAT64 form of');
const TEREDO = range('2001::/32', 'RESERVED', 'a Teredo address embedding');
const SIX_TO_FOUR = range('2002::/16', 'RESERVED', 'a 6to4 address embedding');

const MASK32 = 0xffff_ffffn;
const ALLOWED: AddressVerdict = { allowed: true };

function refuse(r: Range, address: string): AddressVerdict {
  return { allowed: false, reason: r.reason, description: `${r.label} ${address}` };
}

function classifyIpv4(address: string): AddressVerdict {
  const value = ipv4Value(address);
  const hit = METADATA.find((r) => r.bits === 32 && inRange(r, value)) ?? IPV4.find((r) => inRange(r, value));
  return hit ? refuse(hit, address) : ALLOWED;
}

/** Judges the IPv4 addresses embedded in `value` at the given shifts; refuses if any is refused. */
function classifyEmbedded(form: Range, address: string, embedded: bigint[]): AddressVerdict {
  for (const v4 of embedded) {
    const inner = classifyIpv4(formatIpv4(v4 & MASK32));
    if (!inner.allowed) return { ...inner, description: `${address}, ${form.label} ${inner.description}` };
  }
  return ALLOWED;
}

function classifyIpv6(text: string): AddressVerdict {
  const address = canonicalIpv6(text);
  const value = ipv6Value(address);
  const metadata = METADATA.find((r) => r.bits === 128 && inRange(r, value));
  if (metadata) return refuse(metadata, address);
  if (inRange(MAPPED, value) || inRange(NAT64, value))
    return classifyEmbedded(inRange(MAPPED, value) ? MAPPED : NAT64, address, [value]);
  if (inRange(TEREDO, value)) return classifyEmbedded(TEREDO, address, [value >> 64n, ~value]);
  if (inRange(SIX_TO_FOUR, value)) return classifyEmbedded(SIX_TO_FOUR, address, [value >> 80n]);
  const hit = IPV6.find((r) => inRange(r, value));
  if (hit) return refuse(hit, address);
  if (!inRange(GLOBAL_UNICAST, value))
    return { allowed: false, reason: 'RESERVED', description: `a reserved (outside 2000::/3) address ${address}` };
  return ALLOWED;
}

/**
 * Classifies one IP address (IPv4 dotted quad or IPv6 text without brackets). Anything that is not
 * a valid address, including a zone-scoped one, is refused as `INVALID_HOST`.
 */
export function classifyAddress(address: string): AddressVerdict {
  if (net.isIPv4(address)) return classifyIpv4(address);
  if (net.isIPv6(address) && !address.includes('%')) return classifyIpv6(address);
  return { allowed: false, reason: 'INVALID_HOST', description: 'a malformed or zone-scoped address' };
}

/**
 * The IPv4 address an IPv6 address reaches when it is only another spelling of it: IPv4-mapped
 * (::ffff:a.b.c.d) or NAT64 (64:ff9b::a.b.c.d). Used so an allowlisted IPv4 block also covers them.
 */
export function destinationIpv4(address: string): string | undefined {
  if (!net.isIPv6(address) || address.includes('%')) return undefined;
  const value = ipv6Value(address);
  return inRange(MAPPED, value) || inRange(NAT64, value) ? formatIpv4(value & MASK32) : undefined;
}

/** True for the known cloud metadata addresses (also in IPv4-mapped or NAT64 form). */
export function isMetadataAddress(address: string): boolean {
  const v4 = net.isIPv4(address) ? address : destinationIpv4(address);
  if (v4 !== undefined) return METADATA.some((r) => r.bits === 32 && inRange(r, ipv4Value(v4)));
  return (
    net.isIPv6(address) &&
    !address.includes('%') &&
    METADATA.some((r) => r.bits === 128 && inRange(r, ipv6Value(address)))
  );
}
