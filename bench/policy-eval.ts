/**
 * Time per policy decision through the engine the authz-server uses (opa-wasm evaluate + decision
 * validation): the full governance policy (an allowed LLM call, which runs every stage, and an
 * early identity denial) against a trivial `allow` policy in the same process, so the difference
 * is the cost of the policy itself. Bundles are built with the pinned opa by scripts/build-policy.mjs.
 * Run: npm run build && node dist/bench/policy-eval.js   (ITERATIONS=50000 by default)
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBundle, type LoadedPolicy } from "../authz-server/src/policy/engine.js";
import { REPO_ROOT } from "../test/harness/process.js";

const TRIVIAL_REGO = `package warden.authz

default decision := {"allow": false, "status": 403, "reason": "denied", "headers": {}, "metadata": {}}

decision := {"allow": true, "status": 200, "reason": "allowed", "headers": {}, "metadata": {}} if input.now_ns
`;

function build(dir: string, out: string, revision: string): Buffer {
  execFileSync(
    process.execPath,
    [
      join(REPO_ROOT, "scripts", "build-policy.mjs"),
      "--quiet",
      "--dir",
      dir,
      "--out",
      out,
      "--revision",
      revision,
    ],
    {
      stdio: "inherit",
    },
  );
  return readFileSync(out);
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function measure(
  policy: LoadedPolicy,
  input: unknown,
  expectAllow: boolean,
  iterations: number,
): { p50: number; p99: number; mean: number } {
  for (let i = 0; i < 5_000; i++) policy.evaluate(input); // warm-up: let V8 optimise
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    const decision = policy.evaluate(input);
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
    if (decision.allow !== expectAllow) throw new Error(`unexpected decision: ${decision.reason}`);
  }
  const mean = samples.reduce((a, b) => a + b, 0) / iterations;
  samples.sort();
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), mean };
}

const work = mkdtempSync(join(tmpdir(), "warden-bench-policy-"));
try {
  const trivialDir = join(work, "trivial");
  mkdirSync(join(trivialDir, "warden", "authz"), { recursive: true });
  writeFileSync(join(trivialDir, "warden", "authz", "policy.rego"), TRIVIAL_REGO);
  copyFileSync(join(REPO_ROOT, "policies", "data.json"), join(trivialDir, "data.json"));

  const full = await loadBundle(build(join(REPO_ROOT, "policies"), join(work, "full.tar.gz"), "bench-full"), {
    requireSignature: false,
  });
  const trivial = await loadBundle(build(trivialDir, join(work, "trivial.tar.gz"), "bench-trivial"), {
    requireSignature: false,
  });

  const table = JSON.parse(readFileSync(join(REPO_ROOT, "policies", "tests", "cases.json"), "utf8")) as {
    base: Record<string, unknown>;
  };
  const allowed = table.base;
  const unregistered = { ...table.base, agent: null };
  const iterations = Number(process.env.ITERATIONS ?? 50_000);
  const inputBytes = Buffer.byteLength(JSON.stringify(allowed));

  const scenarios: [string, LoadedPolicy, unknown, boolean][] = [
    ["full-allow", full, allowed, true],
    ["full-deny-identity", full, unregistered, false],
    ["trivial-allow", trivial, allowed, true],
  ];
  const results = new Map<string, { p50: number[]; p99: number[] }>();
  for (let round = 0; round < 3; round++) {
    for (const [name, policy, input, expectAllow] of scenarios) {
      const r = measure(policy, input, expectAllow, iterations);
      const entry = results.get(name) ?? { p50: [], p99: [] };
      entry.p50.push(r.p50);
      entry.p99.push(r.p99);
      results.set(name, entry);
      console.log(
        JSON.stringify({
          bench: "policy-eval",
          scenario: name,
          round,
          iterations,
          input_bytes: inputBytes,
          p50_us: Number(r.p50.toFixed(1)),
          p99_us: Number(r.p99.toFixed(1)),
          mean_us: Number(r.mean.toFixed(1)),
        }),
      );
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const summary = [...results].map(
    ([name, r]) => `${name} p50_us=${median(r.p50).toFixed(1)} p99_us=${median(r.p99).toFixed(1)}`,
  );
  console.log(`BENCH policy-eval ${summary.join(" ")}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
