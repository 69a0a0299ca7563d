/**
 * Rows as a text table that fits a terminal: each column gets the width of its longest value (or
 * header) until the line would be wider than the terminal; then the widest columns give up width
 * (down to 8 characters, cut values ending in `…`), and columns that still do not fit are left
 * out and named in a last line. Numbers are right-aligned. Control characters in values
 * are shown as `?` so a value cannot move the cursor or change the terminal.
 */

export interface TableColumn {
  name: string;
  type?: string;
}

const MIN_WIDTH = 8;
const GAP = '  ';
const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL)/;

/** The text of one value on one line. */
export function cellText(v: unknown): string {
  const s = v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

const chars = (s: string) => [...s].length;

function fit(s: string, width: number, right: boolean): string {
  const cps = [...s];
  const cut = cps.length > width ? `${cps.slice(0, width - 1).join('')}…` : s;
  const pad = ' '.repeat(Math.max(0, width - chars(cut)));
  return right ? pad + cut : cut + pad;
}

/**
 * Column widths within `width` characters: as many leading columns as fit at their narrowest
 * (their natural width, at most MIN_WIDTH), then the widest column gives up one character at a
 * time until the line fits. Columns that do not fit are dropped (the array is shorter).
 */
export function layout(natural: number[], width: number): number[] {
  const mins = natural.map((w) => Math.max(1, Math.min(w, MIN_WIDTH)));
  let used = 0;
  let n = 0;
  while (n < natural.length && used + (n > 0 ? GAP.length : 0) + mins[n]! <= width) {
    used += (n > 0 ? GAP.length : 0) + mins[n]!;
    n += 1;
  }
  if (n === 0) return [Math.max(1, width)];
  const widths = natural.slice(0, n).map((w) => Math.max(1, w));
  let total = widths.reduce((a, b) => a + b, 0) + GAP.length * (n - 1);
  while (total > width) {
    let widest = -1;
    for (let i = 0; i < n; i++) if (widths[i]! > mins[i]! && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
    if (widest < 0) break;
    widths[widest]! -= 1;
    total -= 1;
  }
  return widths;
}

/** The table as lines, none longer than `width` characters. */
export function renderTable(
  columns: TableColumn[],
  rows: unknown[][],
  opts: { width: number; showTypes?: boolean },
): string[] {
  const texts = rows.map((r) => columns.map((_, i) => cellText(r[i])));
  const natural = columns.map((c, i) =>
    Math.max(
      chars(c.name),
      opts.showTypes && c.type ? chars(c.type) : 0,
      ...texts.map((t) => Math.min(chars(t[i]!), 200)),
    ),
  );
  const widths = layout(natural, opts.width);
  const shown = widths.length;
  const right = columns.map((c) => NUMERIC.test(c.type ?? ''));
  const line = (cells: string[], alignRight = false) =>
    widths
      .map((w, i) => fit(cells[i]!, w, alignRight && right[i]!))
      .join(GAP)
      .trimEnd();
  const out = [line(columns.map((c) => c.name))];
  if (opts.showTypes) out.push(line(columns.map((c) => (c.type ?? '').toLowerCase())));
  out.push(widths.map((w) => '─'.repeat(w)).join(GAP));
  for (const t of texts) out.push(line(t, true));
  if (shown < columns.length) {
    const more = `(${columns.length - shown} more column(s) not shown: ${columns
      .slice(shown)
      .map((c) => c.name)
      .join(', ')})`;
    out.push(fit(more, Math.max(1, opts.width), false).trimEnd());
  }
  return out;
}

/** The width to fit: the terminal's, else $COLUMNS, else 100. */
export function terminalWidth(stream: { columns?: number; isTTY?: boolean }): number {
  if (stream.isTTY && stream.columns) return stream.columns;
  const env = Number(process.env.COLUMNS);
  return Number.isInteger(env) && env >= 20 ? env : 100;
}
