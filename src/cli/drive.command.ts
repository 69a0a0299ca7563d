/**
 * `strongroom drive test|add|list|show|remove`: drives through the API with the session from
 * `strongroom login`. Secrets (secret access key, account key, SAS token, service-account JSON)
 * come from standard input or a file, never from the command line; `--credential-secret` names a
 * vault secret instead. `add` runs the test first, prints every step, and adds only if it passes.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Api } from '../client/api.ts';
import type { Diagnosis, DriveInput, DriveKind } from '../contracts/index.ts';
import { loadCredentials, sessionApi } from './credentials.ts';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';

interface DefineOptions {
  workspace: string;
  kind?: string;
  description?: string;
  directory?: string;
  bucket?: string;
  region?: string;
  endpoint?: string;
  prefix?: string;
  pathStyle?: boolean;
  container?: string;
  accessKeyId?: string;
  accountName?: string;
  sas?: boolean;
  connectionString?: boolean;
  hmacAccessId?: string;
  secretFile?: string;
  credentialsFile?: string;
  credentialSecret?: string;
  json?: boolean;
}

const MARK = { pass: '✓', fail: '✗', warn: '!', skip: '-' } as const;

async function readInput(file: string | undefined, what: string): Promise<string> {
  if (file) return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  if (process.stdin.isTTY)
    throw new CliExit(
      EXIT.USAGE,
      `Give the ${what} on standard input or with --secret-file / --credentials-file (never on the command line).`,
    );
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** The credentials object of a cloud drive from the options and stdin / files. */
async function credentialsFrom(o: DefineOptions): Promise<Record<string, unknown> | undefined> {
  if (o.kind === 'local' || o.credentialSecret) return undefined;
  if (o.credentialsFile) {
    const raw = await readInput(o.credentialsFile, 'credentials JSON');
    try {
      return JSON.parse(raw) as Record<string, unknown>;
    } catch {
      throw new CliExit(
        EXIT.USAGE,
        'The credentials file must hold a cloud-credential JSON object (see docs/drives.md).',
      );
    }
  }
  if (o.kind === 's3') {
    if (!o.accessKeyId)
      throw new CliExit(
        EXIT.USAGE,
        'S3 needs --access-key-id (the secret access key on standard input or --secret-file), --credentials-file or --credential-secret.',
      );
    return {
      provider: 's3',
      accessKeyId: o.accessKeyId,
      secretAccessKey: await readInput(o.secretFile, 'secret access key'),
    };
  }
  if (o.kind === 'azure') {
    if (o.connectionString)
      return {
        provider: 'azure',
        kind: 'connection-string',
        connectionString: await readInput(o.secretFile, 'connection string'),
      };
    if (!o.accountName)
      throw new CliExit(
        EXIT.USAGE,
        'Azure needs --account-name (the account key or, with --sas, the SAS token on standard input), --connection-string, --credentials-file or --credential-secret.',
      );
    return o.sas
      ? {
          provider: 'azure',
          kind: 'sas',
          accountName: o.accountName,
          sasToken: await readInput(o.secretFile, 'SAS token'),
        }
      : {
          provider: 'azure',
          kind: 'account-key',
          accountName: o.accountName,
          accountKey: await readInput(o.secretFile, 'account key'),
        };
  }
  if (o.kind === 'gcs') {
    if (o.hmacAccessId)
      return {
        provider: 'gcs',
        kind: 'hmac',
        accessId: o.hmacAccessId,
        secret: await readInput(o.secretFile, 'HMAC secret'),
      };
    const raw = await readInput(o.secretFile, 'service-account JSON key');
    try {
      return { provider: 'gcs', kind: 'service-account', serviceAccount: JSON.parse(raw) as unknown };
    } catch {
      throw new CliExit(
        EXIT.USAGE,
        'The service-account key must be the JSON key file downloaded from the Google Cloud console.',
      );
    }
  }
  return undefined;
}

