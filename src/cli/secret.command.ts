/**
 * `strongroom secret put|get|list|history|delete|undelete|destroy|rollback`: the vault through
 * the API with the session from `strongroom login`. Values are read from standard input or
 * `--value-file`, never from the command line (it would land in shell history and `ps`).
 * Reveal-type calls re-authenticate when the server answers REAUTH_REQUIRED: the password and
 * TOTP code come from files or a hidden terminal prompt. `run.command.ts` shares these helpers.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Api } from '../client/api.ts';
import type { RevealedSecret, SecretSummary, SecretType } from '../contracts/index.ts';
import { ApiError } from '../client/http-client.ts';
import { loadCredentials, readSecret, sessionApi } from './credentials.ts';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';

export interface ReauthOptions {
  passwordFile?: string;
  totpFile?: string;
}

export type Revealed = Pick<RevealedSecret, 'path' | 'version' | 'type' | 'value'>;

/** The typed API over the stored session (`strongroom login`). */
export const vaultSession = async (): Promise<Api> => sessionApi(await loadCredentials());

/** Runs `fn`; on REAUTH_REQUIRED confirms password (+ TOTP when the account has MFA) and retries once. */
export async function withReauth<T>(api: Api, o: ReauthOptions, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 'REAUTH_REQUIRED') throw err;
  }
  const me = await api.auth.me();
  const password = await readSecret('Password (re-authentication): ', o.passwordFile);
  const code = me.user.mfaEnabled ? await readSecret('TOTP code: ', o.totpFile) : undefined;
  await api.auth.reauth(password, code);
  return fn();
}

/** Reveal one version (default: current) of a secret. */
export async function revealSecret(
  api: Api,
  workspaceId: string,
  path: string,
  version: number | undefined,
  o: ReauthOptions,
): Promise<Revealed> {
  return withReauth(api, o, () => api.secrets.reveal(workspaceId, path, version));
}

/** The text a secret stands for: one field, the obvious field of its type, or its JSON. */
export function valueText(r: Revealed, field?: string): string {
  const v = r.value;
  if (field !== undefined) {
    const f = v[field] ?? (v.data as Record<string, unknown> | undefined)?.[field];
    if (typeof f !== 'string') throw new Error(`${r.path} has no text field "${field}"`);
    return f;
  }
  if (r.type === 'password' && typeof v.password === 'string') return v.password;
  if (r.type === 'api-key' && typeof v.key === 'string') return v.key;
  return JSON.stringify(v);
}

const TYPES = ['password', 'api-key', 'cloud-credential', 'certificate', 'generic'];

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new CliExit(EXIT.USAGE, 'Give the value on standard input or with --value-file (never on the command line).');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The typed value from raw input: text for password/api-key, PEM for certificates, JSON otherwise. */
export function parseValue(
  type: string,
  raw: string,
  o: { json?: boolean; username?: string; privateKey?: string },
): Record<string, unknown> {
  const text = raw.replace(/\r?\n$/, '');
  if (
    o.json ||
    type === 'cloud-credential' ||
    type === 'generic' ||
    (type === 'certificate' && text.trimStart().startsWith('{'))
  ) {
    try {
      const v = JSON.parse(text) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      return v as Record<string, unknown>;
    } catch {
      throw new CliExit(EXIT.USAGE, `The ${type} value must be a JSON object (see docs/security.md, vault).`);
    }
  }
  if (type === 'password') return { password: text, ...(o.username ? { username: o.username } : {}) };
  if (type === 'api-key') return { key: text };
  return { certificate: raw, ...(o.privateKey ? { privateKey: o.privateKey } : {}) };
}

const versionsOf = (s?: string) =>
  s === undefined
    ? undefined
    : s.split(',').map((x) => {
        const n = Number(x.trim());
        if (!Number.isInteger(n) || n < 1) throw new CliExit(EXIT.USAGE, `not a version number: ${x}`);
        return n;
      });

