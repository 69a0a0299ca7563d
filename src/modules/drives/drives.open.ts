/**
 * Builds a blob driver for a drive definition and its credential.
 *
 * - Every cloud driver dials through the egress guard's agents: the endpoint a user typed, an
 *   Azure connection string's BlobEndpoint and a service-account key's token_uri alike.
 * - Local drives live only under `<root>/<workspace>/`: a workspace cannot mount another's
 *   directory. The directory is resolved with symlinks followed and must stay inside that base.
 * - The cloud SDKs (S3, Azure, GCS: together ~1.5 s of module loading and ~75 MiB of memory) are
 *   loaded when a drive of that kind is first opened, not at server start: an installation that
 *   uses only local drives never loads them.
 */
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { BlobDriver } from '../../adapters/blob/driver.ts';
import type { GcsServiceAccount } from '../../adapters/blob/gcs.ts';
import { createLocalDriver } from '../../adapters/blob/local.ts';
import type { EgressGuard } from '../../adapters/net/egress-guard.ts';
import { AppError } from '../../core/errors.ts';
import type { CloudCredential, DriveKindName } from '../../contracts/drives.ts';

export interface OpenContext {
  guard: EgressGuard;
  /** Absolute root under which local drives live. */
  localRoot: string;
}

type AnyConfig = Record<string, unknown>;

const GCS_XML_ENDPOINT = 'https://storage.googleapis.com';

function credentialMismatch(kind: string): AppError {
  return new AppError('VALIDATION_FAILED', {
    detail: `The credentials are not for ${kind}: give a cloud-credential of provider "${kind === 'gcs' ? 'gcs' : kind}".`,
  });
}

/** A workspace id as one safe directory name. */
const wsDir = (workspaceId: string) => workspaceId.replace(/[^A-Za-z0-9._-]/g, '_');

/** The local directory of a drive, created if missing, proven to be inside its workspace's base. */
export async function localDirectory(
  localRoot: string,
  workspaceId: string,
  name: string,
  config: AnyConfig,
): Promise<string> {
  const rel = typeof config.directory === 'string' ? config.directory : name;
  const base = path.join(localRoot, wsDir(workspaceId));
  await mkdir(base, { recursive: true, mode: 0o700 });
  const root = await realpath(base);
  const wanted = path.resolve(root, rel);
  if (!wanted.startsWith(root + path.sep))
    throw new AppError('VALIDATION_FAILED', {
      detail: "The directory must be inside the workspace's local drive root.",
    });
  await mkdir(wanted, { recursive: true, mode: 0o700 });
  const real = await realpath(wanted);
  if (!real.startsWith(root + path.sep))
    throw new AppError('VALIDATION_FAILED', {
      detail: 'The directory leads outside the local drive root (a symbolic link?).',
    });
  return real;
}

