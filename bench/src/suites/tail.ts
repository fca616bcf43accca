import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, sleep, stopAll } from "../../../test/harness/process.js";
import { realisticCheckRequestBytes } from "../../fixtures/check-request.js";
import {
  BENCH_AGENT,
  checkClient,
  checkOnce,
  preparePolicyInputs,
  startNoopServer,
  startWardenAuthz,
  type CheckServer,
} from "../check-servers.js";
import { runGhz, type GhzResult } from "../ghz.js";
import { openLoop, pooledOpenLoop, type OpenLoopResult } from "../open-loop.js";
import { Recorder, type Headline, type Json, type SuiteRun } from "../results.js";
import { ratio } from "../stats.js";
import { requireBenchTools } from "../tools.js";

/**
 * The authz tail: authz-server vs the no-op grpc-js server (and, with BENCH_BASELINE_DIST, another
 * build of authz-server, e.g. the one before a change) under an OPEN-LOOP constant arrival rate
 * (bench/src/open-loop.ts: latency from the scheduled send, so stalls are not hidden), with each
 * server's own event-loop delay histogram and GC pauses per round (bench/diag-preload.ts). Then
 * saturation with ghz (closed loop), rounds alternating. Every figure that matters is a ratio to the
 * no-op server measured in the same run.
 */
export const TAIL_TARGETS = { p99_vs_noop_at_1000_max: 3, saturation_vs_noop_min: 0.6 } as const;

const RATE = 1_000;
const num = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};

interface Diagnostics {
  loop_delay_ms: { p50: number; p99: number; p999: number; max: number };
  gc: Record<string, { count: number; total_ms: number; max_ms: number }>;
  rss_mb: number;
}

class Observed {
  private read = 0;
  constructor(
    readonly name: string,
    readonly server: CheckServer,
    readonly diagFile: string,
  ) {}

  /** Asks the server for its diagnostics since the last call (the preload resets them). */
  async diagnostics(): Promise<Diagnostics | null> {
    const pid = this.server.process.pid;
    if (pid === undefined) return null;
    process.kill(pid, "SIGUSR2");
    for (let i = 0; i < 50; i++) {
      await sleep(20);
      const lines = existsSync(this.diagFile) ? readFileSync(this.diagFile, "utf8").trim().split("\n") : [];
      if (lines.length > this.read && lines[this.read]) {
        this.read = lines.length;
        return JSON.parse(lines[lines.length - 1]!) as Diagnostics;
      }
    }
    return null;
  }
}

function sumGc(rounds: Diagnostics[]): Record<string, Json> {
  const gc: Record<string, { count: number; total_ms: number; max_ms: number }> = {};
  for (const round of rounds)
    for (const [kind, g] of Object.entries(round.gc)) {
      const t = (gc[kind] ??= { count: 0, total_ms: 0, max_ms: 0 });
      t.count += g.count;
      t.total_ms = Math.round((t.total_ms + g.total_ms) * 100) / 100;
      t.max_ms = Math.round(Math.max(t.max_ms, g.max_ms) * 100) / 100;
    }
  return gc;
}

const worst = (rounds: Diagnostics[], key: keyof Diagnostics["loop_delay_ms"]): number =>
  Math.max(0, ...rounds.map((r) => r.loop_delay_ms[key]));

