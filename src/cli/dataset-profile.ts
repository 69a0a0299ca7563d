/**
 * `strongroom dataset profile NAME [--at V] [--json]`: the profile of a tabular version as the
 * server computed it through the caller's view — per column its type, nulls, distinct count,
 * suggested sensitive-data tags and (where the caller may see values) min/max/mean.
 */
import type { Command } from 'commander';
import type { DatasetProfile, ProfileColumn } from '../contracts/index.ts';
import { loadCredentials, sessionApi } from './credentials.ts';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';

const cell = (v: unknown): string => (v === undefined || v === null ? '-' : String(v));

function line(c: ProfileColumn): string {
  const tags = c.findings.map((f) => `${f.tag}(${f.confidence})`).join(',');
  const stats = c.suppressed
    ? 'suppressed (fewer than k values)'
    : `distinct≈${cell(c.distinct)}  min=${cell(c.min)}  max=${cell(c.max)}  mean=${cell(c.mean)}`;
  return `  ${c.name}  ${c.type}  nulls=${c.nulls} (${(c.nullRatio * 100).toFixed(1)}%)  ${stats}${tags ? `  [${tags}]` : ''}\n`;
}

function render(p: DatasetProfile): string {
  let out = `${p.dataset} v${p.version} (${p.format}): ${p.rowCount} row(s), ${p.columnCount} column(s)`;
  if (p.columnsProfiled < p.columnCount) out += `, first ${p.columnsProfiled} profiled`;
  out += p.valuesShown ? '\n' : '  (values hidden: you may not read rows)\n';
  for (const c of p.columns) out += line(c);
  const q = p.quality;
  out += `quality: empty [${q.emptyColumns.join(',')}]  constant [${q.constantColumns.join(',')}]  duplicate rows ${cell(q.duplicateRows)}\n`;
  return out;
}

export function registerDatasetProfile(
  cmd: Command,
  checkName: (n: string) => string,
  versionOption: (s: string | undefined) => number | undefined,
): void {
  cmd
    .description('Profile of a tabular version: statistics and suggested sensitive-data tags, never a sensitive value')
    .option('--at <version>', 'the version (default: the latest)')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { workspace: string; at?: string; json?: boolean }) => {
      checkName(name);
      const api = sessionApi(await loadCredentials());
      let v = versionOption(o.at);
      if (v === undefined) {
        const last = (await api.datasets.get(o.workspace, name)).versions.at(-1);
        if (!last) throw new CliExit(EXIT.FAILED, `dataset ${name} has no version`);
        v = last.version;
      }
      const p = await api.datasets.profile(o.workspace, name, v);
      process.stdout.write(o.json ? `${JSON.stringify(p, null, 2)}\n` : render(p));
    });
}
