import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoadResult } from "./rounds.js";
import { summarize } from "./stats.js";
import { benchToolPath, LOADGEN_CPU, pinned, run } from "./tools.js";

/**
 * h2load (nghttp2's HTTP load generator) over HTTP/1.1 keep-alive connections, as agent SDKs
 * connect: at saturation (no rate) or at a fixed rate (`clients` × `rpsPerClient`). Latency comes
 * from h2load's per-request log (start → end of response), so every percentile is computed here.
 */
export interface H2loadRun {
  url: string;
  durationS: number;
  clients: number;
  /** Requests per second per client; undefined = as fast as each connection goes. */
  rpsPerClient?: number;
  /** POST this body (with content-type application/json); GET when undefined. */
  jsonBody?: string;
  headers?: Record<string, string>;
}

export type H2loadResult = LoadResult;

export async function runH2load(options: H2loadRun): Promise<H2loadResult> {
  const work = mkdtempSync(join(tmpdir(), "warden-h2load-"));
  try {
    const logFile = join(work, "requests.tsv");
    const args = [
      "--h1",
      "--clients",
      String(options.clients),
      "--threads",
      "1",
      "--duration",
      `${options.durationS}s`,
      "--log-file",
      logFile,
    ];
    if (options.rpsPerClient) args.push("--rps", String(options.rpsPerClient));
    if (options.jsonBody !== undefined) {
      const bodyFile = join(work, "body.json");
      writeFileSync(bodyFile, options.jsonBody);
      args.push("--data", bodyFile, "--header", "content-type: application/json");
    }
    for (const [name, value] of Object.entries(options.headers ?? {}))
      args.push("--header", `${name}: ${value}`);
    args.push(options.url);
    const { command, args: pinnedArgs } = pinned(LOADGEN_CPU, benchToolPath("h2load"), args);
    const stdout = await run(command, pinnedArgs, { timeoutMs: (options.durationS + 60) * 1000 });
    return parseH2load(stdout, readFileSync(logFile, "utf8"), options.durationS);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** h2load's summary (failed/errored counts) and its per-request log: start µs, status, duration µs. */
export function parseH2load(stdout: string, log: string, durationS: number): H2loadResult {
  const statuses: Record<string, number> = {};
  const okMs: number[] = [];
  let logged = 0;
  for (const line of log.split("\n")) {
    const [, status, durationUs] = line.split("\t");
    if (status === undefined || durationUs === undefined) continue;
    logged += 1;
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status.startsWith("2")) okMs.push(Number(durationUs) / 1000);
  }
  const failed =
    /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored/.exec(stdout);
  // h2load's "failed" includes "errored" (no response at all), which the log never lists.
  const notLogged = failed ? Number(failed[1]) - (logged - okMs.length) : 0;
  return {
    requests: logged,
    errors: logged - okMs.length + Math.max(0, notLogged),
    achieved_rps: Math.round(logged / durationS),
    latency: summarize(okMs),
    statuses,
    samplesMs: okMs,
    durationS,
  };
}
