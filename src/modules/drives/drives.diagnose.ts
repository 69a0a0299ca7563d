/**
 * The connection diagnosis behind "Test": each step with pass/fail, a plain reason and a hint.
 *
 * Steps run in order and stop at the first failure that makes the rest meaningless (no point
 * writing when the credentials are refused). The report never contains a credential, an SDK
 * message or a remote body: reasons come from the normalised BlobError codes and our own text.
 * The probe object is random, small, and deleted again; its content is compared on read.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { buffer } from 'node:stream/consumers';
import type { BlobDriver, BlobErrorCode, StoreFacts } from '../../adapters/blob/driver.ts';
import { BlobError, isBlobError } from '../../adapters/blob/driver.ts';
import { isAppError } from '../../core/errors.ts';
import type { DriveKindName } from './drives.definition.ts';

export type StepStatus = 'pass' | 'fail' | 'warn' | 'skip';
export type DiagnosisCode =
  | 'DRIVE_AUTH_FAILED'
  | 'DRIVE_BUCKET_NOT_FOUND'
  | 'DRIVE_PERMISSION_DENIED'
  | 'DRIVE_UNREACHABLE'
  | 'EGRESS_DENIED'
  | 'DRIVE_ERROR'
  | 'VALIDATION_FAILED';

export interface DiagnosisStep {
  id:
    | 'endpoint'
    | 'tls'
    | 'credentials'
    | 'bucket'
    | 'list'
    | 'write'
    | 'read'
    | 'delete'
    | 'cors'
    | 'versioning'
    | 'latency';
  title: string;
  status: StepStatus;
  reason: string;
  hint?: string;
  ms?: number;
}

export interface Diagnosis {
  ok: boolean;
  /** The code of the first failed step. */
  code?: DiagnosisCode;
  steps: DiagnosisStep[];
  latencyMs?: number;
  /** CORS rules to add when the console origin is missing (browser uploads need them). */
  corsSuggestion?: unknown;
  checkedAt: string;
}

const TITLES: Record<DiagnosisStep['id'], string> = {
  endpoint: 'Endpoint resolves and is allowed',
  tls: 'TLS certificate is valid',
  credentials: 'Credentials are accepted',
  bucket: 'Bucket or container exists',
  list: 'Objects can be listed',
  write: 'A probe object can be written',
  read: 'The probe object reads back unchanged',
  delete: 'The probe object can be deleted',
  cors: 'CORS allows the console origin',
  versioning: 'Versioning and object lock',
  latency: 'Round-trip latency',
};

const PERMISSIONS: Record<DriveKindName, string> = {
  local: 'The Strongroom process needs read and write access to the directory.',
  s3: 'Grant s3:ListBucket on the bucket and s3:GetObject, s3:PutObject, s3:DeleteObject (and s3:AbortMultipartUpload) on its objects.',
  azure:
    'Give the key or SAS read, add, create, write, delete and list permissions (role "Storage Blob Data Contributor").',
  gcs: 'Give the service account roles/storage.objectAdmin on the bucket (or storage.objects.* and storage.buckets.get).',
};

const AUTH_HINT: Record<DriveKindName, string> = {
  local: '',
  s3: 'Check the access key id and secret access key (and session token, which expires). A key of another account, or a deactivated key, fails here.',
  azure: 'Check the account name and key, the connection string or the SAS token (its expiry and signature).',
  gcs: 'Check the service-account key (is it still active?) or the HMAC pair.',
};

const TLS_CODES = /CERT|SELF_SIGNED|ERR_TLS|UNABLE_TO_VERIFY|ALTNAME|EPROTO/;

function tlsProblem(err: unknown): boolean {
  for (let e: unknown = err, i = 0; e && i < 8; e = (e as { cause?: unknown }).cause, i++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && TLS_CODES.test(c)) return true;
  }
  return false;
}

function codeOf(err: unknown): BlobErrorCode | 'EGRESS' | 'OTHER' {
  if (isBlobError(err)) return err.code;
  if (isAppError(err) && err.code === 'EGRESS_DENIED') return 'EGRESS';
  return 'OTHER';
}

function safeReason(err: unknown): string {
  if (isBlobError(err)) return err.message;
  if (isAppError(err)) return err.detail ?? err.message;
  return 'the storage service failed';
}

export interface DiagnoseInput {
  kind: DriveKindName;
  /** The URL dialled (cloud kinds), for the endpoint and TLS steps. */
  endpoint?: string;
  /** Console origin CORS must allow. */
  consoleOrigin: string;
  /** Opens the driver; an EGRESS_DENIED here fails the endpoint step. */
  open: () => Promise<BlobDriver>;
}

