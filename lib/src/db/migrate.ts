import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Database } from "./types.js";

/**
 * Versioned SQL migrations (`NNN_name.sql`), each applied once, in order, in its own transaction,
 * and recorded in `schema_migrations` with a checksum so an edited migration is noticed.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface AppliedMigration {
  version: number;
  checksum: string;
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MigrationError";
  }
}

const FILE_NAME = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

export function parseMigrationFile(fileName: string, sql: string): Migration {
  const match = FILE_NAME.exec(fileName);
  if (!match) throw new MigrationError(`migration file name "${fileName}" does not match NNN_name.sql`);
  return {
    version: Number(match[1]),
    name: match[2]!,
    sql,
    checksum: createHash("sha256").update(sql).digest("hex"),
  };
}

/** Which migrations still need applying; throws when the database and the files disagree. */
export function planMigrations(
  available: readonly Migration[],
  applied: readonly AppliedMigration[],
): Migration[] {
  const byVersion = new Map<number, Migration>();
  for (const migration of available) {
    if (byVersion.has(migration.version))
      throw new MigrationError(`two migrations have version ${migration.version}`);
    byVersion.set(migration.version, migration);
  }
  const appliedVersions = new Set<number>();
  for (const done of applied) {
    appliedVersions.add(done.version);
    const file = byVersion.get(done.version);
    if (!file)
      throw new MigrationError(
        `database has migration ${done.version}, which this program does not know (newer schema?)`,
      );
    if (file.checksum !== done.checksum) {
      throw new MigrationError(
        `migration ${done.version}_${file.name} was changed after it was applied; add a new migration instead`,
      );
    }
  }
  return [...byVersion.values()]
    .filter((m) => !appliedVersions.has(m.version))
    .sort((a, b) => a.version - b.version);
}

export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  return Promise.all(files.map(async (f) => parseMigrationFile(f, await readFile(join(dir, f), "utf8"))));
}

const LOCK_KEY = 7_164_735_201; // any constant: serialises concurrent migrators on one database

export async function migrate(db: Database, dir: string): Promise<Migration[]> {
  const available = await loadMigrations(dir);
  await db.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const appliedNow: Migration[] = [];
  for (;;) {
    const next = await db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
      const applied = await tx.query<AppliedMigration>("SELECT version, checksum FROM schema_migrations");
      const [first] = planMigrations(available, applied.rows);
      if (!first) return undefined;
      await tx.exec(first.sql);
      await tx.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
        first.version,
        first.name,
        first.checksum,
      ]);
      return first;
    });
    if (!next) return appliedNow;
    appliedNow.push(next);
  }
}