export async function tailSuite(): Promise<SuiteRun> {
  requireBenchTools("ghz");
  const rounds = num("BENCH_TAIL_ROUNDS", 4);
  const roundS = num("BENCH_TAIL_ROUND_S", 5);
  const baseline = process.env.BENCH_BASELINE_DIST;
  const recorder = new Recorder("tail");
  Object.assign(recorder.settings, {
    rate: RATE,
    rounds,
    round_s: roundS,
    load_generator: "open loop, one HTTP/2 connection, latency from the scheduled send",
    baseline_dist: baseline ?? null,
  });
  const dir = mkdtempSync(join(tmpdir(), "warden-bench-tail-"));
  try {
    const inputs = await preparePolicyInputs(dir, 10);
    const preload = `--import ${join(REPO_ROOT, "dist", "bench", "diag-preload.js")}`;
    const env = (name: string) => {
      const file = join(dir, `${name}.diag`);
      writeFileSync(file, "");
      return { file, env: { NODE_OPTIONS: preload, BENCH_DIAG_FILE: file } };
    };
    const systems: Observed[] = [];
    const ours = env("authz-server");
    systems.push(
      new Observed(
        "authz-server",
        await startWardenAuthz({ name: "bench-tail-authz", inputs, env: ours.env }),
        ours.file,
      ),
    );
    if (baseline) {
      const before = env("authz-server-before");
      systems.push(
        new Observed(
          "authz-server-before",
          await startWardenAuthz({
            name: "bench-tail-authz-before",
            inputs,
            env: before.env,
            distDir: baseline,
          }),
          before.file,
        ),
      );
    }
    const noop = env("noop");
    systems.push(new Observed("noop", await startNoopServer("bench-tail-noop", noop.env), noop.file));

    const message = realisticCheckRequestBytes(BENCH_AGENT, true, false);
    const clients = new Map(systems.map((s) => [s.name, checkClient(s.server.target)]));
    const sender = (name: string) => {
      const client = clients.get(name)!;
      return () => checkOnce(client, message).then(() => undefined);
    };
    for (const s of systems) {
      await openLoop({ rate: 500, durationS: 3, send: sender(s.name) });
      await s.diagnostics();
    }

    const runs = new Map<string, OpenLoopResult[]>();
    const diags = new Map<string, Diagnostics[]>();
    for (let round = 0; round < rounds; round++) {
      for (const s of systems) {
        const result = await openLoop({ rate: RATE, durationS: roundS, send: sender(s.name) });
        const diag = await s.diagnostics();
        runs.set(s.name, [...(runs.get(s.name) ?? []), result]);
        if (diag) diags.set(s.name, [...(diags.get(s.name) ?? []), diag]);
        const { samples: _samples, ...fields } = result;
        recorder.record(s.name, {
          mode: "rate-round",
          round,
          ...(fields as unknown as Record<string, Json>),
          diagnostics: diag as unknown as Json,
        });
      }
    }
    const atRate = new Map<string, OpenLoopResult>();
    for (const s of systems) {
      const pooled = pooledOpenLoop(runs.get(s.name) ?? []);
      atRate.set(s.name, pooled);
      const d = diags.get(s.name) ?? [];
      const { samples: _samples, ...fields } = pooled;
      recorder.record(s.name, {
        mode: "rate",
        ...(fields as unknown as Record<string, Json>),
        loop_delay_p99_ms_worst_round: worst(d, "p99"),
        loop_delay_max_ms: worst(d, "max"),
        gc: sumGc(d),
      });
    }
    for (const client of clients.values()) client.close();

    const saturation = new Map<string, GhzResult>();
    for (let round = 0; round < 3; round++) {
      for (const s of systems) {
        const result = await runGhz({ target: s.server.target, message, durationS: roundS, concurrency: 64 });
        const best = saturation.get(s.name);
        if (!best || result.achieved_rps > best.achieved_rps) saturation.set(s.name, result);
      }
    }
    for (const [name, result] of saturation)
      recorder.record(name, { mode: "saturation", achieved_rps: result.achieved_rps, errors: result.errors });
    const p99 = (name: string) => atRate.get(name)?.latency.p99_ms;
    const sat = (name: string) => saturation.get(name)?.achieved_rps;
    const p99Ratio = ratio(p99("authz-server"), p99("noop"));
    const satRatio = ratio(sat("authz-server"), sat("noop"));
    const headline: Headline = {
      p99_ms_1000_authz: p99("authz-server") ?? null,
      p99_ms_1000_noop: p99("noop") ?? null,
      p99_vs_noop_1000: p99Ratio,
      p99_target_met: p99Ratio !== null && p99Ratio <= TAIL_TARGETS.p99_vs_noop_at_1000_max,
      sat_rps_authz: sat("authz-server") ?? null,
      sat_rps_noop: sat("noop") ?? null,
      sat_vs_noop: satRatio,
      sat_target_met: satRatio !== null && satRatio >= TAIL_TARGETS.saturation_vs_noop_min,
    };
    if (baseline) {
      headline.p99_ms_1000_before = p99("authz-server-before") ?? null;
      headline.p99_vs_noop_1000_before = ratio(p99("authz-server-before"), p99("noop"));
      headline.sat_rps_before = sat("authz-server-before") ?? null;
      headline.sat_vs_noop_before = ratio(sat("authz-server-before"), sat("noop"));
    }
    return await recorder.finish(headline);
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}
