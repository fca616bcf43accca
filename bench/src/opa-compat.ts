import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { POLICY_DIR } from "../../test/harness/policy-bundles.js";
import { benchToolPath, run } from "./tools.js";

/**
 * The policy as opa-envoy-plugin v1.15.2 (OPA 1.15.2) can load it. OPA 1.15's type checker rejects
 * one construct the pinned opa 1.22 accepts (an object built from function arguments directly in a
 * comprehension head: "rego_type_error: match error ... tier: ???"), so the copy gets the same
 * comprehension written with the object bound in the body. Nothing else changes, and the copy must
 * pass the project's own decision table (policies/tests) under OPA 1.15 before it is measured.
 */
export interface RegoRewrite {
  file: string;
  from: string;
  to: string;
}

export const OPA_115_REWRITES: readonly RegoRewrite[] = [
  {
    file: "warden/authz/tiers.rego",
    from: 'tier_entries(tier, rules) := [{"tier": tier, "rule": rule} | some rule in rules]',
    to: 'tier_entries(tier, rules) := [entry | some rule in rules; entry := {"tier": tier, "rule": rule}]',
  },
];

export interface CompatPolicy {
  /** Folder with warden/, data.json and tests/, like policies/. */
  dir: string;
  applied: RegoRewrite[];
  decisionTable: string;
}

export async function policyForOpaEnvoyPlugin(dir: string): Promise<CompatPolicy> {
  const copy = join(dir, "policies-opa-envoy");
  for (const part of ["warden", "data.json", "tests"]) {
    cpSync(join(POLICY_DIR, part), join(copy, part), { recursive: true });
  }
  const applied: RegoRewrite[] = [];
  for (const rewrite of OPA_115_REWRITES) {
    const path = join(copy, rewrite.file);
    const text = readFileSync(path, "utf8");
    if (!text.includes(rewrite.from)) continue;
    writeFileSync(path, text.replace(rewrite.from, rewrite.to));
    applied.push(rewrite);
  }
  // `opa test .` inside the folder, as scripts/policy-coverage.mjs runs it. The decision table takes
  // over opa test's default 5 s per test on a loaded machine: a timeout there says nothing of the policy.
  const output = await run(benchToolPath("opa-envoy-plugin"), ["test", "--timeout", "120s", "."], {
    cwd: copy,
    timeoutMs: 300_000,
  });
  const passed = /PASS: (\d+)\/(\d+)/.exec(output);
  return {
    dir: copy,
    applied,
    decisionTable: passed ? `${passed[1]}/${passed[2]} Rego tests pass` : output.trim(),
  };
}
