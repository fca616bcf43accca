/**
 * One data-access interface for PostgreSQL (`pg`) and embedded PGlite, so the same SQL and migrations
 * run on both. Column types come back the same on both: int8 as number, numeric as string,
 * timestamptz as Date, jsonb parsed.
 */
export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export type NotificationHandler = (payload: string) => void;

export interface ListenOptions {
  /** Called after the listening connection was lost and re-established: notifications may have been missed. */
  onReconnect?: () => void;
}

export interface Database extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Subscribes to a NOTIFY channel; resolves to an unsubscribe function. */
  listen(
    channel: string,
    handler: NotificationHandler,
    options?: ListenOptions,
  ): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
