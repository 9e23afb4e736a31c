/** Number and table formatting for the bench report. */

export function fmtNum(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return Math.round(n).toLocaleString('en-US');
}

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (Math.abs(n) >= 1e6) return `${fmtNum(n / 1e6, 2)} MB`;
  if (Math.abs(n) >= 1e3) return `${fmtNum(n / 1e3, 1)} KB`;
  return `${fmtInt(n)} B`;
}

export function fmtRatio(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? 'n/a' : `${fmtNum(r, 2)}x`;
}

export function verdictWord(pass: boolean | undefined): string {
  return pass === undefined ? 'n/a' : pass ? 'PASS' : 'FAIL';
}

/**
 * Columns padded to their widest cell; `align` is per column: 'l' or 'r'. A row of one cell is a
 * heading: printed as it is and left out of the column widths.
 */
export function table(rows: readonly (readonly string[])[], align: string, indent = '  '): string[] {
  const widths: number[] = [];
  for (const row of rows) if (row.length > 1) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row.length === 1
      ? `${indent}${row[0]}`
      : indent +
      row
        .map((cell, i) => (align[i] === 'r' ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
  );
}
