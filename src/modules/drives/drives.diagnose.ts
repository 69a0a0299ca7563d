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
import type { DriveKindName } from '../../contracts/drives.ts';
import { corsStep } from './drives.diagnose-cors.ts';
import { netFailure } from './drives.diagnose-net.ts';

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
    | 'connect'
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
  /** CORS rules to add when direct-to-bucket uploads are enabled and the console origin is missing. */
  corsSuggestion?: unknown;
  checkedAt: string;
}

const TITLES: Record<DiagnosisStep['id'], string> = {
  endpoint: 'Endpoint resolves and is allowed',
  connect: 'A connection can be made',
  tls: 'TLS certificate is valid',
  credentials: 'Credentials are accepted',
  bucket: 'Bucket or container exists',
  list: 'Objects can be listed',
  write: 'A probe object can be written',
  read: 'The probe object reads back unchanged',
  delete: 'The probe object can be deleted',
  cors: 'CORS (browser uploads straight to the bucket)',
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
  /**
   * Resolves the endpoint's host through the egress guard (every address checked); its failure
   * fails the endpoint step with the cause (cannot resolve, refused address).
   */
  resolve?: (endpoint: string) => Promise<{ addresses: string[] }>;
  /** The console's public origin (STRONGROOM_PUBLIC_URL), if configured. */
  consoleOrigin?: string | undefined;
  /** Whether browsers upload straight to buckets; only then does CORS matter (a warning when missing). */
  directUploads?: boolean;
  /** Opens the driver; an EGRESS_DENIED here fails the endpoint step. */
  open: () => Promise<BlobDriver>;
}

const EGRESS_HINT =
  'Strongroom refuses private, loopback and metadata addresses. An administrator can allow a private range with STRONGROOM_EGRESS_ALLOWLIST.';

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

  let url: URL | undefined;
  try {
    url = input.endpoint ? new URL(input.endpoint) : undefined;
  } catch {
    add('endpoint', 'fail', 'the endpoint is not a valid URL', 'Give the endpoint as https://host[:port].');
    return finish('VALIDATION_FAILED');
  }
  const host = url?.host;
  if (input.endpoint && url && input.resolve) {
    const t = performance.now();
    try {
      const { addresses } = await input.resolve(input.endpoint);
      add(
        'endpoint',
        'pass',
        `${url.hostname} resolves to ${addresses.join(', ')} (allowed)`,
        undefined,
        performance.now() - t,
      );
    } catch (err) {
      if (codeOf(err) === 'EGRESS') {
        add('endpoint', 'fail', safeReason(err), EGRESS_HINT);
        return finish('EGRESS_DENIED');
      }
      const net = netFailure(err, input.endpoint);
      add('endpoint', 'fail', net?.reason ?? `cannot resolve ${host}`, net?.hint);
      return finish('DRIVE_UNREACHABLE');
    }
  }

  let driver: BlobDriver;
  try {
    driver = await input.open();
    if (!steps.some((s) => s.id === 'endpoint'))
      add(
        'endpoint',
        'pass',
        kind === 'local' ? 'the directory is inside the local drive root' : `${host ?? 'the service'} is allowed`,
      );
  } catch (err) {
    if (codeOf(err) === 'EGRESS') {
      add('endpoint', 'fail', safeReason(err), EGRESS_HINT);
      return finish('EGRESS_DENIED');
    }
    const net = netFailure(err, input.endpoint);
    if (net) {
      add(net.step, 'fail', net.reason, net.hint);
      return finish('DRIVE_UNREACHABLE');
    }
    add(
      'endpoint',
      'fail',
      isAppError(err) || isBlobError(err) ? safeReason(err) : 'the drive settings could not be used',
      'Check the drive settings (endpoint, bucket or container, and the form of the credentials).',
    );
    return finish(isAppError(err) && err.code === 'VALIDATION_FAILED' ? 'VALIDATION_FAILED' : 'DRIVE_ERROR');
  }
  const connected = () => {
    if (kind === 'local') add('connect', 'skip', 'not applicable to a local directory');
    else add('connect', 'pass', `connected to ${host ?? 'the service'}`);
  };
  const tlsStep = () => {
    if (kind === 'local') add('tls', 'skip', 'not applicable to a local directory');
    else if (isHttp)
      add(
        'tls',
        'warn',
        'plain HTTP: traffic to this endpoint is not encrypted',
        'Use an https endpoint outside tests.',
      );
    else add('tls', 'pass', 'the certificate is valid for the endpoint');
  };

  try {
    // Credentials, bucket and reachability in one request.
    const t0 = performance.now();
    try {
      await driver.probe();
    } catch (err) {
      const c = codeOf(err);
      const net = c === 'UNREACHABLE' || c === 'OTHER' ? netFailure(err, input.endpoint) : undefined;
      if (net || c === 'UNREACHABLE') {
        if (net?.step === 'tls') connected();
        add(
          net?.step === 'tls' ? 'tls' : 'connect',
          'fail',
          net?.reason ?? `${host ?? 'the service'} could not be reached`,
          net?.hint ?? 'Check the endpoint, region and network path (firewall, proxy, DNS).',
        );
        return finish('DRIVE_UNREACHABLE');
      }
      connected();
      tlsStep();
      if (c === 'EGRESS_DENIED' || c === 'EGRESS') {
        add('credentials', 'fail', safeReason(err), EGRESS_HINT);
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
    connected();
    tlsStep();
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
    const cors = corsStep(kind, facts, input.consoleOrigin, input.directUploads === true);
    add('cors', cors.status, cors.reason, cors.hint);
    if (kind === 'local') add('versioning', 'skip', 'not applicable to a local directory');
    else if (facts.versioning === undefined)
      add(
        'versioning',
        'warn',
        'versioning status could not be read with these credentials',
        'Turn on bucket versioning (and object lock if you can) so a deleted or overwritten object can be recovered.',
      );
    else if (facts.versioning !== 'enabled')
      add(
        'versioning',
        'warn',
        `versioning ${facts.versioning}${facts.objectLock === undefined ? '' : `, object lock ${facts.objectLock ? 'on' : 'off'}`}`,
        'Turn on bucket versioning in the provider console: without it a deleted or overwritten object cannot be recovered.',
      );
    else
      add(
        'versioning',
        'pass',
        `versioning enabled${facts.objectLock === undefined ? '' : `, object lock ${facts.objectLock ? 'on' : 'off'}`}`,
      );
    add('latency', 'pass', `${Math.round(probeMs)} ms for one listing`, undefined, probeMs);
    return finish(undefined, {
      latencyMs: Math.round(probeMs * 10) / 10,
      ...(cors.suggestion ? { corsSuggestion: cors.suggestion } : {}),
    });
  } finally {
    await driver.close().catch(() => undefined);
  }
}
