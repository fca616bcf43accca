#!/usr/bin/env node
// `npm run bench -- <suite>`: builds (TypeScript → dist/, as the servers run in production), then runs
// the suite from dist/bench/run.js. Installs nothing: the reference tools come from
// `scripts/setup --bench`. docs/benchmarks.md explains the suites and the figures.
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);

if (process.env.BENCH_SKIP_BUILD !== "1") {
  // tsc still emits when some other file has a type error; the bench runs what was emitted.
  const build = spawnSync("flock", ["/tmp/warden-build.lock", process.execPath, "scripts/build.mjs"], {
    cwd: root,
    stdio: ["ignore", 2, 2],
  });
  if (build.status !== 0) console.error("bench: the build reported errors; running what it emitted");
}
const result = spawnSync(process.execPath, [resolve(root, "dist/bench/run.js"), ...args], {
  cwd: root,
  stdio: "inherit",
});
process.exit(result.status ?? 1);
