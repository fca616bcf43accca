/** Plain-text tables for the terminal: a header row, columns padded to their widest cell. */
export interface Column<Row> {
  header: string;
  value: (row: Row) => unknown;
}

function cell(value: unknown): string {
  if (value === null || value === undefined || value === "") return "-";
  if (Array.isArray(value)) return value.length ? value.join(",") : "-";
  return String(value).replace(/\s+/g, " ");
}

export function renderTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((c) => cell(c.value(row))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join("  ");
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join("\n");
}

/** One "key: value" line per field, for a single resource. */
export function renderRecord(record: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  return Object.entries(record)
    .map(
      ([key, value]) =>
        `${key.padEnd(width)}  ${typeof value === "object" && value !== null && !Array.isArray(value) ? JSON.stringify(value) : cell(value)}`,
    )
    .join("\n");
}

/** One column per field, headed by the field's name in capitals unless `headers` names it otherwise. */
export function fieldColumns<Row extends Record<string, unknown>>(
  fields: readonly string[],
  headers: Readonly<Record<string, string>> = {},
): Column<Row>[] {
  return fields.map((field) => ({
    header: headers[field] ?? field.toUpperCase().replace(/_/g, " "),
    value: (row: Row) => row[field],
  }));
}
