/**
 * A hint for bulk reads: a statement whose text starts with {@link ARRAY_ROWS} gets each row
 * back as an array of column values in select order (`rowMode: 'array'` on both drivers)
 * instead of an object keyed by column name. For reads that walk every row once and know their
 * column order (the audit verifier and exporter): no object per row, no property per column.
 * The hint is an SQL comment, so a driver that ignores it still runs the same statement.
 */
export const ARRAY_ROWS = '/* rows as arrays */ ';

/** True when `text` asks for rows as arrays. */
export function wantsArrayRows(text: string): boolean {
  return text.startsWith(ARRAY_ROWS);
}

/** The statement text after the hint (what a driver inspects to classify the statement). */
export function withoutHint(text: string): string {
  return wantsArrayRows(text) ? text.slice(ARRAY_ROWS.length) : text;
}
