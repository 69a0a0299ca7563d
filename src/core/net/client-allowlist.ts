/**
 * Which client addresses may call the API, and which peers are proxies whose X-Forwarded-For is
 * believed (STRONGROOM_ALLOWED_CLIENT_CIDRS, STRONGROOM_TRUSTED_PROXIES; a workspace's own list is
 * parsed by the same rules).
 *
 * - An empty allowlist allows every address; a non-empty one allows exactly its blocks. `/0` is
 *   refused (write nothing instead), as are host bits and anything that is not address/prefix.
 * - An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, seen on a dual-stack listener) is matched by
 *   its IPv4 form.
 * - Trusted proxies: `/0` is refused, since X-Forwarded-For from anyone would let any client
 *   choose its own address.
 */
import net from 'node:net';
import { ConfigError } from '../config-error.ts';
import { blockListOf, cidrText, parseCidrList } from './cidr.ts';

export interface AddressList {
  /** The blocks in canonical form; empty = no restriction (allowlist) or nobody (proxies). */
  readonly entries: readonly string[];
  /** True when the address lies in a block. */
  has(address: string): boolean;
}

export interface ClientNetwork {
  readonly allowed: AddressList;
  readonly trustedProxies: AddressList;
  /** True when the allowlist is empty or the address lies in it. */
  allows(address: string): boolean;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; anything else unchanged. */
export function plainClientAddress(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m && net.isIPv4(m[1]!) ? m[1]! : address;
}

function listOf(input: string | readonly string[], what: string, zero: string): AddressList | string[] {
  const { entries, problems } = parseCidrList(input, what, zero);
  if (problems.length > 0) return problems;
  const inList = blockListOf(entries);
  return Object.freeze({
    entries: Object.freeze(entries.map(cidrText)),
    has: (address: string) => inList(plainClientAddress(address)),
  });
}

const ZERO_ALLOWED = 'a /0 block allows everyone: leave the list empty instead';

/** A workspace's allowlist (up to 100 blocks): the list, or every problem with it. */
export function parseClientCidrs(input: readonly string[], what = 'cidrs'): AddressList | string[] {
  if (input.length > 100) return [`${what}: at most 100 blocks`];
  return listOf(input, what, ZERO_ALLOWED);
}

/** Parses both settings; throws `ConfigError` naming every bad entry. */
export function parseClientNetwork(allowed: string, proxies: string): ClientNetwork {
  const a = listOf(allowed, 'STRONGROOM_ALLOWED_CLIENT_CIDRS', ZERO_ALLOWED);
  const p = listOf(
    proxies,
    'STRONGROOM_TRUSTED_PROXIES',
    'trusting X-Forwarded-For from every address lets any client choose its own address',
  );
  const problems = [...(Array.isArray(a) ? a : []), ...(Array.isArray(p) ? p : [])];
  if (problems.length > 0) throw new ConfigError(problems);
  const allowedList = a as AddressList;
  return Object.freeze({
    allowed: allowedList,
    trustedProxies: p as AddressList,
    allows: (address: string) => allowedList.entries.length === 0 || allowedList.has(address),
  });
}
