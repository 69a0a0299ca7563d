/**
 * Recognises tabular uploads from their first bytes: Parquet (magic), JSON lines (every complete
 * line a JSON object), CSV (parsed with csv-parse; a header row and consistent columns). The
 * schema is the column names with a type guessed from the sampled rows. Nothing here throws on
 * odd input: a file that is not recognised is simply not tabular.
 */
import { parse } from 'csv-parse/sync';
import type { TabularFormat } from '../../db/tables/datasets.ts';

export const SNIFF_BYTES = 64 * 1024;
const MAX_COLUMNS = 1000;

export interface ColumnInfo {
  name: string;
  type: 'integer' | 'number' | 'boolean' | 'timestamp' | 'string' | 'object' | 'null';
}

export interface Detected {
  format: TabularFormat | null;
  schema: { columns: ColumnInfo[]; sampledRows: number } | null;
}

function typeOf(values: unknown[]): ColumnInfo['type'] {
  const present = values.filter((v) => v !== null && v !== undefined && v !== '');
  if (present.length === 0) return 'null';
  const all = (p: (v: unknown) => boolean) => present.every(p);
  if (all((v) => typeof v === 'boolean' || (typeof v === 'string' && /^(true|false)$/i.test(v)))) return 'boolean';
  if (all((v) => (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^-?\d{1,18}$/.test(v))))
    return 'integer';
  if (all((v) => typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)))))
    return 'number';
  if (
    all(
      (v) =>
        typeof v === 'string' && /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v),
    )
  )
    return 'timestamp';
  if (all((v) => typeof v === 'object')) return 'object';
  return 'string';
}

/** Cuts a sample at its last complete line (the rest may be a partial row). */
function completeLines(text: string, whole: boolean): string {
  if (whole) return text;
  const nl = text.lastIndexOf('\n');
  return nl < 0 ? '' : text.slice(0, nl + 1);
}

export function detectTabular(sample: Buffer, opts: { whole: boolean; filename?: string | undefined }): Detected {
  const none: Detected = { format: null, schema: null };
  if (sample.length >= 4 && sample.subarray(0, 4).toString('latin1') === 'PAR1')
    return { format: 'parquet', schema: null };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(
      opts.whole ? sample : sample.subarray(0, Math.max(0, sample.lastIndexOf(0x0a) + 1)),
    );
  } catch {
    return none;
  }
  text = completeLines(text.replace(/^\uFEFF/, ''), opts.whole);
  if (text.trim() === '') return none;

  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length > 0 && lines.every((l) => l.trimStart().startsWith('{'))) {
    try {
      const rows = lines.map((l) => JSON.parse(l) as unknown);
      if (rows.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r))) {
        const names = [...new Set(rows.flatMap((r) => Object.keys(r as object)))].slice(0, MAX_COLUMNS);
        return {
          format: 'jsonl',
          schema: {
            columns: names.map((name) => ({
              name,
              type: typeOf(rows.map((r) => (r as Record<string, unknown>)[name])),
            })),
            sampledRows: rows.length,
          },
        };
      }
    } catch {
      // not JSON lines
    }
  }

  const looksCsv = /\.(csv|tsv)$/i.test(opts.filename ?? '') || /[,;\t]/.test(lines[0] ?? '');
  if (!looksCsv || lines.length < 2) return none;
  const delimiter = [',', ';', '\t']
    .map((d) => [d, (lines[0]!.match(new RegExp(d === '\t' ? '\\t' : d, 'g')) ?? []).length] as const)
    .sort((a, b) => b[1] - a[1])[0]![0];
  try {
    const rows = parse(text, { delimiter, relax_quotes: false, skip_empty_lines: true, to: 1001 }) as string[][];
    const [header, ...body] = rows;
    if (!header || header.length < 2 || header.length > MAX_COLUMNS || body.length === 0) return none;
    if (!body.every((r) => r.length === header.length)) return none;
    if (new Set(header).size !== header.length || header.some((h) => h.trim() === '')) return none;
    return {
      format: 'csv',
      schema: {
        columns: header.map((name, i) => ({ name, type: typeOf(body.map((r) => r[i])) })),
        sampledRows: body.length,
      },
    };
  } catch {
    return none;
  }
}
