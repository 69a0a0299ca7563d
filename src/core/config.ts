/**
 * Configuration: one zod schema over environment variables, parsed once at start, frozen and
 * passed in. Every variable carries a description (shown by `strongroom config`). A variable that
 * holds a secret may instead be given as `<NAME>_FILE`, a path whose contents are the value, so
 * the secret never sits in the process environment.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './config-error.ts';
import { parseEgressAllowlist } from './net/egress-allowlist.ts';
import { parseClientNetwork } from './net/client-allowlist.ts';

const port = (fallback: number) =>
  z.union([z.literal('off'), z.coerce.number().int().min(0).max(65535)]).default(fallback);

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .default('false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Variables whose value may come from `<NAME>_FILE`. */
export const SECRET_VARIABLES = ['DATABASE_URL', 'STRONGROOM_PKCS11_PIN', 'STRONGROOM_AUDIT_WEBHOOK_SECRET'] as const;

export const configSchema = z.object({
  STRONGROOM_HOME: z
    .string()
    .min(1)
    .default('./.strongroom')
    .describe('Data directory: embedded database, TLS material, keys, logs. Created 0700.'),
  STRONGROOM_BIND: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('Address the HTTPS and redirect listeners bind to. Use 0.0.0.0 to serve the network.'),
  STRONGROOM_HTTPS_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(8443)
    .describe('HTTPS port (0 picks a free port).'),
  STRONGROOM_HTTP_PORT: port(8080).describe(
    'Plain HTTP port that only answers 308 redirects to HTTPS; "off" disables it.',
  ),
  STRONGROOM_PUBLIC_URL: z
    .url({ protocol: /^https$/ })
    .optional()
    .describe('External https:// URL of this server; the redirect listener sends clients here.'),
  STRONGROOM_HOSTNAMES: z
    .string()
    .max(4096)
    .regex(/^[A-Za-z0-9.:\-\[\], ]*$/, 'a comma-separated list of host names')
    .optional()
    .describe(
      'Comma-separated host names clients use to reach this server. Without STRONGROOM_PUBLIC_URL the HTTP listener redirects only to one of these, to the bind address, or to localhost; any other Host header gets 400.',
    ),
  STRONGROOM_TLS_CERT_FILE: z
    .string()
    .optional()
    .describe(
      'PEM certificate chain to serve. Without it a self-signed ECDSA P-256 certificate is generated in the data directory. Reloaded on SIGHUP.',
    ),
  STRONGROOM_TLS_KEY_FILE: z
    .string()
    .optional()
    .describe('PEM private key for STRONGROOM_TLS_CERT_FILE. Reloaded on SIGHUP.'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional()
    .describe(
      'PostgreSQL URL. Without it the embedded PGlite database in the data directory is used. Secret: may be given as DATABASE_URL_FILE.',
    ),
  STRONGROOM_DATABASE_CA_FILE: z
    .string()
    .optional()
    .describe('PEM CA bundle used to verify a remote PostgreSQL server (verify-full).'),
  STRONGROOM_DATABASE_CLIENT_CERT_FILE: z
    .string()
    .optional()
    .describe(
      'PEM client certificate for a PostgreSQL server that authenticates clients by certificate (pg_hba "cert"); sent only over verified TLS; re-read on SIGHUP.',
    ),
  STRONGROOM_DATABASE_CLIENT_KEY_FILE: z
    .string()
    .optional()
    .describe('PEM private key of STRONGROOM_DATABASE_CLIENT_CERT_FILE (0600).'),
  STRONGROOM_DATABASE_ALLOW_WEAK_TLS: bool.describe(
    'Explicitly allow a remote PostgreSQL connection without TLS verify-full (sslmode other than verify-full). Off by default.',
  ),
  STRONGROOM_METRICS_BIND: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('Address of the internal Prometheus /metrics listener (never the public one).'),
  STRONGROOM_METRICS_PORT: port(9464).describe('Port of the internal /metrics listener; "off" disables it.'),
  STRONGROOM_BODY_LIMIT: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024)
    .describe('Largest accepted JSON request body in bytes (streamed uploads have their own limits).'),
  STRONGROOM_SHUTDOWN_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(15_000)
    .describe('How long SIGTERM waits for in-flight requests before closing them.'),
  STRONGROOM_ROOT_KEY_PROVIDER: z
    .enum(['file', 'shamir', 'pkcs11'])
    .default('file')
    .describe(
      'Where the root key comes from, chosen at init: file (0600 file, auto-unseal), shamir (operators unseal with K of N shares), pkcs11 (wrapped by an HSM key, auto-unseal).',
    ),
  STRONGROOM_ROOT_KEY_FILE: z
    .string()
    .optional()
    .describe('Root key file for the file provider (default <home>/root.key). Must be 0600.'),
  STRONGROOM_SHAMIR_SHARES: z.coerce
    .number()
    .int()
    .min(2)
    .max(255)
    .default(5)
    .describe('Shamir: number of unseal shares printed by init.'),
  STRONGROOM_SHAMIR_THRESHOLD: z.coerce
    .number()
    .int()
    .min(2)
    .max(255)
    .default(3)
    .describe('Shamir: shares needed to unseal.'),
  STRONGROOM_PKCS11_MODULE: z
    .string()
    .optional()
    .describe('PKCS#11: path of the HSM module (e.g. /usr/lib/softhsm/libsofthsm2.so).'),
  STRONGROOM_PKCS11_TOKEN_LABEL: z
    .string()
    .optional()
    .describe('PKCS#11: label of the token holding the wrapping key.'),
  STRONGROOM_PKCS11_PIN: z
    .string()
    .optional()
    .describe('PKCS#11: user PIN. Secret: may be given as STRONGROOM_PKCS11_PIN_FILE.'),
  STRONGROOM_PKCS11_KEY_LABEL: z
    .string()
    .default('strongroom-root-wrap')
    .describe('PKCS#11: label of the non-extractable AES key in the HSM.'),
  STRONGROOM_SESSION_IDLE_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(86_400)
    .default(3600)
    .describe('A session unused for this long ends (idle timeout).'),
  STRONGROOM_SESSION_ABSOLUTE_SECONDS: z.coerce
    .number()
    .int()
    .min(300)
    .max(30 * 86_400)
    .default(86_400)
    .describe('A session ends this long after sign-in, used or not (absolute timeout).'),
  STRONGROOM_REAUTH_MAX_AGE_SECONDS: z.coerce
    .number()
    .int()
    .min(30)
    .max(3600)
    .default(300)
    .describe('Sensitive actions need a password or MFA proof at most this old (re-authentication).'),
  STRONGROOM_LOGIN_FREE_ATTEMPTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(3)
    .describe('Failed sign-ins per account before exponential backoff starts (1 s, 2 s, 4 s … up to 5 min).'),
  STRONGROOM_LOGIN_MAX_ATTEMPTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(10)
    .describe('Sign-in attempts per account within the window before it is locked for STRONGROOM_LOGIN_LOCK_SECONDS.'),
  STRONGROOM_LOGIN_MAX_ATTEMPTS_PER_ADDRESS: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(100)
    .describe('Sign-in attempts per source address (all accounts) within the window before that address is locked.'),
  STRONGROOM_LOGIN_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(86_400)
    .default(900)
    .describe('Window over which sign-in attempts are counted.'),
  STRONGROOM_LOGIN_LOCK_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(900)
    .describe('How long an account or address stays locked after too many attempts.'),
  STRONGROOM_EGRESS_ALLOWLIST: z
    .string()
    .default('')
    .describe(
      'Comma-separated addresses the outbound-connection guard lets through although they are private or loopback: CIDR blocks (10.1.0.0/16, 127.0.0.1/32, ::1/128). Empty = only public addresses. Needed for on-premises S3-compatible stores and for test emulators.',
    ),
  STRONGROOM_ALLOWED_CLIENT_CIDRS: z
    .string()
    .default('')
    .describe(
      'Comma-separated CIDR blocks the API may be called from (e.g. 10.20.0.0/16,2001:db8::/32). Requests from elsewhere are refused with 403 before authentication and audited (network.client.refused). Empty = every address. A workspace may narrow it further in its settings.',
    ),
  STRONGROOM_TRUSTED_PROXIES: z
    .string()
    .default('')
    .describe(
      'Comma-separated CIDR blocks of reverse proxies / load balancers whose X-Forwarded-For header is believed: the client address is the right-most address in it that is not itself a trusted proxy. Empty = the header is ignored and the TCP peer is the client.',
    ),
  STRONGROOM_EGRESS_CONNECT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(120_000)
    .default(5000)
    .describe('Outbound connections to drives and other user-supplied endpoints: connect timeout.'),
  STRONGROOM_EGRESS_READ_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe('Outbound connections: idle read timeout.'),
  STRONGROOM_LOCAL_DRIVE_ROOT: z
    .string()
    .optional()
    .describe(
      'Local drives may only live under this directory (default <home>/drives), each workspace under <root>/<workspace>. The default local drive of a workspace is <root>/<workspace>/default.',
    ),
  STRONGROOM_DRIVE_HEALTH_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(900)
    .describe(
      'How often every drive is re-tested (probe object written, read, deleted) and its status updated; 0 turns it off.',
    ),
  STRONGROOM_PRE_MIGRATION_BACKUP: z
    .enum(['on', 'off'])
    .default('on')
    .describe(
      'A server that starts with pending schema migrations first takes a backup to the first backup target and does not migrate if it fails; off migrates without one (logged and audited). Nothing to do when there is no backup target (logged).',
    ),
  STRONGROOM_KEY_ROTATION_DAYS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3650)
    .default(90)
    .describe(
      'Rotate the keyring (a new term, then a background rewrap) when the active term is older than this many days; the keys.term-age posture control fails past it. 0 turns scheduled rotation off.',
    ),
  STRONGROOM_POSTURE_CHECK_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(604_800)
    .default(3600)
    .describe('How often the security posture controls run and their results are stored; 0 turns the schedule off.'),
  STRONGROOM_SYSTEM_DRIVE: z
    .string()
    .regex(/^(local|[a-z0-9][a-z0-9-]{0,62}\/[a-z0-9][a-z0-9._-]{0,62})$/, 'local, or <workspace>/<drive>')
    .default('local')
    .describe(
      'Where Strongroom keeps its own objects (encrypted task logs under logs/tasks/): "local" (the data directory) or a drive as <workspace>/<drive> (S3, Azure, GCS), so several servers share them and a lost server loses nothing.',
    ),
  STRONGROOM_AUDIT_SYSLOG_URL: z
    .url({ protocol: /^tls$/ })
    .optional()
    .describe(
      'Stream audit events as RFC 5424 syslog over TLS to tls://host:port (the server certificate is verified).',
    ),
  STRONGROOM_AUDIT_SYSLOG_CA_FILE: z
    .string()
    .optional()
    .describe('PEM CA bundle that signs the syslog receiver’s certificate (default: the system roots).'),
  STRONGROOM_AUDIT_WEBHOOK_URL: z
    .url({ protocol: /^https$/ })
    .optional()
    .describe('Stream audit events as signed JSON-lines batches to this https:// webhook.'),
  STRONGROOM_AUDIT_WEBHOOK_SECRET: z
    .string()
    .min(32)
    .optional()
    .describe('HMAC-SHA256 key for the webhook signature header (at least 32 characters; prefer _FILE).'),
  STRONGROOM_AUDIT_WEBHOOK_CA_FILE: z
    .string()
    .optional()
    .describe('PEM CA bundle that signs the webhook receiver’s certificate (default: the system roots).'),
  STRONGROOM_UPLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(Number.MAX_SAFE_INTEGER)
    .default(5 * 1024 ** 4)
    .describe('Largest dataset upload accepted, in bytes (default 5 TiB).'),
  STRONGROOM_UPLOAD_SESSION_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(86_400)
    .describe(
      'A resumable upload session stays open this long after its last stored part; then the cleanup job deletes its parts.',
    ),
  STRONGROOM_UPLOAD_LEASE_SECONDS: z.coerce
    .number()
    .int()
    .min(3)
    .max(3600)
    .default(60)
    .describe(
      'A streamed upload holds its new version under a lease renewed while bytes flow; when no bytes arrive for this long (or its server died) the lease is free: another upload may take the dataset and the cleanup job removes the leftovers. A live upload is never removed, however long it runs.',
    ),
  STRONGROOM_PROFILE_LEASE_SECONDS: z.coerce
    .number()
    .int()
    .min(2)
    .max(3600)
    .default(60)
    .describe(
      'A profile job is held under a lease renewed every third of this time while it runs; when its server dies, another server (on the same PostgreSQL) takes the job over once the lease has ended, checking every half of this time.',
    ),
  STRONGROOM_UPLOAD_ORPHAN_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 86_400)
    .default(0)
    .describe(
      "Extra time the cleanup job waits after an upload's lease became free before deleting its object (uploads of a dead server of this data directory are released at once at start).",
    ),
  STRONGROOM_QUERY_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(3_600_000)
    .default(60_000)
    .describe('A preview, query or export still running after this many milliseconds is cancelled (503 QUERY_LIMIT).'),
  STRONGROOM_QUERY_MEMORY_MB: z.coerce
    .number()
    .int()
    .min(64)
    .max(1_048_576)
    .default(1024)
    .describe('Memory limit of the DuckDB instance of one query, in MiB.'),
  STRONGROOM_QUERY_THREADS: z.coerce.number().int().min(1).max(256).default(2).describe('DuckDB threads per query.'),
  STRONGROOM_QUERY_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(4)
    .describe('Previews, queries and exports running at once in this process; more are refused with 429.'),
  STRONGROOM_QUERY_MAX_ROWS: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000_000)
    .default(100_000)
    .describe('Largest row limit a query may ask for (its default limit is the smaller of 1000 and this).'),
  STRONGROOM_QUERY_SCRATCH_DIR: z
    .string()
    .default('/dev/shm')
    .describe(
      'Memory file system (tmpfs) under which queries keep their private 0700 scratch: query copies, spill files, results. Must be tmpfs or ramfs, or every read is refused; never put it on a disk.',
    ),
  STRONGROOM_QUERY_CACHE_MB: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_048_576)
    .default(1024)
    .describe(
      'Query copies (Parquet, in the scratch) kept for later queries, in MiB; the least recently used go first.',
    ),
  STRONGROOM_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('Log level of the JSON logs on standard output.'),
});

