#!/usr/bin/env node
// `npm test`: set-up of whatever is missing and the build (scripts/prepare.mjs), policy tests with
// the coverage gate, unit tests, then the integration tests that start the real components (Envoy,
// SPIRE, OpenBao, PostgreSQL) one file at a time, then the bench smoke.
// Extra arguments go to jest (e.g. `npm test -- test/integration/sidecar-e2e.test.ts`).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { prepare } from "./prepare.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function step(name, args, env = {}) {
  console.log(`\n== ${name}`);
  const result = spawnSync(args[0], args.slice(1), {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, ...env },
  });
  if (result.status !== 0) {
    console.error(`test: ${name} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status || 1);
  }
}

const jest = [process.execPath, "--experimental-vm-modules", "node_modules/jest/bin/jest.js"];
const extra = process.argv.slice(2);
const jestEnv = { NODE_NO_WARNINGS: "1" };

// Installs what is missing (tools, node modules) and builds, one line per step.
prepare();
if (extra.length > 0) {
  step("jest", [...jest, "--runInBand", ...extra], jestEnv);
  process.exit(0);
}
if (existsSync(resolve(root, "scripts/policy-coverage.mjs"))) {
  step("policy tests (opa test --coverage)", [process.execPath, "scripts/policy-coverage.mjs"]);
}
step("unit tests", [...jest, "--selectProjects", "unit"], jestEnv);
step("integration tests", [...jest, "--selectProjects", "integration", "--runInBand"], jestEnv);
// Seconds of the authz and path benchmarks; fails only on a gross regression of a ratio to the floor
// measured in the same run (docs/benchmarks.md, "CI smoke").
step("bench smoke", [process.execPath, "dist/bench/run.js", "smoke"]);
