import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopAll } from "../../../test/harness/process.js";
import { realisticCheckRequestBytes } from "../../fixtures/check-request.js";
import {
  BENCH_AGENT,
  checkClient,
  checkOnce,
  preparePolicyInputs,
  startWardenAuthz,
  type CheckServer,
} from "../check-servers.js";
import { runGhz, type GhzResult } from "../ghz.js";
import { Recorder, type Headline, type SuiteRun } from "../results.js";
import { ratio } from "../stats.js";
import { requireBenchTools } from "../tools.js";

/**
 * Using every core: authz-server as one process vs WARDEN_WORKERS=2 (lib/src/grpc-server/workers.ts),
 * saturation with ghz over two HTTP/2 connections (as Envoy with two worker threads keeps), rounds
 * alternating, best round each. Nothing is pinned here (the point is to use both cores), so the load
 * generator competes for the same cores: the curve is a lower bound of what a second core buys.
 */
const ROUNDS = 3;

export async function coresSuite(): Promise<SuiteRun> {
  requireBenchTools("ghz");
  const roundS = Number(process.env.BENCH_CORES_ROUND_S ?? 5);
  const recorder = new Recorder("cores");
  Object.assign(recorder.settings, { rounds: ROUNDS, round_s: roundS, connections: 2, concurrency: 64 });
  const dir = mkdtempSync(join(tmpdir(), "warden-bench-cores-"));
  try {
    const inputs = await preparePolicyInputs(dir, 10);
    const message = realisticCheckRequestBytes(BENCH_AGENT, true, false);
    const systems: [number, CheckServer][] = [];
    for (const workers of [1, 2]) {
      const server = await startWardenAuthz({
        name: `bench-cores-${workers}`,
        inputs,
        env: { WARDEN_WORKERS: String(workers) },
        unpinned: true,
      });
      const client = checkClient(server.target);
      await checkOnce(client, message);
      client.close();
      systems.push([workers, server]);
    }
    for (const [, server] of systems)
      await runGhz({ target: server.target, message, durationS: 2, concurrency: 8, connections: 2 });
    const best = new Map<number, GhzResult>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [workers, server] of systems) {
        const result = await runGhz({
          target: server.target,
          message,
          durationS: roundS,
          concurrency: 64,
          connections: 2,
          unpinned: true,
        });
        recorder.record(`workers-${workers}`, {
          mode: "saturation-round",
          round,
          achieved_rps: result.achieved_rps,
        });
        const b = best.get(workers);
        if (!b || result.achieved_rps > b.achieved_rps) best.set(workers, result);
      }
    }
    for (const [workers, result] of best)
      recorder.record(`workers-${workers}`, {
        mode: "saturation",
        workers,
        achieved_rps: result.achieved_rps,
        p50_ms: result.latency.p50_ms,
        p99_ms: result.latency.p99_ms,
      });
    const headline: Headline = {
      sat_rps_1_worker: best.get(1)?.achieved_rps ?? null,
      sat_rps_2_workers: best.get(2)?.achieved_rps ?? null,
      scaling_2_vs_1: ratio(best.get(2)?.achieved_rps, best.get(1)?.achieved_rps),
    };
    return await recorder.finish(headline);
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}
