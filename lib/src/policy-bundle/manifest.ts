import { z } from "zod";
import { PolicyLoadError } from "./errors.js";

/** The bundle's `.manifest`: its revision and the compiled policy's entrypoints (OPA's format). */
export const MANIFEST_FILE = ".manifest";

const manifestSchema = z.object({
  revision: z.string().min(1, "the manifest has no revision"),
  wasm: z.array(z.object({ entrypoint: z.string(), module: z.string() })).default([]),
});

export type Manifest = z.infer<typeof manifestSchema>;

/** The manifest a bundle must carry to be served; throws PolicyLoadError with the reason. */
export function readManifest(files: ReadonlyMap<string, Buffer>): Manifest {
  const raw = files.get(MANIFEST_FILE);
  if (!raw)
    throw new PolicyLoadError(
      "manifest_invalid",
      "the bundle has no .manifest (build it with opa build --revision)",
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new PolicyLoadError("manifest_invalid", ".manifest is not valid JSON");
  }
  const manifest = manifestSchema.safeParse(parsed);
  if (!manifest.success) throw new PolicyLoadError("manifest_invalid", manifest.error.issues[0]!.message);
  return manifest.data;
}

/** The `.manifest` revision, or null when the bundle has none (or it cannot be read). */
export function manifestRevision(files: ReadonlyMap<string, Buffer>): string | null {
  const raw = files.get(MANIFEST_FILE);
  if (!raw) return null;
  try {
    const manifest: unknown = JSON.parse(raw.toString("utf8"));
    const revision = (manifest as { revision?: unknown }).revision;
    return typeof revision === "string" && revision !== "" ? revision : null;
  } catch {
    return null;
  }
}
