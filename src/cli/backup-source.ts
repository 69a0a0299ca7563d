/**
 * Where `strongroom backup restore --from` reads a backup: a local folder, or a backup folder in a
 * cloud bucket, reachable without the lost server (its drive credentials were in its vault):
 *
 *   s3://<bucket>/<prefix>/<backup id>       AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 *                                            [, AWS_SESSION_TOKEN, AWS_REGION (default us-east-1)]
 *   azure://<container>/<prefix>/<backup id> AZURE_STORAGE_CONNECTION_STRING, or
 *                                            AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY
 *   gs://<bucket>/<prefix>/<backup id>       GOOGLE_APPLICATION_CREDENTIALS (a service-account key file)
 *
 * `--endpoint` points at an S3-compatible service, an Azure blob endpoint or a GCS API endpoint.
 * The target's shred ledger and owner marker are read next to the backup (`<prefix>/shred-ledger`,
 * `<prefix>/installation.json`). Credentials come from the environment only, never the command line.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BlobDriver } from '../adapters/blob/driver.ts';
import type { GcsServiceAccount } from '../adapters/blob/gcs.ts';
import { createLocalDriver } from '../adapters/blob/local.ts';
import { LEDGER_FOLDER } from '../modules/backups/index.ts';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';

export interface BackupLocation {
  driver: BlobDriver;
  /** The backup's folder on the driver (`<prefix>/<backup id>`). */
  folder: string;
  /** The target's shred-ledger folder on the same driver. */
  ledgerFolder: string;
}

const CLOUD = /^(s3|azure|gs):\/\/([^/]+)\/(.+)$/;

function need(env: NodeJS.ProcessEnv, name: string, why: string): string {
  const v = env[name];
  if (!v) throw new CliExit(EXIT.USAGE, `set ${name} (${why})`);
  return v;
}

export async function openBackupLocation(
  from: string,
  opts: { endpoint?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): Promise<BackupLocation> {
  const m = CLOUD.exec(from);
  if (!m) {
    const dir = path.resolve(from);
    return {
      driver: createLocalDriver({ root: path.dirname(dir) }),
      folder: path.basename(dir),
      ledgerFolder: LEDGER_FOLDER,
    };
  }
  const [, scheme, bucket, rest] = m as unknown as [string, 's3' | 'azure' | 'gs', string, string];
  const folder = rest.replace(/\/+$/, '');
  if (!folder || folder.split('/').some((s) => s === '' || s === '.' || s === '..'))
    throw new CliExit(EXIT.USAGE, `--from ${from}: give <scheme>://<bucket>/<prefix>/<backup id>`);
  const parent = folder.split('/').slice(0, -1).join('/');
  const ledgerFolder = parent ? `${parent}/${LEDGER_FOLDER}` : LEDGER_FOLDER;
  let driver: BlobDriver;
  // The cloud SDKs load only for a backup read from that cloud: every command (serve included)
  // imports this module, and a static import here loaded all three SDKs at each start.
  if (scheme === 's3') {
    const { createS3Driver } = await import('../adapters/blob/s3.ts');
    driver = createS3Driver({
      bucket,
      region: env.AWS_REGION ?? 'us-east-1',
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      credentials: {
        accessKeyId: need(env, 'AWS_ACCESS_KEY_ID', 'the S3 access key'),
        secretAccessKey: need(env, 'AWS_SECRET_ACCESS_KEY', 'the S3 secret key'),
        ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
      },
    });
  } else if (scheme === 'azure') {
    const connectionString = env.AZURE_STORAGE_CONNECTION_STRING;
    const { createAzureDriver } = await import('../adapters/blob/azure.ts');
    driver = createAzureDriver({
      container: bucket,
      auth: connectionString
        ? { kind: 'connection-string', connectionString }
        : {
            kind: 'account-key',
            accountName: need(env, 'AZURE_STORAGE_ACCOUNT', 'or AZURE_STORAGE_CONNECTION_STRING'),
            accountKey: need(env, 'AZURE_STORAGE_KEY', 'the account key'),
            ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
          },
    });
  } else {
    const keyFile = need(env, 'GOOGLE_APPLICATION_CREDENTIALS', 'a service-account key file');
    let serviceAccount: GcsServiceAccount;
    try {
      serviceAccount = JSON.parse(await readFile(keyFile, 'utf8')) as GcsServiceAccount;
    } catch {
      throw new CliExit(EXIT.USAGE, `${keyFile} is not a readable service-account key (JSON)`);
    }
    const { createGcsDriver } = await import('../adapters/blob/gcs.ts');
    driver = createGcsDriver({ bucket, serviceAccount, ...(opts.endpoint ? { apiEndpoint: opts.endpoint } : {}) });
  }
  return { driver, folder, ledgerFolder };
}
