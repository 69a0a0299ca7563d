/**
 * A typed grid of rows from a governed read (preview or query): each header shows the column's
 * name and its DuckDB type; numbers are right-aligned, NULL is shown as such. Values arrive as
 * JSON (64-bit integers and decimals as exact strings) and are only displayed, never evaluated.
 */
import type { ResultColumn } from '../../../src/contracts/index.ts';
import css from './query.module.css';

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL)/;

function text(v: unknown): string {
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function ResultGrid({
  columns,
  rows,
  firstRow = 1,
  label,
}: {
  columns: ResultColumn[];
  rows: unknown[][];
  /** Number of the first row shown (after an offset). */
  firstRow?: number;
  label: string;
}) {
  const numeric = columns.map((c) => NUMERIC.test(c.type));
  return (
    <div className={css.gridWrap} data-testid="result-grid" role="region" aria-label={label} tabIndex={0}>
      <table className={css.grid}>
        <thead>
          <tr>
            <th className={css.rowNo}>#</th>
            {columns.map((c, i) => (
              <th key={i} className={numeric[i] ? css.num : undefined} data-testid="grid-column">
                {c.name}
                <span className={css.type} data-testid="grid-type">
                  {c.type.toLowerCase()}
                  {c.nullable === false ? ' not null' : ''}
                </span>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, n) => (
            <tr key={n}>
              <td className={css.rowNo}>{firstRow + n}</td>
              {columns.map((_, i) =>
                r[i] === null || r[i] === undefined ? (
                  <td key={i} className={css.null}>
                    NULL
                  </td>
                ) : (
                  <td key={i} className={numeric[i] ? css.num : undefined} title={text(r[i])}>
                    {text(r[i])}
                  </td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
