import { stat, readFile } from "node:fs/promises";
import { basename } from "node:path";
import { PolicyLoadError } from "../../../../../lib/src/policy-bundle/errors.js";
import { manifestRevision } from "../../../../../lib/src/policy-bundle/manifest.js";
import { verifyBundleSignature } from "../../../../../lib/src/policy-bundle/signature.js";
import { readTarGz } from "../../../../../lib/src/policy-bundle/tar.js";
import { modelPolicyOf, type ModelPolicy } from "./policy.js";

/**
 * The signed policy bundle the authz-servers load, read for the admin's "Policy in force" page.
 * The signature is checked with the same code and rules as authz-server (a signature is required):
 * an unsigned or badly signed bundle is refused, and its model lists are never shown.
 */
export type BundleView =
  | { ok: true; source: string; revision: string | null; policy: ModelPolicy | { error: string } }
  | { ok: false; refused: string };

export interface PolicyBundleFiles {
  bundlePath: string;
  publicKeyPath: string;
}

/** Reads and verifies the bundle: pure apart from the bytes handed in. */
export function viewOfBundle(bytes: Buffer, publicKeyPem: string, source: string): BundleView {
  try {
    const files = readTarGz(bytes);
    verifyBundleSignature(files, { publicKeyPem });
    const raw = files.get("data.json");
    if (!raw) return { ok: false, refused: "the bundle has no data.json" };
    let data: unknown;
    try {
      data = JSON.parse(raw.toString("utf8"));
    } catch {
      return { ok: false, refused: "the bundle's data.json is not valid JSON" };
    }
    return { ok: true, source, revision: manifestRevision(files), policy: modelPolicyOf(data) };
  } catch (error) {
    // Fail closed: whatever is wrong with the bundle (tar, signature, key), no list is shown.
    return { ok: false, refused: error instanceof PolicyLoadError ? error.describe() : String(error) };
  }
}

/**
 * Reads the bundle when the page is requested, again only when the bundle or key file changed
 * (size and mtime), so `warden policy push` shows up on the next page load.
 */
export function policyBundleReader(files: PolicyBundleFiles): () => Promise<BundleView> {
  let cached: { stamp: string; view: BundleView } | null = null;
  return async () => {
    let stamp: string;
    try {
      const [b, k] = await Promise.all([stat(files.bundlePath), stat(files.publicKeyPath)]);
      stamp = `${b.size}:${b.mtimeMs}:${k.size}:${k.mtimeMs}`;
    } catch (error) {
      return { ok: false, refused: `cannot read ${(error as NodeJS.ErrnoException).path ?? "the bundle"}` };
    }
    if (cached?.stamp === stamp) return cached.view;
    const [bytes, keyPem] = await Promise.all([
      readFile(files.bundlePath),
      readFile(files.publicKeyPath, "utf8"),
    ]);
    const view = viewOfBundle(bytes, keyPem, basename(files.bundlePath));
    cached = { stamp, view };
    return view;
  };
}
