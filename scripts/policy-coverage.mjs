#!/usr/bin/env node
// Runs the Rego tests with coverage and fails (exit 1) when a test fails or when the policy's line
// coverage is below the threshold. Test files do not count towards coverage: only the policy does.
//
//   node scripts/policy-coverage.mjs [--dir policies] [--min 90] [--json]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const opa = join(root, ".tools", "bin", "opa");

const { values } = parseArgs({
  options: {
    dir: { type: "string", default: "policies" },
    min: { type: "string", default: "90" },
    json: { type: "boolean", default: false },
  },
});
const minimum = Number(values.min);
// opa runs inside the policy folder, so the files it reports are relative to it and a "tests" folder
// above the policy (e.g. /home/me/tests/policies) does not turn the whole policy into test files.
const policyDir = resolve(root, values.dir);
if (!existsSync(opa)) {
  console.error(`policy-coverage: ${opa} is missing; run npm run setup`);
  process.exit(2);
}
if (!existsSync(policyDir)) {
  console.error(`policy-coverage: policy directory ${policyDir} does not exist`);
  process.exit(2);
}

// Tests first, with their own output, so a failing case is visible by name.
const tests = spawnSync(opa, ["test", "."], {
  cwd: policyDir,
  stdio: ["ignore", values.json ? process.stderr : "inherit", "inherit"],
});
if (tests.status !== 0) {
  console.error("policy-coverage: opa test failed");
  process.exit(1);
}

const run = spawnSync(opa, ["test", "--coverage", "--format", "json", "."], {
  cwd: policyDir,
  encoding: "utf8",
  maxBuffer: 64 * 1024 * 1024,
});
if (run.status !== 0) {
  console.error(run.stderr || "policy-coverage: opa test --coverage failed");
  process.exit(1);
}
const report = JSON.parse(run.stdout);

const isTestFile = (file) => file.endsWith("_test.rego") || file.split("/").includes("tests");
let covered = 0;
let notCovered = 0;
const files = [];
for (const [file, entry] of Object.entries(report.files ?? {})) {
  if (isTestFile(file)) continue;
  covered += entry.covered_lines ?? 0;
  notCovered += entry.not_covered_lines ?? 0;
  const gaps = (entry.not_covered ?? []).map((r) =>
    r.start.row === r.end.row ? `${r.start.row}` : `${r.start.row}-${r.end.row}`,
  );
  files.push({ file, coverage: Number((entry.coverage ?? 0).toFixed(1)), not_covered_lines: gaps });
}
const total = covered + notCovered;
const coverage = total === 0 ? 0 : (100 * covered) / total;
const passed = coverage >= minimum;

if (values.json) {
  console.log(JSON.stringify({ coverage: Number(coverage.toFixed(2)), minimum, passed, files }));
} else {
  for (const f of files) {
    console.log(
      `${f.coverage.toFixed(1).padStart(6)}%  ${f.file}${f.not_covered_lines.length ? `  (not covered: ${f.not_covered_lines.join(", ")})` : ""}`,
    );
  }
  console.log(`policy coverage ${coverage.toFixed(2)}% (minimum ${minimum}%) ${passed ? "PASS" : "FAIL"}`);
}
process.exit(passed ? 0 : 1);