export async function openDriver(
  ctx: OpenContext,
  workspaceId: string,
  name: string,
  kind: DriveKindName,
  config: AnyConfig,
  credential: CloudCredential | undefined,
): Promise<BlobDriver> {
  const timeouts = { connect: ctx.guard.connectTimeoutMs, read: ctx.guard.readTimeoutMs };
  const prefix = typeof config.prefix === 'string' && config.prefix !== '' ? config.prefix : undefined;
  const endpoint = typeof config.endpoint === 'string' ? config.endpoint : undefined;
  if (kind === 'local')
    return createLocalDriver({ root: await localDirectory(ctx.localRoot, workspaceId, name, config) });
  if (!credential) throw new AppError('VALIDATION_FAILED', { detail: 'This drive needs credentials.' });
  // Check the endpoint before a driver exists, so a refused address fails in one clear place.
  if (endpoint) await ctx.guard.checkUrl(endpoint);
  const agentFor = (url: string) =>
    url.startsWith('http:') ? ctx.guard.httpAgent({ keepAlive: true }) : ctx.guard.httpsAgent({ keepAlive: true });

  if (kind === 's3' || (kind === 'gcs' && credential.provider === 'gcs' && credential.kind === 'hmac')) {
    let keys: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
    if (credential.provider === 's3')
      keys = {
        accessKeyId: credential.accessKeyId,
        secretAccessKey: credential.secretAccessKey,
        ...(credential.sessionToken ? { sessionToken: credential.sessionToken } : {}),
      };
    else if (credential.provider === 'gcs' && credential.kind === 'hmac')
      keys = { accessKeyId: credential.accessId, secretAccessKey: credential.secret };
    else throw credentialMismatch(kind);
    const ep = kind === 'gcs' ? (endpoint ?? GCS_XML_ENDPOINT) : endpoint;
    const { createS3Driver } = await import('../../adapters/blob/s3.ts');
    return createS3Driver({
      bucket: String(config.bucket),
      region: kind === 'gcs' ? 'auto' : String(config.region ?? 'us-east-1'),
      ...(ep ? { endpoint: ep } : {}),
      ...(typeof config.pathStyle === 'boolean' ? { forcePathStyle: config.pathStyle } : {}),
      ...(prefix ? { prefix } : {}),
      credentials: keys,
      httpAgent: ctx.guard.httpAgent({ keepAlive: true }),
      httpsAgent: ctx.guard.httpsAgent({ keepAlive: true }),
      connectTimeoutMs: timeouts.connect,
      requestTimeoutMs: timeouts.read,
    });
  }

  if (kind === 'azure') {
    if (credential.provider !== 'azure') throw credentialMismatch(kind);
    const { createAzureDriver } = await import('../../adapters/blob/azure.ts');
    const container = String(config.container);
    if (credential.kind === 'connection-string') {
      const blobEndpoint = /(?:^|;)BlobEndpoint=([^;]+)/i.exec(credential.connectionString)?.[1];
      const account = /(?:^|;)AccountName=([^;]+)/i.exec(credential.connectionString)?.[1];
      const target = blobEndpoint ?? (account ? `https://${account}.blob.core.windows.net` : undefined);
      if (!target)
        throw new AppError('VALIDATION_FAILED', {
          detail: 'The connection string names neither an account nor a blob endpoint.',
        });
      await ctx.guard.checkUrl(target);
      return createAzureDriver({
        container,
        ...(prefix ? { prefix } : {}),
        auth: { kind: 'connection-string', connectionString: credential.connectionString },
        agent: agentFor(target),
        requestTimeoutMs: timeouts.read,
      });
    }
    const base = endpoint ?? `https://${credential.accountName}.blob.core.windows.net`;
    if (!endpoint) await ctx.guard.checkUrl(base);
    if (credential.kind === 'account-key') {
      return createAzureDriver({
        container,
        ...(prefix ? { prefix } : {}),
        auth: {
          kind: 'account-key',
          accountName: credential.accountName,
          accountKey: credential.accountKey,
          endpoint: base,
        },
        agent: agentFor(base),
        requestTimeoutMs: timeouts.read,
      });
    }
    const sas = credential.sasToken.replace(/^\?/, '');
    return createAzureDriver({
      container,
      ...(prefix ? { prefix } : {}),
      auth: { kind: 'sas-url', url: `${base.replace(/\/+$/, '')}/${container}?${sas}` },
      agent: agentFor(base),
      requestTimeoutMs: timeouts.read,
    });
  }

  if (credential.provider !== 'gcs' || credential.kind !== 'service-account') throw credentialMismatch(kind);
  // The key's token_uri is a user-supplied address as well: the token client dials it through the
  // same guarded agent (and refuses a scheme different from the API endpoint's).
  const sa = credential.serviceAccount as GcsServiceAccount;
  const tokenUri = typeof sa.token_uri === 'string' ? sa.token_uri : 'https://oauth2.googleapis.com/token';
  await ctx.guard.checkUrl(tokenUri);
  const api = endpoint ?? 'https://storage.googleapis.com';
  const { createGcsDriver } = await import('../../adapters/blob/gcs.ts');
  return createGcsDriver({
    bucket: String(config.bucket),
    ...(prefix ? { prefix: `${prefix}/` } : {}),
    serviceAccount: sa,
    apiEndpoint: api,
    agent: agentFor(api),
    timeoutMs: timeouts.read,
  });
}
