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
  opts: { caPem?: string | undefined; allowWeakTls: boolean; clientCertificate?: boolean },
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
    // A client certificate is only ever sent over verified TLS, loopback included.
    if (mode === 'verify-full' || (opts.clientCertificate && mode === ''))
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

/**
 * A plain explanation of a failed connection for the operator: which side refused what
 * (client certificate missing, client certificate from a CA the server does not accept, server
 * certificate not from the configured CA). Never includes the connection string.
 */
export function explainPgConnectError(err: unknown, depth = 0): string | undefined {
  // A lost or refused connection reaches callers as a 503 AppError wrapping the driver's error.
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause !== undefined && depth < 4) {
    const inner = explainPgConnectError(cause, depth + 1);
    if (inner) return inner;
  }
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (/requires a valid client certificate|no pg_hba\.conf entry.*(no encryption|SSL off)/i.test(message))
    return 'the database server requires a client certificate: set STRONGROOM_DATABASE_CLIENT_CERT_FILE and STRONGROOM_DATABASE_CLIENT_KEY_FILE';
  if (code === 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' || /alert unknown ca|tlsv1 alert unknown ca/i.test(message))
    return 'the database server rejected the client certificate: it is not signed by a CA the server accepts (ssl_ca_file)';
  if (/certificate authentication failed/i.test(message))
    return 'the database server accepted the client certificate chain but not its name: its CN must be the database user';
  if (
    [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    ].includes(code)
  )
    return "the database server's certificate is not signed by STRONGROOM_DATABASE_CA_FILE";
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return "the database server's certificate does not name the host in DATABASE_URL";
  return undefined;
}
