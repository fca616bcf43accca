import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Files shipped next to the sources (openapi.yaml, migrations/), found from src/ and from dist/ alike. */
export function controlPlaneFile(name: string): string {
  const fromSource = fileURLToPath(new URL(`../${name}`, import.meta.url));
  if (existsSync(fromSource)) return fromSource;
  return fromSource.replace(/\/dist\/control-plane\//, "/control-plane/");
}

export const OPENAPI_PATH = controlPlaneFile("openapi.yaml");
export const MIGRATIONS_DIR = controlPlaneFile("migrations");
