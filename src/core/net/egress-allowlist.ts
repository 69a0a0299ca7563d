/**
 * The egress allowlist: the admin's explicit list of CIDR blocks the egress guard lets through
 * although they are private, loopback or otherwise refused (on-premises S3-compatible stores,
 * loopback emulators in tests). Configured as STRONGROOM_EGRESS_ALLOWLIST.
 *
 * Parsing is strict, because a typo here silently widens or narrows what Strongroom can reach:
 * - every entry is `address/prefix`, the address a plain IPv4 dotted quad or IPv6 text (no
 *   brackets, no zone, no inet_aton shorthand like `127.1`), the prefix a decimal 1–32 or 1–128;
 * - host bits must be zero (`10.1.2.3/8` is refused: write `10.0.0.0/8` or `10.1.2.3/32`);
 * - `/0` is refused: it would switch the guard off;
 * - empty entries (`a,,b`, a trailing comma) are refused; an empty or blank value is the empty list.
 * All problems are reported at once as a `ConfigError`.
 *
 * Metadata addresses (169.254.169.254 …) stay refused even inside an allowlisted block.
 */
import { ConfigError } from '../config-error.ts';
import { destinationIpv4, isMetadataAddress } from './address-policy.ts';
import { blockListOf, parseCidr, type CidrEntry } from './cidr.ts';

export const ALLOWLIST_VARIABLE = 'STRONGROOM_EGRESS_ALLOWLIST';

export interface EgressAllowlist {
  /** The entries in canonical form, e.g. `127.0.0.1/32`, `fd00::/8`. */
  readonly entries: readonly string[];
  /** True when `address` lies in an entry (an IPv4-mapped or NAT64 address also by its IPv4 form). */
  allows(address: string): boolean;
}

/** Parses the allowlist (comma-separated text or a list); throws `ConfigError` naming every bad entry. */
export function parseEgressAllowlist(input: string | readonly string[]): EgressAllowlist {
  const raw = typeof input === 'string' ? (input.trim() === '' ? [] : input.split(',')) : [...input];
  const problems: string[] = [];
  const entries: CidrEntry[] = [];
  raw.forEach((item, i) => {
    const text = item.trim();
    const parsed =
      text === '' ? `entry ${i + 1} is empty` : parseCidr(text, 'a /0 block would switch the egress guard off');
    if (typeof parsed === 'string') problems.push(`${ALLOWLIST_VARIABLE}: ${parsed}`);
    else entries.push(parsed);
  });
  if (problems.length > 0) throw new ConfigError(problems);
  const inList = blockListOf(entries);
  return Object.freeze({
    entries: Object.freeze(entries.map((e) => `${e.address}/${e.prefix}`)),
    allows(address: string): boolean {
      if (isMetadataAddress(address)) return false;
      const v4 = destinationIpv4(address);
      return inList(address) || (v4 !== undefined && inList(v4));
    },
  });
}
