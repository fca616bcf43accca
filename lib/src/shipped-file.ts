import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * A file shipped with the sources, found from src/ and from dist/ alike: the first of `candidates`
 * (relative to `base`, the caller's import.meta.url) that exists.
 */
export function shippedFile(base: string, candidates: readonly string[], notFound: string): string {
  for (const relative of candidates) {
    const path = fileURLToPath(new URL(relative, base));
    if (existsSync(path)) return path;
  }
  throw new Error(notFound);
}
