import type { Queryable } from "../../../lib/src/db/types.js";

/** A table whose rows are written and read whole: every statement returns the same select list. */
export interface Table {
  name: string;
  columns: string;
  /** Columns of type jsonb: their values are sent as JSON text and cast. */
  jsonb: ReadonlySet<string>;
}

function bind(table: Table, column: string, value: unknown, params: unknown[]): string {
  const isJson = table.jsonb.has(column);
  params.push(isJson && value !== null && value !== undefined ? JSON.stringify(value) : value);
  return `$${params.length}${isJson ? "::jsonb" : ""}`;
}

/** Inserts one row with the given column values; returns the stored row. */
export async function insertRow<Row>(tx: Queryable, table: Table, values: object): Promise<Row> {
  const params: unknown[] = [];
  const entries = Object.entries(values);
  const placeholders = entries.map(([column, value]) => bind(table, column, value, params));
  const { rows } = await tx.query<Row>(
    `INSERT INTO ${table.name} (${entries.map(([column]) => column).join(", ")})
     VALUES (${placeholders.join(", ")}) RETURNING ${table.columns}`,
    params,
  );
  return rows[0]!;
}

export async function findRowById<Row>(
  db: Queryable,
  table: Table,
  id: string,
  forUpdate = false,
): Promise<Row | undefined> {
  const { rows } = await db.query<Row>(
    `SELECT ${table.columns} FROM ${table.name} WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`,
    [id],
  );
  return rows[0];
}

/** Sets the defined fields of `changes`, bumps the row's version and stamps `updated_at`. */
export async function updateRow<Row>(
  tx: Queryable,
  table: Table,
  id: string,
  changes: object,
  updatedAt: Date,
): Promise<Row> {
  const params: unknown[] = [id, updatedAt];
  const sets: string[] = [];
  for (const [column, value] of Object.entries(changes)) {
    if (value !== undefined) sets.push(`${column} = ${bind(table, column, value, params)}`);
  }
  const { rows } = await tx.query<Row>(
    `UPDATE ${table.name} SET ${[...sets, "version = version + 1", "updated_at = $2"].join(", ")} WHERE id = $1 RETURNING ${table.columns}`,
    params,
  );
  return rows[0]!;
}
