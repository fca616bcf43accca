import { loadPolicy } from "@open-policy-agent/opa-wasm";
import { z } from "zod";
import { decisionFromResults, engineDenial, type PolicyDecision } from "./decision.js";
import { PolicyLoadError } from "./errors.js";
import { validatePolicyData, type PolicyConfig } from "./policy-data.js";
import { SIGNATURES_FILE, verifyBundleSignature, type SigningAlgorithm } from "./signature.js";
import { readTarGz } from "./tar.js";

/**
 * The policy engine: an OPA bundle (.tar.gz with policy.wasm, data.json, .manifest and, when
 * signed, .signatures.json) is read, verified, instantiated once and then evaluated synchronously
 * per request. Loading happens off the request path; see PolicyHolder for the atomic swap.
 */
export { PolicyLoadError } from "./errors.js";
export type { PolicyDecision } from "./decision.js";
export { PolicyHolder, type PolicyStatus } from "./holder.js";

export const ENTRYPOINT = "warden/authz/decision";
const WASM_FILE = "policy.wasm";
const DATA_FILE = "data.json";
const MANIFEST_FILE = ".manifest";

export interface LoadedPolicy {
  revision: string;
  /** Synchronous; the WebAssembly instance is created once, at load. Never throws. */
  evaluate(input: unknown): PolicyDecision;
  /** The validated policy data (service catalogue, tiers, model lists) of this bundle. */
  readonly config: PolicyConfig;
}

export interface LoadOptions {
  /** PEM public key (or certificate) that bundle signatures must verify with. */
  publicKeyPem?: string;
  /** Refuse bundles without a valid signature. Needs publicKeyPem. */
  requireSignature: boolean;
  /** Signature algorithm the key is for; ES256 unless set. */
  algorithm?: SigningAlgorithm;
  keyId?: string;
  scope?: string;
}

const manifestSchema = z.object({
  revision: z.string().min(1, "the manifest has no revision"),
  wasm: z.array(z.object({ entrypoint: z.string(), module: z.string() })).default([]),
});

// Plenty for our inputs; a bounded maximum keeps a runaway input from growing memory without end
// (growing past it fails that one evaluation, which then denies).
const MEMORY = { initial: 16, maximum: 4096 } as const;

function readManifest(files: ReadonlyMap<string, Buffer>): z.infer<typeof manifestSchema> {
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

function readData(files: ReadonlyMap<string, Buffer>): { data: unknown; config: PolicyConfig } {
  const raw = files.get(DATA_FILE);
  if (!raw) throw new PolicyLoadError("data_invalid", "the bundle has no data.json");
  let data: unknown;
  try {
    data = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new PolicyLoadError("data_invalid", "data.json is not valid JSON");
  }
  const checked = validatePolicyData(data);
  if (!checked.ok) throw new PolicyLoadError("data_invalid", `data.json: ${checked.problem}`);
  return { data, config: checked.config };
}

/** Reads and verifies a bundle, then instantiates its policy. Throws PolicyLoadError with the reason. */
export async function loadBundle(bytes: Buffer, opts: LoadOptions): Promise<LoadedPolicy> {
  const files = readTarGz(bytes);
  if (opts.requireSignature && !opts.publicKeyPem) {
    throw new PolicyLoadError(
      "verification_key_missing",
      "signed bundles are required but no verification key is configured",
    );
  }
  if (opts.requireSignature && !files.has(SIGNATURES_FILE)) {
    throw new PolicyLoadError("bundle_unsigned", `the bundle is not signed (no ${SIGNATURES_FILE})`);
  }
  // A signature we hold a key for is always checked, even when signatures are optional.
  if (files.has(SIGNATURES_FILE) && opts.publicKeyPem) {
    verifyBundleSignature(files, {
      publicKeyPem: opts.publicKeyPem,
      algorithm: opts.algorithm,
      keyId: opts.keyId,
      scope: opts.scope,
    });
  }

  const manifest = readManifest(files);
  const declared = manifest.wasm.find((w) => w.entrypoint === ENTRYPOINT);
  if (!declared) {
    const found = manifest.wasm.map((w) => w.entrypoint).join(", ") || "none";
    throw new PolicyLoadError(
      "entrypoint_missing",
      `the bundle does not declare entrypoint ${ENTRYPOINT} (found: ${found})`,
    );
  }
  const wasm = files.get(declared.module.replace(/^\/+/, ""));
  if (!wasm) throw new PolicyLoadError("wasm_invalid", `the bundle has no ${declared.module}`);
  const { data, config } = readData(files);
  return instantiatePolicy(wasm, data, manifest.revision, config);
}

/**
 * Instantiates compiled policy with its data and checks it before anyone relies on it: the
 * entrypoint must exist, and an empty input must produce a well-formed denial.
 */
export async function instantiatePolicy(
  wasm: Buffer,
  data: unknown,
  revision: string,
  config: PolicyConfig,
): Promise<LoadedPolicy> {
  let opa: Awaited<ReturnType<typeof loadPolicy>>;
  try {
    opa = await loadPolicy(wasm, { ...MEMORY });
  } catch (error) {
    throw new PolicyLoadError("wasm_invalid", `${WASM_FILE} cannot be instantiated: ${String(error)}`);
  }
  const entrypoints = opa.entrypoints as Record<string, unknown>;
  const entrypointId = entrypoints[ENTRYPOINT];
  if (typeof entrypointId !== "number") {
    throw new PolicyLoadError("entrypoint_missing", `${WASM_FILE} has no entrypoint ${ENTRYPOINT}`);
  }
  try {
    opa.setData(data as object);
  } catch (error) {
    throw new PolicyLoadError("data_invalid", `data.json cannot be loaded into the policy: ${String(error)}`);
  }

  const policy: LoadedPolicy = {
    revision,
    config,
    evaluate(input: unknown): PolicyDecision {
      let results: unknown;
      try {
        results = opa.evaluate(input, entrypointId);
      } catch (error) {
        return engineDenial(500, "policy_evaluation_failed", String(error).slice(0, 200), revision);
      }
      return decisionFromResults(results, revision);
    },
  };

  const probe = policy.evaluate({});
  if (probe.reason === "policy_decision_invalid" || probe.reason === "policy_evaluation_failed") {
    throw new PolicyLoadError(
      "policy_unsafe",
      `the policy's decision for an empty input is not valid: ${String(probe.metadata.detail)}`,
    );
  }
  if (probe.allow)
    throw new PolicyLoadError(
      "policy_unsafe",
      "the policy allows an empty input; refusing a fail-open policy",
    );
  return policy;
}
