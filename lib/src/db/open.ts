import { createPgliteDatabase } from "./pglite.js";
import { createPostgresDatabase, type PostgresOptions } from "./postgres.js";
import type { Database } from "./types.js";

export interface OpenDatabaseOptions extends PostgresOptions {
  /** PostgreSQL connection string; without it the embedded PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite data directory; in memory when absent. */
  pgliteDir?: string | undefined;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.databaseUrl) return createPostgresDatabase(options.databaseUrl, options);
  return createPgliteDatabase(options.pgliteDir);
}
