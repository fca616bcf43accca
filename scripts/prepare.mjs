#!/usr/bin/env node
// Everything `npm test` and `npm run demo` need before they run, installed when missing, idempotently,
// one progress line per step:
//   1. the pinned real components (Envoy, OPA, SPIRE, OpenBao, PostgreSQL) through scripts/setup;
//   2. node modules through `npm ci` when node_modules is missing or older than package-lock.json;
//   3. the build (Envoy types, TypeScript), which skips what is up to date.
// Uses only Node's own modules: it runs before node_modules exists.
//   node scripts/prepare.mjs [--bench] [--no-build]
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function step(label, command, args, { quiet = false } = {}) {
  const started = Date.now();
  // A loud step's own output follows on the next lines; a quiet one finishes its line.
  process.stdout.write(quiet ? `[prepare] ${label} ...` : `[prepare] ${label} ...\n`);
  const result = spawnSync(command, args, {
    cwd: root,
    // Quiet steps keep their output for the error message; loud ones show progress as it happens.
    stdio: quiet ? ["ignore", "pipe", "pipe"] : ["ignore", "inherit", "inherit"],
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    process.stdout.write(`${quiet ? "" : "[prepare]"} failed after ${seconds} s\n`);
    if (quiet) process.stderr.write(`${result.stdout ?? ""}${result.stderr ?? ""}`);
    console.error(
      `prepare: ${label} failed (exit ${result.status ?? result.signal}); fix the error above and run the command again`,
    );
    process.exit(result.status || 1);
  }
  process.stdout.write(`${quiet ? "" : `[prepare] ${label}:`} done (${seconds} s)\n`);
  return result.stdout ?? "";
}

/** npm ci when node_modules is missing, or older than the lock file (npm writes its own copy). */
function nodeModulesStale() {
  const installed = resolve(root, "node_modules/.package-lock.json");
  if (!existsSync(installed)) return "node_modules is missing";
  if (statSync(resolve(root, "package-lock.json")).mtimeMs > statSync(installed).mtimeMs) {
    return "package-lock.json is newer than node_modules";
  }
  return null;
}

export function prepare({ bench = false, build = true } = {}) {
  const setupArgs = bench ? ["--bench"] : [];
  const check = spawnSync(resolve(root, "scripts/setup"), ["--check", ...setupArgs], {
    cwd: root,
    encoding: "utf8",
  });
  if (check.status === 0) {
    // Present: a setup run still checks the pinned versions (fast when nothing is missing).
    step("tools: checking the pinned versions (scripts/setup)", resolve(root, "scripts/setup"), setupArgs, {
      quiet: true,
    });
  } else {
    step(
      "tools: installing the pinned components (scripts/setup; on a new machine 6 min to over an hour, see the README)",
      resolve(root, "scripts/setup"),
      setupArgs,
    );
  }
  const stale = nodeModulesStale();
  if (stale) {
    step(`node modules: ${stale}, running npm ci`, "npm", ["ci", "--no-audit", "--no-fund"], { quiet: true });
  } else {
    console.log("[prepare] node modules: up to date");
  }
  if (build) step("build", process.execPath, [resolve(root, "scripts/build.mjs")], { quiet: true });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  prepare({ bench: process.argv.includes("--bench"), build: !process.argv.includes("--no-build") });
}
