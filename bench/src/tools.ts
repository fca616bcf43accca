import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, toolPath } from "../../test/harness/process.js";

/**
 * The external programs the full suites drive (installed by `scripts/setup --bench`), and CPU
 * pinning: on a 2-core machine the load generator gets core 0 and the system under test core 1, so
 * every system measured gets the same single core (Go would otherwise spread over both and fight
 * the load generator for them). BENCH_PIN=0 turns pinning off.
 */
export const LOADGEN_CPU = "0";
export const SERVER_CPU = "1";

/** BENCH_TOOLS_DIR: where ghz and opa-envoy-plugin are, when not in .tools/bin (a private build). */
export function benchToolPath(name: "ghz" | "opa-envoy-plugin" | "h2load"): string {
  if (name === "h2load") return "h2load";
  const dir = process.env.BENCH_TOOLS_DIR;
  return dir ? join(dir, name) : toolPath(name);
}

export function requireBenchTools(...names: ("ghz" | "opa-envoy-plugin" | "h2load")[]): void {
  const missing = names.filter((name) =>
    name === "h2load" ? !commandExists("h2load") : !existsSync(benchToolPath(name)),
  );
  if (missing.length > 0) {
    throw new Error(`bench: ${missing.join(", ")} not installed; run scripts/setup --bench first`);
  }
}

function commandExists(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const pinning = process.env.BENCH_PIN !== "0" && commandExists("taskset");

export function pinningEnabled(): boolean {
  return pinning;
}

/** `command args` pinned to `cpu` when pinning is on. */
export function pinned(cpu: string, command: string, args: string[]): { command: string; args: string[] } {
  return pinning ? { command: "taskset", args: ["-c", cpu, command, ...args] } : { command, args };
}

/** Runs a program to completion and returns its stdout; rejects with its stderr on failure. */
export function run(
  command: string,
  args: string[],
  options: { timeoutMs: number; cwd?: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: options.cwd ?? REPO_ROOT, timeout: options.timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${command} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

/** Resident memory of a process in MiB (from /proc), or null when it is gone. */
export function rssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
    return Number.isFinite(kb) ? Math.round(kb / 102.4) / 10 : null;
  } catch {
    return null;
  }
}
