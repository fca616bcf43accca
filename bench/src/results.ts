import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import * as prettier from "prettier";
import { REPO_ROOT } from "../../test/harness/process.js";
import { pinningEnabled } from "./tools.js";

/**
 * What a suite reports: one JSON line per result on stdout as it is measured, a final
 * `BENCH <suite> key=value ...` line with the headline ratios, and the whole run saved to
 * bench/results/<suite>.json, from which `npm run bench -- report` draws the docs' table and charts.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface BenchResult {
  suite: string;
  system: string;
  [field: string]: Json;
}

export type Headline = Record<string, number | string | boolean | null>;

export interface SuiteRun {
  suite: string;
  started_at: string;
  finished_at: string;
  machine: Record<string, Json>;
  settings: Record<string, Json>;
  results: BenchResult[];
  headline: Headline;
}

export const RESULTS_DIR = join(REPO_ROOT, "bench", "results");
/** Scratch output (profiles, logs): git-ignored. */
export const SCRATCH_DIR = join(REPO_ROOT, ".bench-out");

export class Recorder {
  private readonly results: BenchResult[] = [];
  private readonly startedAt = new Date().toISOString();
  readonly settings: Record<string, Json> = {};

  constructor(readonly suite: string) {}

  record(system: string, fields: Record<string, Json>): BenchResult {
    // The machine is shared: every result says how busy it was (1-minute load average, 2 cores).
    const result: BenchResult = { suite: this.suite, system, ...fields, load_1m: loadAverage() };
    this.results.push(result);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return result;
  }

  all(): readonly BenchResult[] {
    return this.results;
  }

  /** Prints the BENCH line and saves the run (unless `save` is false: smoke runs leave no file). */
  async finish(headline: Headline, save = true): Promise<SuiteRun> {
    const run: SuiteRun = {
      suite: this.suite,
      started_at: this.startedAt,
      finished_at: new Date().toISOString(),
      machine: machineInfo(),
      settings: this.settings,
      results: this.results,
      headline,
    };
    process.stdout.write(`${benchLine(this.suite, headline)}\n`);
    if (save) {
      mkdirSync(RESULTS_DIR, { recursive: true });
      const file = join(RESULTS_DIR, `${this.suite}.json`);
      // Formatted as `npm run lint` (prettier --check) expects the committed file.
      const options = { ...(await prettier.resolveConfig(file)), filepath: file };
      writeFileSync(file, await prettier.format(JSON.stringify(run), options));
    }
    return run;
  }
}

export function benchLine(suite: string, headline: Headline): string {
  const pairs = Object.entries(headline).map(([key, value]) => `${key}=${value === null ? "n/a" : value}`);
  return `BENCH ${suite} ${pairs.join(" ")}`;
}

export function readSuiteRun(suite: string): SuiteRun | null {
  try {
    return JSON.parse(readFileSync(join(RESULTS_DIR, `${suite}.json`), "utf8")) as SuiteRun;
  } catch {
    return null;
  }
}

function loadAverage(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}

function machineInfo(): Record<string, Json> {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? "unknown",
    cores: cpu.length,
    memory_gb: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
    load_average_1m_at_end: loadAverage(),
    cpu_pinning: pinningEnabled(),
    tools: toolVersions(),
  };
}

/** `scripts/setup --check --bench` lines: "<tool> <version>" (or MISSING). */
function toolVersions(): Record<string, string> {
  let text = "";
  try {
    text = execFileSync(join(REPO_ROOT, "scripts", "setup"), ["--check", "--bench"], { encoding: "utf8" });
  } catch (error) {
    // Exit 1 when a bench tool is missing; its output still lists the rest.
    text = (error as { stdout?: string }).stdout ?? "";
  }
  return Object.fromEntries(
    text
      .split("\n")
      .map((line) => line.trim().split(/\s+/, 2))
      .filter((parts): parts is [string, string] => parts.length === 2),
  );
}
