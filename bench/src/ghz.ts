import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";
import type { LoadResult } from "./rounds.js";
import { summarize } from "./stats.js";
import { benchToolPath, LOADGEN_CPU, pinned, pinningEnabled, run } from "./tools.js";

/**
 * ghz (a Go gRPC load generator) against an ext_authz Check server: closed-loop at saturation
 * (no rate) or open-loop at a fixed rate. Latency comes from ghz's per-request details, so p99.9
 * is computed here (ghz's own distribution stops at p99).
 */
const require = createRequire(import.meta.url);
const PROTO_DEPS = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
const IMPORT_PATHS = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) =>
  join(PROTO_DEPS, d),
);

export interface GhzRun {
  /** host:port */
  target: string;
  /** Serialized CheckRequest. */
  message: Uint8Array;
  durationS: number;
  /** Requests per second; undefined = as fast as `concurrency` workers go. */
  rps?: number;
  concurrency: number;
  /** HTTP/2 connections; Envoy uses one per worker thread, and the sidecar runs one worker. */
  connections?: number;
  /** Not pinned to the load-generator core, and free to use both (bench/src/suites/cores.ts). */
  unpinned?: boolean;
  /** Another method than ext_authz Check, e.g. ext_proc Process (one stream per call). */
  method?: { proto: string; call: string };
}

export type GhzResult = LoadResult;

const reportSchema = z.object({
  count: z.number(),
  rps: z.number(),
  statusCodeDistribution: z.record(z.number()).nullish(),
  errorDistribution: z.record(z.number()).nullish(),
  details: z
    .array(z.object({ latency: z.number(), error: z.string().nullish(), status: z.string().nullish() }))
    .nullish(),
});

export async function runGhz(options: GhzRun): Promise<GhzResult> {
  const work = mkdtempSync(join(tmpdir(), "warden-ghz-"));
  try {
    const messageFile = join(work, "check-request.bin");
    const outFile = join(work, "report.json");
    writeFileSync(messageFile, options.message);
    const args = [
      "--insecure",
      "--proto",
      options.method?.proto ?? "envoy/service/auth/v3/external_auth.proto",
      "--import-paths",
      IMPORT_PATHS.join(","),
      "--call",
      options.method?.call ?? "envoy.service.auth.v3.Authorization/Check",
      "--binary-file",
      messageFile,
      "--duration",
      `${options.durationS}s`,
      "--concurrency",
      String(options.concurrency),
      "--connections",
      String(options.connections ?? 1),
      "--timeout",
      "5s",
      // Calls still in flight when the time is up are left out, not counted as errors.
      "--duration-stop",
      "ignore",
      "--cpus",
      pinningEnabled() && !options.unpinned ? "1" : "2",
      "--format",
      "json",
      "--output",
      outFile,
      "--disable-template-functions",
      "--disable-template-data",
      ...(options.rps ? ["--rps", String(options.rps)] : []),
      options.target,
    ];
    const { command, args: pinnedArgs } = options.unpinned
      ? { command: benchToolPath("ghz"), args }
      : pinned(LOADGEN_CPU, benchToolPath("ghz"), args);
    await run(command, pinnedArgs, { timeoutMs: (options.durationS + 60) * 1000, cwd: IMPORT_PATHS[0] });
    return parseGhzReport(readFileSync(outFile, "utf8"), options.durationS);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function parseGhzReport(json: string, durationS: number): GhzResult {
  const report = reportSchema.parse(JSON.parse(json));
  const details = report.details ?? [];
  const ok = details.filter((d) => !d.error);
  // ghz reports latency in nanoseconds.
  const samplesMs = ok.map((d) => d.latency / 1e6);
  return {
    requests: report.count,
    errors: details.length - ok.length,
    achieved_rps: Math.round(report.rps),
    latency: summarize(samplesMs),
    statuses: report.statusCodeDistribution ?? {},
    samplesMs,
    durationS,
  };
}