export function registerSecretCommand(program: Command): void {
  const secret = program
    .command('secret')
    .description(
      'Versioned secrets in the vault (sign in first with strongroom login); values never on the command line',
    );
  const ws = (c: Command) => c.option('--workspace <ws>', 'workspace id', 'default');
  const reauth = (c: Command) =>
    c
      .option('--password-file <file>', 'password for re-authentication, if asked')
      .option('--totp-file <file>', 'TOTP code for re-authentication, if asked');

  ws(secret.command('put <path>'))
    .description(
      'Write a new version from standard input or --value-file (password/api-key: the text; certificate: PEM; cloud-credential/generic: a JSON object)',
    )
    .requiredOption('--type <type>', `one of ${TYPES.join(', ')}`)
    .option('--value-file <file>', 'read the value from this file instead of standard input')
    .option('--json', 'the input is the JSON value object of the type')
    .option('--username <name>', 'username stored with a password')
    .option('--private-key-file <file>', 'PEM private key stored with a certificate')
    .option('--cas <version>', 'check-and-set: the version you expect to be current (0 = must not exist)')
    .option('--description <text>', 'description')
    .option('--tag <tag...>', 'tags (replace the current ones)')
    .option('--max-versions <n>', 'versions to keep')
    .option('--expires-at <iso>', 'expiry, ISO 8601')
    .option('--rotate-every <duration>', 'rotation period, e.g. 90d')
    .action(
      async (
        path: string,
        o: {
          workspace: string;
          type: string;
          valueFile?: string;
          json?: boolean;
          username?: string;
          privateKeyFile?: string;
          cas?: string;
          description?: string;
          tag?: string[];
          maxVersions?: string;
          expiresAt?: string;
          rotateEvery?: string;
        },
      ) => {
        if (!TYPES.includes(o.type)) throw new CliExit(EXIT.USAGE, `--type must be one of ${TYPES.join(', ')}`);
        const c = await vaultSession();
        const raw = o.valueFile ? await readFile(o.valueFile, 'utf8') : await readStdin();
        const privateKey = o.privateKeyFile ? await readFile(o.privateKeyFile, 'utf8') : undefined;
        const metadata = {
          ...(o.description !== undefined ? { description: o.description } : {}),
          ...(o.tag ? { tags: o.tag } : {}),
          ...(o.maxVersions ? { maxVersions: Number(o.maxVersions) } : {}),
          ...(o.expiresAt ? { expiresAt: o.expiresAt } : {}),
          ...(o.rotateEvery ? { rotateEvery: o.rotateEvery } : {}),
        };
        const body = {
          type: o.type as SecretType,
          value: parseValue(o.type, raw, { json: o.json, username: o.username, privateKey }),
          ...(o.cas !== undefined ? { cas: Number(o.cas) } : {}),
          ...(Object.keys(metadata).length ? { metadata } : {}),
        };
        const r = await c.secrets.write(o.workspace, path, body);
        process.stdout.write(`${path}: version ${r.version}${r.created ? ' (new secret)' : ''}\n`);
      },
    );

  reauth(ws(secret.command('get <path>')))
    .description('Reveal a value (audited; needs a sign-in or re-authentication within 5 minutes)')
    .option('--at <version>', 'a given version (default: the current one); --version is the program version')
    .option('--field <name>', 'print only this field of the value')
    .option('--json', 'print the whole answer as JSON')
    .action(
      async (path: string, o: { workspace: string; at?: string; field?: string; json?: boolean } & ReauthOptions) => {
        const c = await vaultSession();
        const r = await revealSecret(c, o.workspace, path, o.at === undefined ? undefined : Number(o.at), o);
        process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : `${valueText(r, o.field)}\n`);
      },
    );

  ws(secret.command('list [prefix]'))
    .description('List secrets under a prefix (never their values)')
    .option('--json', 'print JSON')
    .action(async (prefix: string | undefined, o: { workspace: string; json?: boolean }) => {
      const c = await vaultSession();
      const all: SecretSummary[] = [];
      let after: string | null = null;
      do {
        const r: { secrets: SecretSummary[]; next: string | null } = await c.secrets.list(
          o.workspace,
          prefix ?? '',
          after ?? undefined,
        );
        all.push(...r.secrets);
        after = r.next;
      } while (after);
      if (o.json) return void process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
      for (const s of all)
        process.stdout.write(
          `${s.path}  ${s.type}  v${s.currentVersion}  ${s.updatedAt}${s.tags.length ? `  [${s.tags.join(',')}]` : ''}\n`,
        );
    });

  ws(secret.command('history <path>'))
    .description('Metadata and versions of a secret (never values)')
    .option('--json', 'print JSON')
    .action(async (path: string, o: { workspace: string; json?: boolean }) => {
      const c = await vaultSession();
      const m = await c.secrets.metadata(o.workspace, path);
      if (o.json) return void process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
      process.stdout.write(
        `${path}  ${m.type}  current v${m.currentVersion}  keeps ${m.maxVersions}${m.expiresAt ? `  expires ${m.expiresAt}` : ''}${m.rotateEvery ? `  rotate every ${m.rotateEvery}` : ''}\n`,
      );
      for (const v of m.versions)
        process.stdout.write(
          `  v${v.version}  ${v.state}  ${v.createdAt}  by ${v.createdBy}${v.certificate ? `  certificate until ${v.certificate.notAfter}` : ''}\n`,
        );
    });

  const change = (verb: 'delete' | 'undelete' | 'destroy', description: string, required: boolean) => {
    const cmd = reauth(ws(secret.command(`${verb} <path>`))).description(description);
    if (required) cmd.requiredOption('--versions <list>', 'comma-separated versions');
    else
      cmd.option(
        '--versions <list>',
        verb === 'destroy' ? 'comma-separated versions' : 'comma-separated versions (default: the current one)',
      );
    if (verb === 'destroy') cmd.option('--all', 'destroy the secret with every version and its metadata');
    cmd.action(async (path: string, o: { workspace: string; versions?: string; all?: boolean } & ReauthOptions) => {
      const c = await vaultSession();
      if (o.all) {
        await withReauth(c, o, () => c.secrets.destroyAll(o.workspace, path));
        return void process.stdout.write(`${path}: destroyed with every version\n`);
      }
      const versions = versionsOf(o.versions);
      if (verb === 'destroy' && !versions)
        throw new CliExit(EXIT.USAGE, 'Name the versions to destroy with --versions, or use --all.');
      const r = await withReauth(c, o, () =>
        verb === 'delete'
          ? c.secrets.delete(o.workspace, path, versions)
          : c.secrets[verb](o.workspace, path, versions!),
      );
      process.stdout.write(
        `${path}: ${verb === 'destroy' ? 'destroyed' : `${verb}d`} ${r.versions.length ? `version(s) ${r.versions.join(', ')}` : 'nothing (no matching version)'}\n`,
      );
    });
  };
  change('delete', 'Soft-delete versions (undelete restores them)', false);
  change('undelete', 'Restore soft-deleted versions', true);
  change('destroy', 'Irreversibly remove the values of versions (needs re-authentication)', false);

  ws(secret.command('rollback <path>'))
    .description('Write a new version holding the value of an older one')
    .requiredOption('--to <version>', 'the version whose value becomes current again')
    .option('--cas <version>', 'check-and-set: the version you expect to be current')
    .action(async (path: string, o: { workspace: string; to: string; cas?: string }) => {
      const c = await vaultSession();
      const r = await c.secrets.rollback(
        o.workspace,
        path,
        Number(o.to),
        o.cas !== undefined ? Number(o.cas) : undefined,
      );
      process.stdout.write(`${path}: version ${r.version} now holds the value of version ${o.to}\n`);
    });
}
