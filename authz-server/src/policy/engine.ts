import { loadPolicy } from "@open-policy-agent/opa-wasm";
import { PolicyLoadError } from "../../../lib/src/policy-bundle/errors.js";
import { readManifest } from "../../../lib/src/policy-bundle/manifest.js";
import {
  SIGNATURES_FILE,
  verifyBundleSignature,
  type SigningAlgorithm,
} from "../../../lib/src/policy-bundle/signature.js";
import { readTarGz } from "../../../lib/src/policy-bundle/tar.js";
import { decisionFromResults, type PolicyDecision } from "./decision.js";
import type { McpPolicyData } from "./mcp-data.js";
import { validatePolicyData, type PolicyConfig } from "./policy-data.js";
import { directEvaluator } from "./wasm-input.js";

/**
 * The policy engine: an OPA bundle (.tar.gz with policy.wasm, data.json, .manifest and, when
 * signed, .signatures.json) is read, verified, instantiated once and then evaluated synchronously
 * per request. Loading happens off the request path; see PolicyHolder for the atomic swap.
 */

export const ENTRYPOINT = "warden/authz/decision";
const WASM_FILE = "policy.wasm";
const DATA_FILE = "data.json";

export interface LoadedPolicy {
  revision: string;
  /**
   * Synchronous; the WebAssembly instance is created once, at load. Throws when evaluation fails
   * (e.g. memory exhausted); the authorizer turns that into a 500 denial.
   */
  evaluate(input: unknown): PolicyDecision;
  /** The validated policy data (service catalogue, tiers, model lists) of this bundle. */
  readonly config: PolicyConfig;
  /**
   * Replaces the MCP part of the policy data (registered MCP servers' tool rules, policies/mcp.rego)
   * next to the bundle's own data. Off the request path: called when the registry changes, and by
   * the holder before a new bundle serves. Synchronous, so no evaluation sees half of it.
   */
  setMcpData(mcp: McpPolicyData): void;
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

// Plenty for our inputs; a bounded maximum keeps a runaway input from growing memory without end
// (growing past it fails that one evaluation, which then denies).
const MEMORY = { initial: 16, maximum: 4096 } as const;

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

  const bundleData = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const bundleWarden = bundleData.warden;
  // The evaluate hot path (per request): opa-wasm's JSON glue bypassed where the ABI allows it
  // (policy/wasm-input.ts; it reads the data address on every call, so setMcpData is safe), then
  // the decision checked.
  const evaluateRaw =
    directEvaluator(opa, entrypointId) ?? ((input: unknown) => opa.evaluate(input, entrypointId));
  const policy: LoadedPolicy = {
    revision,
    config,
    evaluate: (input: unknown): PolicyDecision => decisionFromResults(evaluateRaw(input), revision),
    setMcpData: (mcp) =>
      opa.setData({
        ...bundleData,
        warden: {
          ...(typeof bundleWarden === "object" && bundleWarden !== null ? bundleWarden : {}),
          ...mcp,
        },
      }),
  };

  const unsafe = (detail: string) =>
    new PolicyLoadError("policy_unsafe", `the policy's decision for an empty input is not valid: ${detail}`);
  let probe: PolicyDecision;
  try {
    probe = policy.evaluate({});
  } catch (error) {
    throw unsafe(String(error).slice(0, 200));
  }
  if (probe.reason === "policy_decision_invalid") throw unsafe(String(probe.metadata.detail));
  if (probe.allow)
    throw new PolicyLoadError(
      "policy_unsafe",
      "the policy allows an empty input; refusing a fail-open policy",
    );
  return policy;
}
