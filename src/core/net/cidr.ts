/**
 * CIDR blocks as Strongroom's settings write them: `address/prefix`, strictly parsed (a typo in
 * an allowlist silently widens or narrows it), and a matcher over a list of them.
 * - the address is a plain IPv4 dotted quad or IPv6 text (no brackets, no zone, no shorthand);
 * - the prefix is a decimal 1–32 or 1–128; `/0` is refused (the caller says why);
 * - host bits must be zero (`10.1.2.3/8` is refused: write `10.0.0.0/8` or `10.1.2.3/32`).
 */
import net from 'node:net';
import { canonicalIpv6, formatIpv4, formatIpv6, ipv4Value, ipv6Value } from './ip-address.ts';

export interface CidrEntry {
  family: 'ipv4' | 'ipv6';
  address: string;
  prefix: number;
}

/** One block, or the reason it is refused (a sentence naming the entry). */
export function parseCidr(raw: string, zeroPrefix: string): CidrEntry | string {
  const match = /^([^/]+)\/(0|[1-9][0-9]{0,2})$/.exec(raw);
  if (!match) return `"${raw}" is not address/prefix (a bare address is written 127.0.0.1/32 or ::1/128)`;
  const [, address = '', prefixText = ''] = match;
  const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) && !address.includes('%') ? 'ipv6' : undefined;
  if (!family) return `"${raw}": "${address}" is not an IPv4 dotted quad or an IPv6 address`;
  const bits = family === 'ipv4' ? 32 : 128;
  const prefix = Number(prefixText);
  if (prefix > bits) return `"${raw}": the prefix must be at most ${bits}`;
  if (prefix === 0) return `"${raw}": ${zeroPrefix}`;
  const value = family === 'ipv4' ? ipv4Value(address) : ipv6Value(address);
  const network = (value >> BigInt(bits - prefix)) << BigInt(bits - prefix);
  if (network !== value) {
    const base = family === 'ipv4' ? formatIpv4(network) : formatIpv6(network);
    return `"${raw}" has host bits set; write ${base}/${prefix} for the block or ${address}/${bits} for the one address`;
  }
  return { family, address: family === 'ipv4' ? address : canonicalIpv6(address), prefix };
}

/** Canonical text of a block, e.g. `127.0.0.0/8`, `fd00::/8`. */
export const cidrText = (e: CidrEntry) => `${e.address}/${e.prefix}`;

/** True when an address (plain text, no zone) lies in one of the blocks; anything else is false. */
export function blockListOf(entries: readonly CidrEntry[]): (address: string) => boolean {
  const list = new net.BlockList();
  for (const e of entries) list.addSubnet(e.address, e.prefix, e.family);
  return (address) =>
    net.isIPv4(address)
      ? list.check(address, 'ipv4')
      : net.isIPv6(address) && !address.includes('%') && list.check(address, 'ipv6');
}

/** Parses a list of blocks; answers the blocks, or every problem (each prefixed with `what`). */
export function parseCidrList(
  input: string | readonly string[],
  what: string,
  zeroPrefix: string,
): { entries: CidrEntry[]; problems: string[] } {
  const raw = typeof input === 'string' ? (input.trim() === '' ? [] : input.split(',')) : [...input];
  const problems: string[] = [];
  const entries: CidrEntry[] = [];
  raw.forEach((item, i) => {
    const text = item.trim();
    const parsed = text === '' ? `entry ${i + 1} is empty` : parseCidr(text, zeroPrefix);
    if (typeof parsed === 'string') problems.push(`${what}: ${parsed}`);
    else entries.push(parsed);
  });
  return { entries, problems };
}
