import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeRequest, requestHeadersRequest } from "../../../extproc-server/src/testing/envoy-messages.js";
import { freePorts, REPO_ROOT, startProcess, stopAll } from "../../../test/harness/process.js";
import { realisticCheckRequestBytes } from "../../fixtures/check-request.js";
import {
  BENCH_AGENT,
  preparePolicyInputs,
  startNoopServer,
  startWardenAuthz,
  type CheckServer,
} from "../check-servers.js";
import { runGhz, type GhzResult } from "../ghz.js";
import { pooled } from "../rounds.js";
import { Recorder, type Json, type SuiteRun } from "../results.js";
import { DURATION_S, WARMUP_S } from "../settings.js";
import { ratio } from "../stats.js";
import { pinned, requireBenchTools, SERVER_CPU } from "../tools.js";

/**
 * The gRPC transport alone (WARDEN_GRPC_TRANSPORT, docs/benchmarks.md "gRPC transport"), with ghz
 * straight at the servers, every system in the same rounds so all see the same machine:
 * - ext_authz Check: authz-server on node:http2 and on grpc-js, and the no-op Check server on each
 *   (the grpc-js one is the floor issue #24 defines): saturation (best of the rounds) and latency at
 *   1,000 rps (pooled over the rounds);
 * - ext_proc: extproc-server on each transport, one new Process stream per call (request headers
 *   with the authz hand-off, answered, then closed): what a new stream costs.
 */
const ROUNDS = 3;
const ROUND_S = Math.max(3, Math.round(DURATION_S * 0.6));
const SATURATION_CONCURRENCY = 64;
const RATE = 1_000;
const RATE_CONCURRENCY = 256;
const EXTPROC_METHOD = {
  proto: "envoy/service/ext_proc/v3/external_processor.proto",
  call: "envoy.service.ext_proc.v3.ExternalProcessor/Process",
};
const TRANSPORTS = ["h2", "grpc-js"] as const;

async function startExtproc(transport: string): Promise<CheckServer> {
  const [port, statusPort] = (await freePorts(2)) as [number, number];
  const name = `bench-extproc-${transport}`;
  const { command, args } = pinned(SERVER_CPU, process.execPath, [
    join(REPO_ROOT, "dist", "extproc-server", "src", "main.js"),
  ]);
  const managed = startProcess({
    name,
    command,
    args,
    env: {
      WARDEN_EXTPROC_LISTEN: `127.0.0.1:${port}`,
      WARDEN_EXTPROC_STATUS_LISTEN: `127.0.0.1:${statusPort}`,
      WARDEN_GRPC_TRANSPORT: transport,
      SPIFFE_ENDPOINT_SOCKET: "",
      WARDEN_SPIFFE_SOCKET: "",
      DATABASE_URL: "",
      WARDEN_LOG_LEVEL: "info",
    },
  });
  await managed.waitForLog(/extproc-server listening/, 30_000);
  return {
    name,
    target: `127.0.0.1:${port}`,
    process: managed,
    stop: async () => {
      await managed.stop();
    },
  };
}

function fields(mode: string, result: GhzResult, rps?: number): Record<string, Json> {
  return {
    mode,
    target_rps: rps ?? null,
    achieved_rps: result.achieved_rps,
    requests: result.requests,
    errors: result.errors,
    latency: { ...result.latency },
  };
}

