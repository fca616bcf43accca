import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Queryable } from "../../../lib/src/db/types.js";
import { renderServiceConfig } from "../../../lib/src/ratelimit/service-config.js";
import { definitionOf, listRateLimits } from "./repository.js";

/**
 * Writes every tenant's limits into the rate-limit service's watched config file
 * (WARDEN_RATELIMIT_CONFIG_FILE): written beside the folder and renamed in, so the service never
 * reads half a file. Called at start-up and after every change through the API.
 */
export async function writeServiceFile(db: Queryable, path: string): Promise<number> {
  const rows = await listRateLimits(db, null);
  const yaml = renderServiceConfig(rows.map(definitionOf));
  mkdirSync(dirname(path), { recursive: true });
  // Outside the watched folder: the service would try to load a temporary file found inside it.
  const temporary = join(dirname(dirname(path)), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(temporary, yaml, { mode: 0o644 });
  renameSync(temporary, path);
  return rows.length;
}
