/**
 * Host and IP-address forms, parsed with Node's own parsers (WHATWG `URL`, `net.isIP`), never a
 * hand-rolled one.
 *
 * Guarantees:
 * - Every form a C resolver would read as an IPv4 address (`127.1`, `0x7f.1`, `017700000001`,
 *   `2130706433`, `0`, full-width digits, a trailing dot) comes back as `ipv4` with its canonical
 *   dotted quad, because the WHATWG host parser applies the same inet_aton rules.
 * - IPv6 comes back canonical (lowercase, `::`-compressed, embedded IPv4 as hex), brackets removed.
 *   A zone index (`fe80::1%eth0`) is refused: it only makes sense on a local link.
 * - Anything else must be a plain DNS name (letters, digits, `-`, `_`, dots; labels ≤ 63, name
 *   ≤ 253): no spaces, no `@`, no `:`, nothing a resolver might cut short or read differently.
 */
import net from 'node:net';

export type HostForm =
  { kind: 'ipv4'; address: string } | { kind: 'ipv6'; address: string } | { kind: 'name'; name: string };

// ASCII a host may not contain before URL normalisation: everything but letters, digits, `-`, `.`, `_`.
const FORBIDDEN_ASCII = /[\u0000-\u002c\u002f\u003a-\u0040\u005b-\u005e\u0060\u007b-\u007f]/;
const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const DNS_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** Parses a host as written in a URL or handed to `dns.lookup`; null when it is not a usable host. */
export function parseHost(input: string): HostForm | null {
  if (typeof input !== 'string' || input.length === 0 || input.length > 300) return null;
  const inner = input.startsWith('[') && input.endsWith(']') ? input.slice(1, -1) : input;
  if (inner !== input || net.isIPv6(inner)) {
    return net.isIPv6(inner) && !inner.includes('%') ? { kind: 'ipv6', address: canonicalIpv6(inner) } : null;
  }
  if (net.isIPv4(input)) return { kind: 'ipv4', address: input };
  if (FORBIDDEN_ASCII.test(input)) return null;
  let hostname: string;
  try {
    hostname = new URL(`http://${input}/`).hostname;
  } catch {
    return null;
  }
  if (net.isIPv4(hostname)) return { kind: 'ipv4', address: hostname };
  const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  return name.length <= 253 && DNS_NAME.test(name) ? { kind: 'name', name } : null;
}

/** Canonical text of a valid IPv6 address (as the URL serialiser writes it, without brackets). */
export function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** The 32-bit value of a dotted-quad IPv4 address (validated by `net.isIPv4` first). */
export function ipv4Value(address: string): bigint {
  if (!net.isIPv4(address)) throw new TypeError('not an IPv4 address');
  return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** The 128-bit value of an IPv6 address (any valid form; zone indexes are refused). */
export function ipv6Value(address: string): bigint {
  if (!net.isIPv6(address) || address.includes('%')) throw new TypeError('not an IPv6 address');
  const text = canonicalIpv6(address);
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** Dotted quad of a 32-bit value. */
export function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/** Canonical IPv6 text of a 128-bit value. */
export function formatIpv6(value: bigint): string {
  const groups = value.toString(16).padStart(32, '0').match(/.{4}/g) ?? [];
  return canonicalIpv6(groups.join(':'));
}