export async function transportSuite(): Promise<SuiteRun> {
  requireBenchTools("ghz");
  const recorder = new Recorder("transport");
  Object.assign(recorder.settings, {
    rounds: ROUNDS,
    round_s: ROUND_S,
    saturation_concurrency: SATURATION_CONCURRENCY,
    rate: RATE,
    rate_concurrency: RATE_CONCURRENCY,
    connections: 1,
  });
  const dir = mkdtempSync(join(tmpdir(), "warden-bench-transport-"));
  try {
    const inputs = await preparePolicyInputs(dir, 10);
    const check = realisticCheckRequestBytes(BENCH_AGENT, true, false);
    const checkSystems: [string, CheckServer][] = [];
    for (const transport of TRANSPORTS) {
      const authz = await startWardenAuthz({
        name: `bench-authz-${transport}`,
        inputs,
        env: { WARDEN_GRPC_TRANSPORT: transport },
      });
      checkSystems.push([`authz-${transport}`, authz]);
    }
    checkSystems.push(["noop-grpc-js", await startNoopServer("bench-noop-grpc-js", {}, "grpc-js")]);
    checkSystems.push(["noop-h2", await startNoopServer("bench-noop-h2", {}, "h2")]);
    const streamMessage = encodeRequest(
      requestHeadersRequest({ ":method": "GET", ":path": "/v1/models", host: "api.openai.com" }),
    );
    const extprocSystems: [string, CheckServer][] = [];
    for (const transport of TRANSPORTS)
      extprocSystems.push([`extproc-${transport}`, await startExtproc(transport)]);

    for (const [, server] of checkSystems)
      await runGhz({ target: server.target, message: check, durationS: WARMUP_S, concurrency: 8 });
    for (const [, server] of extprocSystems)
      await runGhz({
        target: server.target,
        message: streamMessage,
        durationS: WARMUP_S,
        concurrency: 8,
        method: EXTPROC_METHOD,
      });

    const best = new Map<string, GhzResult>();
    const atRate = new Map<string, GhzResult[]>();
    const keepBest = (name: string, result: GhzResult) => {
      const known = best.get(name);
      if (!known || result.achieved_rps > known.achieved_rps) best.set(name, result);
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, server] of checkSystems) {
        const result = await runGhz({
          target: server.target,
          message: check,
          durationS: ROUND_S,
          concurrency: SATURATION_CONCURRENCY,
        });
        recorder.record(name, { ...fields("saturation-round", result), round });
        keepBest(name, result);
      }
      for (const [name, server] of extprocSystems) {
        const result = await runGhz({
          target: server.target,
          message: streamMessage,
          durationS: ROUND_S,
          concurrency: SATURATION_CONCURRENCY,
          method: EXTPROC_METHOD,
        });
        recorder.record(name, { ...fields("saturation-round", result), round });
        keepBest(name, result);
      }
      for (const [name, server] of checkSystems) {
        const result = await runGhz({
          target: server.target,
          message: check,
          durationS: ROUND_S,
          concurrency: RATE_CONCURRENCY,
          rps: RATE,
        });
        atRate.set(name, [...(atRate.get(name) ?? []), result]);
      }
    }
    for (const [name, result] of best) recorder.record(name, fields("saturation", result));
    const pooledAtRate = new Map<string, GhzResult>();
    for (const [name, runs] of atRate) {
      const result = pooled(runs);
      pooledAtRate.set(name, result);
      recorder.record(name, { ...fields("rate", result, RATE), rounds: ROUNDS });
    }
    const sat = (name: string) => best.get(name)?.achieved_rps;
    const p99 = (name: string) => pooledAtRate.get(name)?.latency.p99_ms;
    const streamUs = (name: string) => {
      const rps = sat(name);
      return rps ? Math.round(1e6 / rps) : null;
    };
    return recorder.finish({
      sat_authz_h2: sat("authz-h2") ?? null,
      sat_authz_grpc_js: sat("authz-grpc-js") ?? null,
      sat_noop_grpc_js: sat("noop-grpc-js") ?? null,
      sat_noop_h2: sat("noop-h2") ?? null,
      authz_h2_vs_grpc_js: ratio(sat("authz-h2"), sat("authz-grpc-js")),
      authz_h2_vs_noop_grpc_js: ratio(sat("authz-h2"), sat("noop-grpc-js")),
      authz_grpc_js_vs_noop_grpc_js: ratio(sat("authz-grpc-js"), sat("noop-grpc-js")),
      authz_h2_vs_noop_h2: ratio(sat("authz-h2"), sat("noop-h2")),
      noop_h2_vs_noop_grpc_js: ratio(sat("noop-h2"), sat("noop-grpc-js")),
      p99_ms_1000_authz_h2: p99("authz-h2") ?? null,
      p99_ms_1000_authz_grpc_js: p99("authz-grpc-js") ?? null,
      p99_ms_1000_noop_grpc_js: p99("noop-grpc-js") ?? null,
      p99_ms_1000_noop_h2: p99("noop-h2") ?? null,
      p99_authz_h2_vs_noop_grpc_js: ratio(p99("authz-h2"), p99("noop-grpc-js")),
      sat_streams_extproc_h2: sat("extproc-h2") ?? null,
      sat_streams_extproc_grpc_js: sat("extproc-grpc-js") ?? null,
      stream_us_extproc_h2: streamUs("extproc-h2"),
      stream_us_extproc_grpc_js: streamUs("extproc-grpc-js"),
      extproc_h2_vs_grpc_js: ratio(sat("extproc-h2"), sat("extproc-grpc-js")),
    });
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}
