/**
 * Governed reads from the command line (issue 16), with the session from `strongroom login`:
 *
 * - `strongroom query "SELECT …"` — read-only SQL over the workspace's datasets. `--format table`
 *   (default) prints a table that fits the terminal; `json` prints the typed answer; `csv`,
 *   `jsonl` and `parquet` stream the server's file to `-o FILE` (written beside, then renamed) or
 *   to standard output (`-o -`, the default; Parquet is not written to a terminal). `--save-as
 *   NAME` stores the result as the next version of a dataset instead.
 * - `strongroom dataset preview NAME [--at N]` — the schema and first rows of a version.
 * - `strongroom dataset export NAME [--at N] --format F` — a whole version as CSV, JSON lines or
 *   Parquet, to a file or standard output, or (`--into OTHER`) as the next version of a dataset.
 *
 * Everything goes through the typed client (`client/api.ts`); the server decides and audits.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { paths } from '../client/api.ts';
import type { ResultFileFormat, SavedQueryResult } from '../contracts/index.ts';
import { loadCredentials, sessionApi, streamCall, type Credentials } from './credentials.ts';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { formatBytes } from './progress.ts';
import { renderTable, terminalWidth } from './table.ts';

const FORMATS = ['table', 'json', 'csv', 'jsonl', 'parquet'] as const;
type CliFormat = (typeof FORMATS)[number];
const FILE_FORMATS: readonly ResultFileFormat[] = ['csv', 'jsonl', 'parquet'];

function intOption(name: string, s: string | undefined, min: number, max: number): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliExit(EXIT.USAGE, `${name} must be ${min}–${max}`);
  return n;
}

function fileFormat(s: string | undefined, fallback: ResultFileFormat): ResultFileFormat {
  const f = (s ?? fallback) as ResultFileFormat;
  if (!FILE_FORMATS.includes(f)) throw new CliExit(EXIT.USAGE, `--format must be one of ${FILE_FORMATS.join(', ')}`);
  return f;
}

/** Writes a streamed answer to `out`: standard output, or a file that appears only when complete. */
async function writeOut(body: Readable, out: string, binary: boolean): Promise<void> {
  if (out === '-') {
    if (binary && process.stdout.isTTY)
      throw new CliExit(EXIT.USAGE, 'Parquet is binary: write it to a file with -o FILE (or pipe standard output).');
    await pipeline(body, process.stdout as unknown as Writable, { end: false });
    return;
  }
  const target = path.resolve(out);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.part`);
  try {
    await pipeline(body, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
    await rename(tmp, target);
  } catch (err) {
    body.destroy();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** POSTs JSON and streams the answer (a result file) to `out`; returns the row count and truncation. */
async function streamResult(
  c: Credentials,
  url: string,
  method: 'GET' | 'POST',
  body: unknown,
  out: string,
  binary: boolean,
): Promise<{ rows: string; truncated: boolean }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const res = await streamCall(c, method, url, {
    ...(payload ? { upload: Readable.from([payload]) } : {}),
    headers: payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {},
  });
  await writeOut(res.body, out, binary);
  return { rows: String(res.headers['x-row-count'] ?? '?'), truncated: res.headers['x-result-truncated'] === 'true' };
}

async function readSql(sql: string): Promise<string> {
  if (sql !== '-') return sql;
  if (process.stdin.isTTY) throw new CliExit(EXIT.USAGE, "'-' reads the SQL from standard input: pipe it in.");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) throw new CliExit(EXIT.USAGE, 'standard input held no SQL');
  return text;
}

function savedLine(r: SavedQueryResult): string {
  return `${r.dataset}: version ${r.version.version}  ${formatBytes(r.version.size)}  ${r.rows} row(s)  ${r.version.tabularFormat ?? r.version.mediaType}  from ${r.read.join(', ')}\n`;
}

interface QueryOptions {
  workspace: string;
  format: string;
  output?: string;
  limit?: string;
  saveAs?: string;
  drive?: string;
  description?: string;
  tag?: string[];
}

async function runQuery(sqlArg: string, o: QueryOptions): Promise<void> {
  const format = o.format as CliFormat;
  if (!FORMATS.includes(format)) throw new CliExit(EXIT.USAGE, `--format must be one of ${FORMATS.join(', ')}`);
  const sql = await readSql(sqlArg);
  const limit = intOption('--limit', o.limit, 1, 10_000_000);
  const c = await loadCredentials();
  const api = sessionApi(c);
  if (o.saveAs) {
    const f = fileFormat(format === 'table' ? undefined : format, 'parquet');
    const r = await api.query.saveAs(o.workspace, o.saveAs, {
      sql,
      format: f,
      ...(o.drive ? { drive: o.drive } : {}),
      ...(o.description ? { description: o.description } : {}),
      ...(o.tag ? { tags: o.tag } : {}),
    });
    return void process.stdout.write(savedLine(r));
  }
  if (format === 'table' || format === 'json') {
    const r = await api.query.run(o.workspace, { sql, ...(limit ? { limit } : {}) });
    const text =
      format === 'json'
        ? `${JSON.stringify(r, null, 2)}\n`
        : `${renderTable(r.columns, r.rows, { width: terminalWidth(process.stdout) }).join('\n')}\n(${r.rowCount} row${r.rowCount === 1 ? '' : 's'}${r.truncated ? '; more exist: raise --limit' : ''})\n`;
    if (!o.output || o.output === '-') return void process.stdout.write(text);
    return writeOut(Readable.from([text]), o.output, false);
  }
  const r = await streamResult(
    c,
    paths.query(o.workspace),
    'POST',
    { sql, format, ...(limit ? { limit } : {}) },
    o.output ?? '-',
    format === 'parquet',
  );
  if (r.truncated) process.stderr.write(`strongroom: the result stopped at ${r.rows} rows: raise --limit for more\n`);
  else if (o.output && o.output !== '-') process.stderr.write(`${r.rows} row(s) written to ${o.output}\n`);
}

export function registerQueryCommand(program: Command): void {
  program
    .command('query <sql>')
    .description(
      "Run read-only SQL over the workspace's datasets (by name, or name@v3 for a version); '-' reads the SQL from standard input",
    )
    .option('--workspace <ws>', 'workspace id', 'default')
    .option('--format <format>', `table, json, csv, jsonl or parquet`, 'table')
    .option('-o, --output <file>', "where to write the result ('-' = standard output, the default)")
    .option('--limit <n>', "most rows to return (default: the server's, 1000)")
    .option('--save-as <dataset>', 'store the whole result as the next version of this dataset (csv, jsonl, parquet)')
    .option('--drive <drive>', 'with --save-as: the drive to store it on')
    .option('--description <text>', 'with --save-as: description of a new dataset')
    .option('--tag <tag...>', 'with --save-as: tags of a new dataset')
    .action((sql: string, o: QueryOptions) => runQuery(sql, o));
}

async function latest(c: Credentials, workspaceId: string, name: string): Promise<number> {
  const d = await sessionApi(c).datasets.get(workspaceId, name);
  const v = d.versions.at(-1)?.version;
  if (v === undefined) throw new CliExit(EXIT.FAILED, `dataset ${name} has no version`);
  return v;
}

/** `dataset preview` and `dataset export` (registered on the `dataset` command). */
export function registerDatasetReadCommands(dataset: Command): void {
  dataset
    .command('preview <name>')
    .description('The schema and first rows of a version (default: the latest); only a prefix of a CSV is decrypted')
    .option('--workspace <ws>', 'workspace id', 'default')
    .option('--at <version>', 'version number')
    .option('--limit <n>', 'rows (1–1000, default 20)', '20')
    .option('--offset <n>', 'rows to skip first', '0')
    .option('--json', 'print the JSON answer')
    .action(
      async (name: string, o: { workspace: string; at?: string; limit: string; offset: string; json?: boolean }) => {
        const limit = intOption('--limit', o.limit, 1, 1000)!;
        const offset = intOption('--offset', o.offset, 0, 100_000)!;
        const c = await loadCredentials();
        const v = intOption('--at', o.at, 1, Number.MAX_SAFE_INTEGER) ?? (await latest(c, o.workspace, name));
        const p = await sessionApi(c).query.preview(o.workspace, name, v, { limit, offset });
        if (o.json) return void process.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
        const lines = renderTable(p.columns, p.rows, { width: terminalWidth(process.stdout), showTypes: true });
        const count = p.rowCount === null ? 'row count not known without reading it whole' : `${p.rowCount} rows`;
        process.stdout.write(
          `${name} v${p.version} (${p.format}, ${p.columns.length} columns, ${count})\n${lines.join('\n')}\n(rows ${offset + 1}–${offset + p.rows.length}; ${formatBytes(p.decryptedBytes)} decrypted)\n`,
        );
      },
    );

  dataset
    .command('export <name>')
    .description(
      'A whole version (default: the latest) as CSV, JSON lines or Parquet: to a file, to standard output, or --into another dataset as its next version',
    )
    .option('--workspace <ws>', 'workspace id', 'default')
    .option('--at <version>', 'version number')
    .option('--format <format>', 'csv, jsonl or parquet', 'csv')
    .option('-o, --output <file>', "where to write it ('-' = standard output, the default)")
    .option('--into <dataset>', 'store it as the next version of this dataset instead')
    .option('--drive <drive>', 'with --into: the drive to store it on')
    .action(
      async (
        name: string,
        o: { workspace: string; at?: string; format: string; output?: string; into?: string; drive?: string },
      ) => {
        const format = fileFormat(o.format, 'csv');
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name))
          throw new CliExit(EXIT.USAGE, `not a dataset name: ${name}`);
        const c = await loadCredentials();
        const v = intOption('--at', o.at, 1, Number.MAX_SAFE_INTEGER) ?? (await latest(c, o.workspace, name));
        if (o.into) {
          const r = await sessionApi(c).query.saveAs(o.workspace, o.into, {
            sql: `SELECT * FROM "${name}@v${v}"`,
            format,
            ...(o.drive ? { drive: o.drive } : {}),
          });
          return void process.stdout.write(savedLine(r));
        }
        const out = o.output ?? '-';
        const r = await streamResult(
          c,
          paths.datasetExport(o.workspace, name, v, format),
          'GET',
          undefined,
          out,
          format === 'parquet',
        );
        if (out !== '-') process.stderr.write(`${name} v${v}: ${r.rows} row(s) written to ${out}\n`);
      },
    );
}