async function definition(name: string, o: DefineOptions): Promise<DriveInput> {
  const kinds: readonly string[] = ['local', 's3', 'azure', 'gcs'] satisfies DriveKind[];
  if (!o.kind || !kinds.includes(o.kind)) throw new CliExit(EXIT.USAGE, `--kind must be one of ${kinds.join(', ')}`);
  const pick = (entries: [string, unknown][]) => Object.fromEntries(entries.filter(([, v]) => v !== undefined));
  const config =
    o.kind === 'local'
      ? pick([['directory', o.directory]])
      : o.kind === 's3'
        ? pick([
            ['bucket', o.bucket],
            ['region', o.region],
            ['endpoint', o.endpoint],
            ['prefix', o.prefix],
            ['pathStyle', o.pathStyle],
          ])
        : o.kind === 'azure'
          ? pick([
              ['container', o.container],
              ['endpoint', o.endpoint],
              ['prefix', o.prefix],
            ])
          : pick([
              ['bucket', o.bucket],
              ['endpoint', o.endpoint],
              ['prefix', o.prefix],
            ]);
  const credentials = await credentialsFrom(o);
  return {
    name,
    kind: o.kind as DriveKind,
    config,
    ...(o.description ? { description: o.description } : {}),
    ...(credentials ? { credentials } : {}),
    ...(o.credentialSecret ? { credentialSecret: o.credentialSecret } : {}),
  };
}

function printDiagnosis(d: Diagnosis): void {
  for (const s of d.steps) {
    process.stdout.write(
      `${MARK[s.status]} ${s.title}: ${s.reason}${s.ms !== undefined && s.status !== 'skip' ? ` (${s.ms} ms)` : ''}\n`,
    );
    if (s.hint && s.status !== 'pass') process.stdout.write(`    hint: ${s.hint}\n`);
  }
  if (d.corsSuggestion)
    process.stdout.write(`\nCORS rules to add for browser uploads:\n${JSON.stringify(d.corsSuggestion, null, 2)}\n`);
  process.stdout.write(
    d.ok
      ? `\nDrive test passed${d.latencyMs !== undefined ? ` (${d.latencyMs} ms round trip)` : ''}.\n`
      : `\nDrive test failed: ${d.code}\n`,
  );
}

function defineOptions(c: Command): Command {
  return c
    .option('--workspace <ws>', 'workspace id', 'default')
    .option('--kind <kind>', 'local, s3, azure or gcs')
    .option('--description <text>', 'description')
    .option('--directory <dir>', 'local: directory under the local drive root (default: the name)')
    .option('--bucket <bucket>', 's3/gcs: bucket')
    .option('--region <region>', 's3: region (default us-east-1)')
    .option('--endpoint <url>', 's3: S3-compatible endpoint; azure: blob endpoint; gcs: API endpoint')
    .option('--prefix <prefix>', 'key prefix inside the bucket or container')
    .option('--path-style', 's3: path-style addressing')
    .option('--container <name>', 'azure: container')
    .option('--access-key-id <id>', 's3: access key id (secret access key on stdin or --secret-file)')
    .option('--account-name <name>', 'azure: storage account (account key on stdin or --secret-file)')
    .option('--sas', 'azure: stdin holds a SAS token instead of the account key')
    .option('--connection-string', 'azure: stdin holds a connection string')
    .option(
      '--hmac-access-id <id>',
      'gcs: HMAC access id (secret on stdin); default: a service-account JSON key on stdin',
    )
    .option('--secret-file <file>', 'read the secret from this file instead of standard input')
    .option('--credentials-file <file>', 'a cloud-credential JSON object (see docs/drives.md)')
    .option('--credential-secret <path>', 'use this existing vault secret (type cloud-credential)')
    .option('--json', 'print JSON');
}

