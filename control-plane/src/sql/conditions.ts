/**
 * The WHERE of a statement, built condition by condition: each `?` in a condition binds the next
 * value as a numbered parameter, so values never enter the SQL text.
 */
export class Conditions {
  constructor(
    readonly params: unknown[] = [],
    private readonly clauses: string[] = [],
  ) {}

  add(sql: string, ...values: unknown[]): this {
    let text = sql;
    for (const value of values) text = text.replace("?", this.bind(value));
    this.clauses.push(text);
    return this;
  }

  /** `column = ?` for each listed field the filter sets (filter fields are named as their columns). */
  equal<Filter extends object>(filter: Filter, columns: readonly (keyof Filter & string)[]): this {
    for (const column of columns) {
      const value = filter[column];
      if (value !== undefined) this.add(`${column} = ?`, value);
    }
    return this;
  }

  /** A half-open time range on `column`: from (inclusive) and to (exclusive), each when given. */
  within(column: string, from: string | undefined, to: string | undefined): this {
    if (from !== undefined) this.add(`${column} >= ?::timestamptz`, from);
    if (to !== undefined) this.add(`${column} < ?::timestamptz`, to);
    return this;
  }

  /** Binds a value used outside the conditions (a LIMIT, a SET); returns its placeholder. */
  bind(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  /** `WHERE a AND b`, or nothing when there is no condition. */
  where(): string {
    return this.clauses.length ? `WHERE ${this.clauses.join(" AND ")}` : "";
  }
}
