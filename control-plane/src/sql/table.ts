import type { Queryable } from "../../../lib/src/db/types.js";

/** A table whose rows are written and read whole: every statement returns the same select list. */
export class RowTable<Row> {
  /**
   * @param columns the select list every statement returns
   * @param jsonb columns of type jsonb: their values are sent as JSON text and cast
   */
  constructor(
    readonly name: string,
    readonly columns: string,
    private readonly jsonb: ReadonlySet<string> = new Set(),
  ) {}

  /** Inserts one row with the given column values; returns the stored row. */
  async insert(tx: Queryable, values: object): Promise<Row> {
    const params: unknown[] = [];
    const entries = Object.entries(values);
    const placeholders = entries.map(([column, value]) => this.bind(column, value, params));
    const { rows } = await tx.query<Row>(
      `INSERT INTO ${this.name} (${entries.map(([column]) => column).join(", ")})
       VALUES (${placeholders.join(", ")}) RETURNING ${this.columns}`,
      params,
    );
    return rows[0]!;
  }

  async find(db: Queryable, id: string, forUpdate = false): Promise<Row | undefined> {
    const { rows } = await db.query<Row>(
      `SELECT ${this.columns} FROM ${this.name} WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`,
      [id],
    );
    return rows[0];
  }

  /** Sets the defined fields of `changes`, bumps the row's version and stamps `updated_at`. */
  async update(tx: Queryable, id: string, changes: object, updatedAt: Date): Promise<Row> {
    const params: unknown[] = [id, updatedAt];
    const sets: string[] = [];
    for (const [column, value] of Object.entries(changes)) {
      if (value !== undefined) sets.push(`${column} = ${this.bind(column, value, params)}`);
    }
    const { rows } = await tx.query<Row>(
      `UPDATE ${this.name} SET ${[...sets, "version = version + 1", "updated_at = $2"].join(", ")} WHERE id = $1 RETURNING ${this.columns}`,
      params,
    );
    return rows[0]!;
  }

  private bind(column: string, value: unknown, params: unknown[]): string {
    const isJson = this.jsonb.has(column);
    params.push(isJson && value !== null && value !== undefined ? JSON.stringify(value) : value);
    return `$${params.length}${isJson ? "::jsonb" : ""}`;
  }
}
