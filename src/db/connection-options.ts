/**
 * How Strongroom connects to PostgreSQL. A remote server (anything but loopback or a Unix socket)
 * gets TLS with full verification (certificate chain and host name, libpq's `verify-full`) unless
 * the operator explicitly allows weaker settings. Encryption without verification
 * (`require`/`prefer`/`allow`) is refused outright: it stops no active attacker.
 */
import type { ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';

export interface PgConnectionPlan {
  /** Connection string with `sslmode` and friends removed: TLS is configured through `ssl`. */
  connectionString: string;
  ssl: false | ConnectionOptions;
  /** Human summary for logs and `doctor`, never containing credentials. */
  summary: string;
}

export class DatabaseUrlError extends Error {}

const SSL_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'ssl', 'uselibpqcompat'];

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === '' || h === 'localhost' || h.startsWith('/')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

export function planPgConnection(
  url: string,
  opts: { caPem?: string | undefined; allowWeakTls: boolean },
): PgConnectionPlan {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DatabaseUrlError('DATABASE_URL is not a valid URL');
  }
  const host = u.searchParams.get('host') ?? u.hostname;
  const mode = (u.searchParams.get('sslmode') ?? '').toLowerCase();
  for (const p of SSL_PARAMS) u.searchParams.delete(p);
  const connectionString = u.toString();
  const where = `${host || 'socket'}:${u.port || 5432}/${u.pathname.slice(1)}`;
  const verifyFull: ConnectionOptions = { rejectUnauthorized: true, ...(opts.caPem ? { ca: opts.caPem } : {}) };

  if (isLoopbackHost(host)) {
    if (mode === 'verify-full')
      return { connectionString, ssl: verifyFull, summary: `${where} (loopback, TLS verify-full)` };
    return { connectionString, ssl: false, summary: `${where} (loopback, no TLS)` };
  }
  if (mode === '' || mode === 'verify-full') {
    return { connectionString, ssl: verifyFull, summary: `${where} (TLS verify-full)` };
  }
  if (['require', 'prefer', 'allow'].includes(mode)) {
    throw new DatabaseUrlError(
      `sslmode=${mode} encrypts without verifying the server; use verify-full (default) or, with STRONGROOM_DATABASE_ALLOW_WEAK_TLS=true, verify-ca or disable`,
    );
  }
  if (!opts.allowWeakTls) {
    throw new DatabaseUrlError(
      `sslmode=${mode} for a remote database weakens TLS; set STRONGROOM_DATABASE_ALLOW_WEAK_TLS=true to allow it explicitly`,
    );
  }
  if (mode === 'disable') return { connectionString, ssl: false, summary: `${where} (NO TLS, explicitly allowed)` };
  if (mode === 'verify-ca') {
    // Chain verified against the CA, host name not checked: the explicit, documented weakening.
    return {
      connectionString,
      ssl: { ...verifyFull, checkServerIdentity: () => undefined },
      summary: `${where} (TLS verify-ca, host name not checked, explicitly allowed)`,
    };
  }
  throw new DatabaseUrlError(`unknown sslmode=${mode}`);
}
