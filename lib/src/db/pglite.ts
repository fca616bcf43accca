import { PGlite } from "@electric-sql/pglite";
import { ALL_TENANTS } from "./tenant-scope.js";
import type { Database, Queryable, QueryResult } from "./types.js";

/**
 * Embedded PostgreSQL (PGlite, PostgreSQL 17 in WebAssembly) for a first run without a database
 * server. One connection: transactions are serialised by PGlite itself.
 */
export async function createPgliteDatabase(dataDir?: string): Promise<Database> {
  const db = await PGlite.create(dataDir === undefined ? {} : { dataDir });
  // PGlite runs as a superuser, whom row-level security does not hold; the setting is for sessions
  // that SET ROLE to a service role (docs/tenancy.md).
  await db.query("SELECT set_config('warden.tenant', $1, false)", [ALL_TENANTS]);

  const wrap = (target: Pick<PGlite, "query" | "exec">): Queryable => ({
    async query<Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
      const result = await target.query<Row>(sql, params as unknown[]);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await target.exec(sql);
    },
  });

  return {
    kind: "pglite",
    ...wrap(db),
    transaction: (work) => db.transaction((tx) => work(wrap(tx))),
    async listen(channel, handler) {
      return db.listen(channel, handler);
    },
    close: () => db.close(),
  };
}
