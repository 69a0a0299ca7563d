/**
 * `strongroom profile FILE [--publish NAME] [--sample N] [--json]` and
 * `strongroom profile --postgres-url URL --table T [...]` — metadata-only mode (issue 18): the
 * profile and sensitive-data detection of a local CSV, Parquet or JSON-lines file, or of a
 * PostgreSQL table (`profile-postgres.ts`), computed in this process by DuckDB (no server
 * involved in the computation). With `--publish NAME` only
 * the schema and the value-safe profile are sent: the server keeps them as the next version of a
 * metadata-only dataset NAME (no content). Sensitive columns carry counts only; no raw string
 * min/max is ever computed; top values only for non-sensitive columns seen at least k times.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { computeProfile, type Profile } from '../modules/profiling/index.ts';
import { loadCredentials, sessionApi } from './credentials.ts';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { renderProfile } from './dataset-profile.ts';
import { profilePostgresTable } from './profile-postgres.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function formatOf(file: string): 'csv' | 'parquet' | 'jsonl' {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') return 'parquet';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return 'csv';
}

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The profile of a local file, computed in this process. */
export async function profileLocalFile(file: string, opts: { sample?: number; k?: number } = {}) {
  const format = formatOf(file);
  const scan =
    format === 'parquet'
      ? `read_parquet(${lit(file)})`
      : format === 'jsonl'
        ? `read_json(${lit(file)}, format = 'newline_delimited')`
        : `read_csv(${lit(file)}, encoding = 'utf-8')`;
  // Loaded here, not at the top: every `strongroom` command (serve included) imports this file.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
  const conn = await inst.connect();
  try {
    const p = await computeProfile(
      conn,
      { sql: `SELECT * FROM ${scan}`, params: {} },
      { k: opts.k ?? 10, includeValues: true, ...(opts.sample ? { sampleRows: opts.sample } : {}) },
    );
    return { format, profile: p };
  } catch (err) {
    const first = ((err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '').slice(0, 200);
    // DuckDB's message may quote a line of the file: only its kind is shown.
    const kind = /^([A-Za-z ]+) Error/.exec(first)?.[1] ?? 'read';
    throw new CliExit(EXIT.FAILED, `${path.basename(file)} could not be profiled (${kind} error): is it ${format}?`);
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

export function registerProfileCommand(program: Command): void {
  program
    .command('profile [file]')
    .description(
      'Profile a local CSV/Parquet/JSON-lines file, or a PostgreSQL table (--postgres-url, --table), here (statistics and suggested sensitive-data tags, never a sensitive value); --publish sends only the profile, as a metadata-only dataset',
    )
    .option(
      '--postgres-url <url>',
      'profile a PostgreSQL table instead of a file (a password may come from PGPASSWORD)',
    )
    .option('--table <name>', 'the table or view to profile (with --postgres-url), e.g. orders or sales.orders')
    .option('--publish <name>', 'publish the profile (no content) as the next version of metadata-only dataset NAME')
    .option('--workspace <ws>', 'workspace id (with --publish)', 'default')
    .option('--sample <n>', 'rows sampled for detection and patterns (10–100000, default 1000)')
    .option('--json', 'print JSON')
    .action(async (file: string | undefined, o: ProfileOptions) => {
      const sample = o.sample === undefined ? undefined : Number(o.sample);
      if (sample !== undefined && !(Number.isInteger(sample) && sample >= 10 && sample <= 100_000))
        throw new CliExit(EXIT.USAGE, '--sample must be an integer 10–100000');
      if (o.publish !== undefined && !NAME.test(o.publish))
        throw new CliExit(EXIT.USAGE, `not a dataset name: ${o.publish}`);
      if ((file === undefined) === (o.postgresUrl === undefined))
        throw new CliExit(EXIT.USAGE, 'name a FILE, or a PostgreSQL table with --postgres-url URL --table T');
      if ((o.postgresUrl === undefined) !== (o.table === undefined))
        throw new CliExit(EXIT.USAGE, '--postgres-url and --table go together');
      let source: { format: 'csv' | 'jsonl' | 'parquet' | 'postgres'; filename: string };
      let profile: Profile;
      if (file !== undefined) {
        await access(file).catch(() => {
          throw new CliExit(EXIT.USAGE, `${file}: no such file`);
        });
        const local = await profileLocalFile(file, sample ? { sample } : {});
        source = { format: local.format, filename: path.basename(file) };
        profile = local.profile;
      } else {
        const table = o.table!;
        if (table.length === 0 || table.length > 200 || /[\u0000-\u001f/\\]/.test(table))
          throw new CliExit(EXIT.USAGE, `not a table name: ${JSON.stringify(table)}`);
        const tty = process.stderr.isTTY;
        const r = await profilePostgresTable(o.postgresUrl!, table, {
          ...(sample ? { sample } : {}),
          ...(tty ? { onRows: (n: number) => process.stderr.write(`\r${n} row(s) read`) } : {}),
        });
        if (tty) process.stderr.write('\n');
        source = { format: 'postgres', filename: r.relation.slice(0, 200) };
        profile = r.profile;
      }
      const view = { dataset: source.filename, version: 0, format: source.format, ...profile };
      process.stdout.write(o.json ? `${JSON.stringify(view, null, 2)}\n` : renderProfile(view));
      if (o.publish !== undefined) {
        const api = sessionApi(await loadCredentials());
        const r = await api.datasets.publishProfile(o.workspace, o.publish, { source, profile });
        process.stderr.write(
          `published the profile as ${r.dataset} version ${r.version}${r.created ? ' (new metadata-only dataset)' : ''}; no content was sent\n`,
        );
      }
    });
}

interface ProfileOptions {
  postgresUrl?: string;
  table?: string;
  publish?: string;
  workspace: string;
  sample?: string;
  json?: boolean;
}
