/**
 * The egress policy: what the SSRF guard decides, without doing any I/O. The resolving guard
 * (`src/adapters/net/egress-guard.ts`) calls it before DNS (`checkHost`) and on every answer
 * (`checkAddresses`).
 *
 * Guarantees:
 * - A host that is not a plain DNS name or IP address is refused (`INVALID_HOST`).
 * - An IP literal in any spelling (`127.1`, `0x7f.1`, `2130706433`, `[::ffff:127.0.0.1]` …) is
 *   judged as the address it denotes, before any connection.
 * - Cloud metadata host names are refused by name, allowlist or not.
 * - A name passes only if it has at least one address and EVERY address passes: one private
 *   record among public ones refuses the whole name (no picking the "good" answer).
 * - An address passes if it is public (see `address-policy.ts`) or inside the admin allowlist
 *   (metadata addresses never are).
 */
import { classifyAddress } from './address-policy.ts';
import type { EgressAllowlist } from './egress-allowlist.ts';
import { parseEgressAllowlist } from './egress-allowlist.ts';
import { EgressDeniedError } from './egress-error.ts';
import type { HostForm } from './ip-address.ts';
import { parseHost } from './ip-address.ts';

/**
 * Host names of cloud instance-metadata services, refused before any DNS query: GCP
 * (`metadata.google.internal`, `metadata.goog`, the short `metadata`) and AWS (`instance-data`,
 * `instance-data.ec2.internal`). Their addresses are refused too, whatever name leads to them.
 */
export const METADATA_HOSTNAMES: readonly string[] = Object.freeze([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

export interface EgressPolicy {
  readonly allowlist: EgressAllowlist;
  /** Parses `host` and refuses invalid hosts, metadata names and refused IP literals. */
  checkHost(host: string): HostForm;
  /** Refuses `name` unless it has addresses and every one of them may be dialled. */
  checkAddresses(name: string, addresses: readonly string[]): void;
  /** Refuses one address (a literal host, or a single answer). `subject` starts the detail. */
  checkAddress(address: string, subject: string): void;
}

/** Builds the policy from the allowlist (text, list, or an already parsed allowlist). */
export function createEgressPolicy(allowlist: string | readonly string[] | EgressAllowlist): EgressPolicy {
  const list =
    typeof allowlist === 'string' || Array.isArray(allowlist)
      ? parseEgressAllowlist(allowlist)
      : (allowlist as EgressAllowlist);

  function checkAddress(address: string, subject: string): void {
    if (list.allows(address)) return;
    const verdict = classifyAddress(address);
    if (!verdict.allowed) throw new EgressDeniedError(verdict.reason, `${subject} ${verdict.description}`);
  }

  return Object.freeze({
    allowlist: list,
    checkAddress,
    checkHost(host: string): HostForm {
      const form = parseHost(host);
      if (!form) throw new EgressDeniedError('INVALID_HOST', 'the host is not a valid DNS name or IP address');
      if (form.kind !== 'name') checkAddress(form.address, 'the host is');
      else if (METADATA_HOSTNAMES.includes(form.name)) {
        throw new EgressDeniedError('METADATA_HOST', `${form.name} is a cloud metadata host name`);
      }
      return form;
    },
    checkAddresses(name: string, addresses: readonly string[]): void {
      if (addresses.length === 0) throw new EgressDeniedError('NO_ADDRESS', `${name} has no address`);
      for (const address of addresses) checkAddress(address, `${name} resolves to`);
    },
  });
}
