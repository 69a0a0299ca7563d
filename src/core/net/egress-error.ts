/**
 * The error of the egress (SSRF) guard: an `AppError` with code `EGRESS_DENIED` and a stable
 * `reason`, so drivers and routes can tell refusals apart without matching message text.
 *
 * `detail` is ours and plain ("resolves to a loopback address 127.0.0.1"); it never carries a
 * remote body, a header or a credential. It may name the address a user-supplied host resolved
 * to: the user chose that host, and naming the range is what makes the refusal actionable.
 */
import { AppError } from '../errors.ts';

export type EgressReason =
  | 'LOOPBACK'
  | 'UNSPECIFIED'
  | 'PRIVATE'
  | 'SHARED_ADDRESS' // 100.64.0.0/10, carrier-grade NAT
  | 'LINK_LOCAL'
  | 'UNIQUE_LOCAL'
  | 'MULTICAST'
  | 'BROADCAST'
  | 'DOCUMENTATION'
  | 'RESERVED'
  | 'IPV4_COMPATIBLE'
  | 'METADATA' // a cloud instance-metadata address
  | 'METADATA_HOST' // a cloud instance-metadata host name
  | 'INVALID_HOST'
  | 'SCHEME_NOT_ALLOWED'
  | 'USERINFO_NOT_ALLOWED'
  | 'UNIX_SOCKET'
  | 'NO_ADDRESS';

export class EgressDeniedError extends AppError {
  readonly reason: EgressReason;

  constructor(reason: EgressReason, detail: string) {
    super('EGRESS_DENIED', { detail, meta: { reason } });
    this.name = 'EgressDeniedError';
    this.reason = reason;
  }
}

/** True for a refusal of the egress guard (also when an SDK hands it back as a socket error). */
export function isEgressDenied(err: unknown): err is EgressDeniedError {
  return err instanceof EgressDeniedError;
}

/**
 * True when `err`, or an error in its `cause` chain, is a refusal of the egress guard — also after
 * an SDK re-wrapped it and kept only `code: 'EGRESS_DENIED'` (Azure's RestError, node-fetch's
 * FetchError do). Drivers use it to map a failure to the blob error `EGRESS_DENIED`.
 */
export function hasEgressDenial(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof EgressDeniedError || (e as { code?: unknown }).code === 'EGRESS_DENIED') return true;
  }
  return false;
}