export async function diagnose(input: DiagnoseInput): Promise<Diagnosis> {
  const steps: DiagnosisStep[] = [];
  const add = (id: DiagnosisStep['id'], status: StepStatus, reason: string, hint?: string, ms?: number) =>
    steps.push({
      id,
      title: TITLES[id],
      status,
      reason,
      ...(hint ? { hint } : {}),
      ...(ms !== undefined ? { ms: Math.round(ms * 10) / 10 } : {}),
    });
  const finish = (code?: DiagnosisCode, extra: Partial<Diagnosis> = {}): Diagnosis => {
    for (const id of Object.keys(TITLES) as DiagnosisStep['id'][])
      if (!steps.some((s) => s.id === id)) add(id, 'skip', 'not run: an earlier step failed');
    return { ok: code === undefined, ...(code ? { code } : {}), steps, checkedAt: new Date().toISOString(), ...extra };
  };
  const { kind } = input;
  const isHttp = input.endpoint?.startsWith('http:') === true;

  let driver: BlobDriver;
  try {
    driver = await input.open();
    add(
      'endpoint',
      'pass',
      kind === 'local'
        ? 'the directory is inside the local drive root'
        : `${input.endpoint ? new URL(input.endpoint).host : 'the service'} resolves to allowed addresses`,
    );
  } catch (err) {
    if (codeOf(err) === 'EGRESS') {
      add(
        'endpoint',
        'fail',
        safeReason(err),
        'Strongroom refuses private, loopback and metadata addresses. An administrator can allow a private range with STRONGROOM_EGRESS_ALLOWLIST.',
      );
      return finish('EGRESS_DENIED');
    }
    add('endpoint', 'fail', safeReason(err), 'Check the drive settings.');
    return finish(isAppError(err) && err.code === 'VALIDATION_FAILED' ? 'VALIDATION_FAILED' : 'DRIVE_ERROR');
  }

  try {
    // Credentials, bucket and reachability in one request.
    const t0 = performance.now();
    try {
      await driver.probe();
    } catch (err) {
      const c = codeOf(err);
      if (c === 'UNREACHABLE') {
        if (tlsProblem(err)) {
          add(
            'tls',
            'fail',
            'the TLS certificate of the endpoint is not valid or not trusted',
            'Use an endpoint with a certificate from a public CA, or give the CA to the Strongroom host (NODE_EXTRA_CA_CERTS).',
          );
        } else {
          add('tls', 'skip', 'no connection could be made');
          add(
            'credentials',
            'fail',
            'the storage service could not be reached',
            'Check the endpoint, region and network path (firewall, proxy, DNS).',
          );
        }
        return finish('DRIVE_UNREACHABLE');
      }
      add(
        'tls',
        isHttp ? 'warn' : 'pass',
        isHttp
          ? 'plain HTTP: traffic to this endpoint is not encrypted'
          : kind === 'local'
            ? 'not applicable to a local directory'
            : 'the certificate is valid for the endpoint',
      );
      if (c === 'EGRESS_DENIED' || c === 'EGRESS') {
        add(
          'credentials',
          'fail',
          safeReason(err),
          'Strongroom refuses private, loopback and metadata addresses. An administrator can allow a private range with STRONGROOM_EGRESS_ALLOWLIST.',
        );
        return finish('EGRESS_DENIED');
      }
      if (c === 'AUTH_FAILED') {
        add('credentials', 'fail', 'the storage service rejected the credentials', AUTH_HINT[kind]);
        return finish('DRIVE_AUTH_FAILED');
      }
      add('credentials', 'pass', 'the credentials were accepted');
      if (c === 'BUCKET_NOT_FOUND') {
        add(
          'bucket',
          'fail',
          kind === 'local' ? 'the directory does not exist' : 'the bucket or container does not exist',
          'Check its name (and the region or account); create it in the provider console first.',
        );
        return finish('DRIVE_BUCKET_NOT_FOUND');
      }
      add('bucket', 'pass', 'it exists');
      if (c === 'PERMISSION_DENIED') {
        add('list', 'fail', 'the credentials may not list objects', PERMISSIONS[kind]);
        return finish('DRIVE_PERMISSION_DENIED');
      }
      add('list', 'fail', safeReason(err));
      return finish('DRIVE_ERROR');
    }
    const probeMs = performance.now() - t0;
    add(
      'tls',
      isHttp ? 'warn' : 'pass',
      isHttp
        ? 'plain HTTP: traffic to this endpoint is not encrypted'
        : kind === 'local'
          ? 'not applicable to a local directory'
          : 'the certificate is valid for the endpoint',
      isHttp ? 'Use an https endpoint outside tests.' : undefined,
    );
    add('credentials', 'pass', kind === 'local' ? 'no credentials needed' : 'the credentials were accepted');
    add('bucket', 'pass', 'it exists');

    const timed = async (
      id: DiagnosisStep['id'],
      work: () => Promise<string>,
      permissionHint: string,
    ): Promise<boolean> => {
      const t = performance.now();
      try {
        add(id, 'pass', await work(), undefined, performance.now() - t);
        return true;
      } catch (err) {
        const denied = codeOf(err) === 'PERMISSION_DENIED';
        add(
          id,
          'fail',
          denied ? `the credentials may not do this (${id})` : safeReason(err),
          denied ? permissionHint : undefined,
          performance.now() - t,
        );
        return false;
      }
    };
    const failCode = () =>
      steps.some((s) => s.status === 'fail' && s.reason.startsWith('the credentials may not'))
        ? 'DRIVE_PERMISSION_DENIED'
        : 'DRIVE_ERROR';

    if (
      !(await timed(
        'list',
        async () =>
          `${(await driver.list('', { limit: 1 })).items.length === 0 ? 'the drive is empty' : 'objects are listed'}`,
        PERMISSIONS[kind],
      ))
    )
      return finish(failCode());
    const key = `strongroom-probe-${randomBytes(8).toString('hex')}.txt`;
    const content = Buffer.from(
      `Strongroom connection test ${new Date().toISOString()} ${randomBytes(16).toString('hex')}\n`,
    );
    if (
      !(await timed(
        'write',
        async () => (
          await driver.put(key, content, { contentLength: content.length, contentType: 'text/plain' }),
          `wrote ${key}`
        ),
        PERMISSIONS[kind],
      ))
    )
      return finish(failCode());
    const readOk = await timed(
      'read',
      async () => {
        const got = await buffer((await driver.get(key)).body);
        if (got.length !== content.length || !timingSafeEqual(got, content))
          throw new BlobError('FAILED', 'the bytes read back differ from the bytes written');
        return `${got.length} bytes read back, identical`;
      },
      PERMISSIONS[kind],
    );
    const deleted = await timed(
      'delete',
      async () => {
        await driver.delete(key);
        if (await driver.head(key)) throw new Error('still there');
        return 'deleted';
      },
      PERMISSIONS[kind],
    );
    if (!readOk || !deleted) return finish(failCode());

    const facts: StoreFacts = driver.inspect ? await driver.inspect().catch(() => ({})) : {};
    let corsSuggestion: unknown;
    if (kind === 'local') add('cors', 'skip', 'browser uploads to a local drive go through Strongroom');
    else if (facts.cors === undefined)
      add(
        'cors',
        'warn',
        'the CORS rules could not be read with these credentials',
        'Browser uploads need the console origin in the bucket CORS rules.',
      );
    else if (facts.cors.some((r) => r.origins.includes('*') || r.origins.includes(input.consoleOrigin)))
      add('cors', 'pass', `${input.consoleOrigin} is allowed`);
    else {
      corsSuggestion = corsRulesFor(kind, input.consoleOrigin);
      add(
        'cors',
        'warn',
        `no CORS rule allows ${input.consoleOrigin}`,
        'Browser uploads straight to the bucket need it: add the rules shown in corsSuggestion in the provider console.',
      );
    }
    if (kind === 'local') add('versioning', 'skip', 'not applicable to a local directory');
    else
      add(
        'versioning',
        facts.versioning === undefined ? 'warn' : 'pass',
        `versioning ${facts.versioning ?? 'unknown'}${facts.objectLock === undefined ? '' : `, object lock ${facts.objectLock ? 'on' : 'off'}`}`,
      );
    add('latency', 'pass', `${Math.round(probeMs)} ms for one listing`, undefined, probeMs);
    return finish(undefined, {
      latencyMs: Math.round(probeMs * 10) / 10,
      ...(corsSuggestion ? { corsSuggestion } : {}),
    });
  } finally {
    await driver.close().catch(() => undefined);
  }
}

/** The CORS configuration to paste, in each provider's own format. */
export function corsRulesFor(kind: DriveKindName, origin: string): unknown {
  if (kind === 's3')
    return {
      CORSRules: [
        {
          AllowedOrigins: [origin],
          AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'],
          AllowedHeaders: ['*'],
          ExposeHeaders: ['ETag'],
          MaxAgeSeconds: 3600,
        },
      ],
    };
  if (kind === 'azure')
    return [
      {
        allowedOrigins: origin,
        allowedMethods: 'GET,PUT,POST,HEAD',
        allowedHeaders: '*',
        exposedHeaders: 'ETag',
        maxAgeInSeconds: 3600,
      },
    ];
  return [
    {
      origin: [origin],
      method: ['GET', 'PUT', 'POST', 'HEAD'],
      responseHeader: ['Content-Type', 'ETag', 'x-goog-resumable'],
      maxAgeSeconds: 3600,
    },
  ];
}
