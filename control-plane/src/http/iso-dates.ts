/** A row's type as the API writes it: every Date (timestamptz column) as its ISO-8601 string. */
export type WithIsoDates<Row> = {
  [K in keyof Row]: Row[K] extends Date ? string : Row[K] extends Date | null ? string | null : Row[K];
};

export function withIsoDates<Row extends object>(row: Row): WithIsoDates<Row> {
  return Object.fromEntries(
    Object.entries(row).map(([key, value]) => [key, value instanceof Date ? value.toISOString() : value]),
  ) as WithIsoDates<Row>;
}