export function registerDriveCommand(program: Command): void {
  const drive = program
    .command('drive')
    .description(
      'Mount and test storage drives: local, Amazon S3, Azure Blob, Google Cloud Storage (sign in first with strongroom login)',
    );
  const session = async (): Promise<Api> => sessionApi(await loadCredentials());

  drive
    .command('list')
    .description('Drives of a workspace with kind, status and last test')
    .option('--workspace <ws>', 'workspace id', 'default')
    .option('--json', 'print JSON')
    .action(async (o: { workspace: string; json?: boolean }) => {
      const r = await (await session()).drives.list(o.workspace);
      if (o.json) return void process.stdout.write(`${JSON.stringify(r.drives, null, 2)}\n`);
      for (const d of r.drives) {
        const where = String(d.config.bucket ?? d.config.container ?? d.config.directory ?? '');
        process.stdout.write(
          `${d.name}${d.isDefault ? ' (default)' : ''}  ${d.kind}  ${where}  ${d.status}${d.statusCode ? ` ${d.statusCode}` : ''}${d.statusCheckedAt ? `  tested ${d.statusCheckedAt}` : ''}\n`,
        );
      }
    });

  drive
    .command('show <name>')
    .description('A drive: settings, credential secret (never its value), status and last test')
    .option('--workspace <ws>', 'workspace id', 'default')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { workspace: string; json?: boolean }) => {
      const d = await (await session()).drives.get(o.workspace, name);
      if (o.json) return void process.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
      process.stdout.write(
        `${d.name}${d.isDefault ? ' (default)' : ''}  ${d.kind}  ${d.status}${d.statusCode ? ` ${d.statusCode}` : ''}\n`,
      );
      if (d.description) process.stdout.write(`  ${d.description}\n`);
      for (const [k, v] of Object.entries(d.config)) process.stdout.write(`  ${k}: ${String(v)}\n`);
      process.stdout.write(
        `  credentials: ${d.credentialSecret ? `vault secret ${d.credentialSecret}` : 'none'}\n  created ${d.createdAt} by ${d.createdBy}\n`,
      );
      if (d.lastTest) {
        process.stdout.write('\nLast test:\n');
        printDiagnosis(d.lastTest);
      }
    });

  defineOptions(drive.command('test <name>'))
    .description(
      'Test a drive: a saved one by name, or a new definition given with --kind and its options (nothing is saved)',
    )
    .action(async (name: string, o: DefineOptions) => {
      const api = await session();
      const r = o.kind
        ? await api.drives.test(o.workspace, await definition(name, o))
        : await api.drives.retest(o.workspace, name);
      if (o.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else printDiagnosis(r);
      if (!r.ok) throw new CliExit(EXIT.FAILED, `drive test failed (${r.code ?? 'see above'})`);
    });

  defineOptions(drive.command('add <name>'))
    .description('Test, then add a drive (credentials are stored in the vault as drives/<name>/credentials)')
    .action(async (name: string, o: DefineOptions) => {
      const api = await session();
      const body = await definition(name, o);
      const test = await api.drives.test(o.workspace, body);
      if (!o.json) printDiagnosis(test);
      if (!test.ok) throw new CliExit(EXIT.FAILED, 'Not added: the test failed.');
      const r = await api.drives.add(o.workspace, body);
      if (o.json) return void process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      process.stdout.write(
        `Drive ${r.drive.name} added${r.drive.credentialSecret ? `; credentials in vault secret ${r.drive.credentialSecret}` : ''}.\n`,
      );
    });

  drive
    .command('default <name>')
    .description('Make a drive the workspace default: new datasets go there when no drive is named (owners, admins)')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (name: string, o: { workspace: string }) => {
      const r = await (await session()).drives.setDefault(o.workspace, name);
      process.stdout.write(`Default drive: ${r.defaultDrive}${r.previous ? ` (was ${r.previous})` : ''}.\n`);
    });

  drive
    .command('remove <name>')
    .description('Remove a drive (refused while it holds datasets; its inline credentials are destroyed)')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (name: string, o: { workspace: string }) => {
      const r = await (await session()).drives.remove(o.workspace, name);
      process.stdout.write(
        `Drive ${name} removed${r.credentialsDestroyed ? ' and its stored credentials destroyed' : ''}.\n`,
      );
    });
}