export type RawConfig = z.infer<typeof configSchema>;

export interface Config extends Omit<RawConfig, 'STRONGROOM_HOME'> {
  /** Absolute path of the data directory. */
  STRONGROOM_HOME: string;
}

export { ConfigError } from './config-error.ts';

/** Parse configuration from an environment. Throws `ConfigError` listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Readonly<Config> {
  const problems: string[] = [];
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    input[key] = value === '' ? undefined : value;
  }
  for (const key of SECRET_VARIABLES) {
    const file = env[`${key}_FILE`];
    if (!file) continue;
    if (input[key] !== undefined) {
      problems.push(`${key} and ${key}_FILE are both set; set only one`);
      continue;
    }
    try {
      input[key] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch {
      problems.push(`${key}_FILE: cannot read ${file}`);
    }
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const c = parsed.data;
  if (Boolean(c.STRONGROOM_TLS_CERT_FILE) !== Boolean(c.STRONGROOM_TLS_KEY_FILE)) {
    throw new ConfigError(['STRONGROOM_TLS_CERT_FILE and STRONGROOM_TLS_KEY_FILE must be set together']);
  }
  if (Boolean(c.STRONGROOM_DATABASE_CLIENT_CERT_FILE) !== Boolean(c.STRONGROOM_DATABASE_CLIENT_KEY_FILE)) {
    throw new ConfigError([
      'STRONGROOM_DATABASE_CLIENT_CERT_FILE and STRONGROOM_DATABASE_CLIENT_KEY_FILE must be set together',
    ]);
  }
  if (c.STRONGROOM_SHAMIR_THRESHOLD > c.STRONGROOM_SHAMIR_SHARES) {
    throw new ConfigError(['STRONGROOM_SHAMIR_THRESHOLD must not exceed STRONGROOM_SHAMIR_SHARES']);
  }
  if (
    c.STRONGROOM_ROOT_KEY_PROVIDER === 'pkcs11' &&
    !(c.STRONGROOM_PKCS11_MODULE && c.STRONGROOM_PKCS11_TOKEN_LABEL && c.STRONGROOM_PKCS11_PIN)
  ) {
    throw new ConfigError([
      'the pkcs11 root key provider needs STRONGROOM_PKCS11_MODULE, STRONGROOM_PKCS11_TOKEN_LABEL and STRONGROOM_PKCS11_PIN (or _FILE)',
    ]);
  }
  if (c.STRONGROOM_AUDIT_WEBHOOK_URL && !c.STRONGROOM_AUDIT_WEBHOOK_SECRET) {
    throw new ConfigError(['STRONGROOM_AUDIT_WEBHOOK_URL needs STRONGROOM_AUDIT_WEBHOOK_SECRET (or _FILE)']);
  }
  // Throws ConfigError naming every bad entry, so a typo stops the server at start.
  parseEgressAllowlist(c.STRONGROOM_EGRESS_ALLOWLIST);
  parseClientNetwork(c.STRONGROOM_ALLOWED_CLIENT_CIDRS, c.STRONGROOM_TRUSTED_PROXIES);
  return Object.freeze({ ...c, STRONGROOM_HOME: path.resolve(cwd, c.STRONGROOM_HOME) });
}

/** Rows for `strongroom config`: every variable, its default and its description. */
export function describeConfig(): { name: string; default: string; description: string }[] {
  return Object.entries(configSchema.shape).map(([name, schema]) => {
    const s = schema as z.ZodType;
    const def = s.safeParse(undefined);
    return {
      name,
      default: def.success && def.data !== undefined ? String(def.data) : '',
      description: s.description ?? '',
    };
  });
}
