/**
 * `strongroom dataset upload|download|list|versions|delete`: encrypted datasets through the API
 * with the session from `strongroom login`. Transfers stream (see dataset-transfer.ts); progress
 * goes to standard error, results to standard output.
 *
 * A directory upload makes one dataset per regular file: `<name>--<relative path>` with each
 * path separator written `--` (e.g. `sales/2024/q1.csv` under `sales` → `sales--2024--q1.csv`).
 * Names that do not fit the dataset name rules, or that two files would share, are refused
 * before anything is uploaded. Symbolic links and special files are skipped (and listed).
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { DatasetSummary } from '../contracts/index.ts';
import { loadCredentials, sessionApi, type Credentials } from './credentials.ts';
import { CliExit } from './context.ts';
import { downloadVersion, uploadFile, type UploadOptions, type VersionOut } from './dataset-transfer.ts';
import { EXIT } from './exit-codes.ts';
import { formatBytes } from './progress.ts';
import { RESUMABLE_THRESHOLD, uploadResumable, type ResumableOptions } from './dataset-resumable.ts';
import { withReauth, type ReauthOptions } from './secret.command.ts';
import { registerDatasetReadCommands } from './query.command.ts';
import { registerDatasetProfile } from './dataset-profile.ts';

interface UploadCliOptions extends UploadOptions {
  resumable?: boolean;
  parallel?: string;
  partSize?: string;
}

/** Large files (or --resumable) go through a resumable session; smaller ones in one streamed request. */
async function upload(c: Credentials, name: string, file: string, o: UploadCliOptions): Promise<VersionOut> {
  const { size } = await lstat(file);
  if (o.resumable === false || (o.resumable === undefined && size < RESUMABLE_THRESHOLD))
    return uploadFile(c, name, file, o);
  if (size === 0) throw new CliExit(EXIT.USAGE, `${file} is empty: there is nothing to upload.`);
  const parallel = o.parallel === undefined ? undefined : Number(o.parallel);
  if (parallel !== undefined && !(Number.isInteger(parallel) && parallel >= 1 && parallel <= 8))
    throw new CliExit(EXIT.USAGE, '--parallel must be 1–8');
  const mib = o.partSize === undefined ? undefined : Number(o.partSize);
  if (mib !== undefined && !(Number.isInteger(mib * 16) && mib >= 0.0625 && mib <= 16))
    throw new CliExit(EXIT.USAGE, '--part-size is in MiB: a multiple of 0.0625 (64 KiB) up to 16');
  const { resumable: _r, parallel: _p, partSize: _s, ...base } = o;
  const ro: ResumableOptions = {
    ...base,
    ...(parallel ? { parallel } : {}),
    ...(mib ? { partSize: mib * 1024 * 1024 } : {}),
  };
  return uploadResumable(c, name, file, ro);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SEP = '--';

function checkName(name: string): string {
  if (!NAME.test(name))
    throw new CliExit(
      EXIT.USAGE,
      `not a dataset name: ${name} (1–128 characters of A–Z a–z 0–9 . _ -, starting with a letter or digit)`,
    );
  return name;
}

function versionOption(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new CliExit(EXIT.USAGE, `not a version number: ${s}`);
  return n;
}

/** Regular files under `dir` (relative paths, sorted) and what was skipped. */
async function walk(dir: string, rel = ''): Promise<{ files: string[]; skipped: string[] }> {
  const files: string[] = [];
  const skipped: string[] = [];
  for (const e of (await readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      const sub = await walk(dir, r);
      files.push(...sub.files);
      skipped.push(...sub.skipped);
    } else if (e.isFile()) files.push(r);
    else skipped.push(r);
  }
  return { files, skipped };
}

/** The dataset name of each file of a directory upload; refuses bad or colliding names. */
export function directoryNames(name: string, files: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const bad: string[] = [];
  for (const f of files) {
    const n = `${name}${SEP}${f.split('/').join(SEP)}`;
    if (!NAME.test(n)) bad.push(`${f} → ${n}`);
    else if ([...out.values()].includes(n)) bad.push(`${f} → ${n} (already taken by another file)`);
    else out.set(f, n);
  }
  if (bad.length)
    throw new CliExit(
      EXIT.USAGE,
      `These files cannot become dataset names (A–Z a–z 0–9 . _ -, at most 128 characters); nothing was uploaded:\n  ${bad.join('\n  ')}`,
    );
  return out;
}

async function latestVersion(c: Credentials, workspaceId: string, name: string): Promise<number> {
  const d = await sessionApi(c).datasets.get(workspaceId, name);
  const last = d.versions.at(-1);
  if (!last) throw new CliExit(EXIT.FAILED, `dataset ${name} has no version`);
  return last.version;
}

async function uploadDirectory(c: Credentials, name: string, dir: string, o: UploadCliOptions): Promise<void> {
  const { files, skipped } = await walk(dir);
  if (files.length === 0) throw new CliExit(EXIT.USAGE, `${dir} holds no regular file: nothing to upload.`);
  const names = directoryNames(name, files);
  let bytes = 0;
  const failed: string[] = [];
  for (const [f, n] of names) {
    try {
      const v = await upload(c, n, path.join(dir, f), o);
      bytes += v.size;
      process.stdout.write(`${n}: version ${v.version}  ${formatBytes(v.size)}  sha256 ${v.sha256}  (${f})\n`);
    } catch (err) {
      failed.push(`${f}: ${(err as Error).message}`);
      process.stderr.write(`${n}: FAILED (${f}): ${(err as Error).message}\n`);
    }
  }
  process.stdout.write(
    `\n${names.size - failed.length} of ${names.size} file(s) uploaded, ${formatBytes(bytes)}${skipped.length ? `; skipped (not regular files): ${skipped.join(', ')}` : ''}\n`,
  );
  if (failed.length) throw new CliExit(EXIT.FAILED, `${failed.length} file(s) failed to upload`);
}

export function registerDatasetCommand(program: Command): void {
  const dataset = program
    .command('dataset')
    .description('Encrypted datasets: streamed upload and download, versions (sign in first with strongroom login)');
  const ws = (c: Command) => c.option('--workspace <ws>', 'workspace id', 'default');

  ws(dataset.command('upload <name> <path>'))
    .description(
      `Upload a file as the next version of a dataset. The file is read twice: once to compute its SHA-256, once to stream it; the server refuses the version if the bytes differ. A directory uploads each regular file as its own dataset <name>${SEP}<relative path, separators as ${SEP}>.`,
    )
    .option('--drive <drive>', 'drive to store it on (default: the workspace default drive)')
    .option('--tag <tag...>', 'tags of a new dataset')
    .option('--description <text>', 'description of a new dataset')
    .option(
      '--resumable',
      `send the file in parts through a resumable session (automatic from ${RESUMABLE_THRESHOLD / 1024 / 1024} MiB); if interrupted, run the same command again to resume`,
    )
    .option('--no-resumable', 'always send the file in one streamed request, whatever its size')
    .option('--parallel <n>', 'parts in flight at once for a resumable upload (1–8, default 3)')
    .option('--part-size <MiB>', "plaintext per part for a resumable upload (default: the server's, 8 MiB)")
    .option('--quiet', 'no progress output')
    .action(async (name: string, p: string, o: UploadCliOptions) => {
      checkName(name);
      const c = await loadCredentials();
      const st = await lstat(p).catch(() => undefined);
      if (!st) throw new CliExit(EXIT.USAGE, `no such file or directory: ${p}`);
      if (st.isDirectory()) return uploadDirectory(c, name, p, o);
      if (!st.isFile()) throw new CliExit(EXIT.USAGE, `${p} is not a regular file`);
      const v = await upload(c, name, p, o);
      process.stdout.write(
        `${name}: version ${v.version}  ${formatBytes(v.size)}  sha256 ${v.sha256}${v.tabularFormat ? `  ${v.tabularFormat}` : ''}\n`,
      );
    });

  ws(dataset.command('download <name>'))
    .description(
      'Download a version (default: the latest), streamed; a whole download is checked against its SHA-256 and lands atomically',
    )
    .option('--at <version>', 'version number (default: the latest); --version is the program version')
    .option('-o, --output <file>', "where to write it ('-' = standard output; default: the uploaded file name)")
    .option('--range <a-b>', 'only bytes a..b (inclusive), a- or -n')
    .option('--quiet', 'no progress output')
    .action(
      async (name: string, o: { workspace: string; at?: string; output?: string; range?: string; quiet?: boolean }) => {
        checkName(name);
        const c = await loadCredentials();
        const v = versionOption(o.at) ?? (await latestVersion(c, o.workspace, name));
        let out = o.output;
        if (out === undefined) {
          const meta = await sessionApi(c).datasets.version(o.workspace, name, v);
          out = path.basename(meta.filename ?? `${name}-v${v}`);
        }
        const r = await downloadVersion(c, name, v, out, { workspace: o.workspace, range: o.range, quiet: o.quiet });
        if (out !== '-')
          process.stderr.write(
            `${name} v${v}: ${formatBytes(r.bytes)} written to ${out}${r.sha256Checked ? ' (SHA-256 verified)' : ''}\n`,
          );
      },
    );

  ws(dataset.command('list'))
    .description('Datasets of the workspace you may see')
    .option('--search <text>', 'names containing this text')
    .option(
      '--tag <tags>',
      'datasets with this tag, or any tag under a prefix (pii = pii.*); several comma-separated; dataset and column tags count',
    )
    .option('--json', 'print JSON')
    .action(async (o: { workspace: string; search?: string; tag?: string; json?: boolean }) => {
      const api = sessionApi(await loadCredentials());
      const all: DatasetSummary[] = [];
      let after: string | null = null;
      do {
        const r: { datasets: DatasetSummary[]; next: string | null } = await api.datasets.list(o.workspace, {
          limit: 1000,
          search: o.search,
          tag: o.tag,
          after: after ?? undefined,
        });
        all.push(...r.datasets);
        after = r.next;
      } while (after);
      if (o.json) return void process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
      for (const d of all)
        process.stdout.write(
          `${d.name}  v${d.latestVersion ?? '-'}  ${d.versions} version(s)  ${formatBytes(d.bytes)}${d.tags.length ? `  [${d.tags.join(',')}]` : ''}${d.sensitiveTags.length ? `  sensitive: ${d.sensitiveTags.join(',')}` : ''}${d.description ? `  ${d.description}` : ''}\n`,
        );
    });

  ws(dataset.command('versions <name>'))
    .description('Versions of a dataset: size, SHA-256, drive, detected format')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { workspace: string; json?: boolean }) => {
      const d = await sessionApi(await loadCredentials()).datasets.get(o.workspace, checkName(name));
      if (o.json) return void process.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
      process.stdout.write(
        `${d.name}${d.tags.length ? `  [${d.tags.join(',')}]` : ''}${d.description ? `  ${d.description}` : ''}\n`,
      );
      for (const v of d.versions)
        process.stdout.write(
          `  v${v.version}  ${formatBytes(v.size)}  ${v.sha256}  ${v.drive}  ${v.tabularFormat ?? v.mediaType}  ${v.filename ?? ''}  ${v.committedAt} by ${v.createdBy}\n`,
        );
    });

  registerDatasetProfile(ws(dataset.command('profile <name>')), checkName, versionOption);

  ws(dataset.command('edit <name>'))
    .description('Set the description and/or the tags of a dataset (--tag repeatable; --no-tags clears them)')
    .option('--description <text>', 'the new description')
    .option('--tag <tag>', 'a tag (repeat for more); replaces the current tags', (v: string, a: string[] = []) => [
      ...a,
      v,
    ])
    .option('--no-tags', 'remove every tag')
    .action(async (name: string, o: { workspace: string; description?: string; tag?: string[]; tags?: boolean }) => {
      checkName(name);
      const tags = o.tags === false ? [] : o.tag;
      if (o.description === undefined && tags === undefined)
        throw new CliExit(EXIT.USAGE, 'Give --description, --tag or --no-tags.');
      const api = sessionApi(await loadCredentials());
      const d = await api.datasets.update(o.workspace, name, {
        ...(o.description !== undefined ? { description: o.description } : {}),
        ...(tags !== undefined ? { tags } : {}),
      });
      process.stdout.write(`${d.name}: tags [${d.tags.join(',')}]${d.description ? `  ${d.description}` : ''}\n`);
    });

  ws(dataset.command('delete <name>'))
    .description(
      'Delete one version, or (with --yes) the whole dataset; the encrypted objects are removed from the drive',
    )
    .option('--at <version>', 'the version to delete')
    .option('--yes', 'confirm deleting the whole dataset with every version')
    .option('--password-file <file>', 'password for re-authentication, if asked')
    .option('--totp-file <file>', 'TOTP code for re-authentication, if asked')
    .action(async (name: string, o: { workspace: string; at?: string; yes?: boolean } & ReauthOptions) => {
      checkName(name);
      const v = versionOption(o.at);
      if (v === undefined && !o.yes)
        throw new CliExit(
          EXIT.USAGE,
          `This deletes dataset ${name} with every version: add --yes to confirm, or name one version with --at.`,
        );
      const api = sessionApi(await loadCredentials());
      const r = await withReauth(api, o, () =>
        v === undefined ? api.datasets.remove(o.workspace, name) : api.datasets.deleteVersion(o.workspace, name, v),
      );
      process.stdout.write(
        `${name}: deleted ${v === undefined ? 'the dataset' : 'version'}${r.deleted.length ? ` (version(s) ${r.deleted.join(', ')})` : ''}\n`,
      );
    });

  registerDatasetReadCommands(dataset);
}
