import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { stopAll } from "../../../test/harness/process.js";
import { startStack, type Stack } from "../../../test/harness/stack.js";
import { realisticCheckRequestBytes } from "../../fixtures/check-request.js";
import {
  BENCH_AGENT,
  checkClient,
  checkOnce,
  preparePolicyInputs,
  startNoopServer,
  startWardenAuthz,
} from "../check-servers.js";
import { Recorder, type SuiteRun } from "../results.js";
import { median, ratio, summarize } from "../stats.js";
import { CHAT_BODY, startVariantEnvoy } from "./path.js";

/**
 * The CI guard (`npm test` runs it after the integration tests): a few seconds of `authz` and `path`
 * with a load generator written in Node (plain `scripts/setup` installs no ghz or h2load), one
 * request at a time, alternating the systems. It fails only when a RATIO to the floor measured in
 * the same run is grossly worse than the limit, never on an absolute time: authz-server's p50 vs
 * the no-op Check server's, and the full sidecar's p50 vs Envoy alone.
 */
const MAX_AUTHZ_RATIO = Number(process.env.BENCH_SMOKE_MAX_AUTHZ_RATIO ?? 8);
const MAX_PATH_RATIO = Number(process.env.BENCH_SMOKE_MAX_PATH_RATIO ?? 30);
const ROUND_MS = Number(process.env.BENCH_SMOKE_ROUND_MS ?? 1_500);
const ROUNDS = 3;

async function timedLoop(durationMs: number, once: () => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    const started = performance.now();
    await once();
    samples.push(performance.now() - started);
  }
  return samples;
}

/** Median over rounds of each round's p50: one noisy round cannot fail the build. */
async function alternate(
  systems: Record<string, () => Promise<void>>,
): Promise<Record<string, { p50_ms: number; p99_ms: number; requests: number }>> {
  const p50s: Record<string, number[]> = {};
  const p99s: Record<string, number[]> = {};
  const counts: Record<string, number> = {};
  for (const once of Object.values(systems)) await timedLoop(300, once); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, once] of Object.entries(systems)) {
      const summary = summarize(await timedLoop(ROUND_MS, once));
      (p50s[name] ??= []).push(summary.p50_ms);
      (p99s[name] ??= []).push(summary.p99_ms);
      counts[name] = (counts[name] ?? 0) + summary.count;
    }
  }
  return Object.fromEntries(
    Object.keys(systems).map((name) => [
      name,
      { p50_ms: median(p50s[name]!), p99_ms: median(p99s[name]!), requests: counts[name]! },
    ]),
  );
}

function httpPost(agent: Agent, url: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json" } },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`${url.host}: status ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(CHAT_BODY);
  });
}

export async function smokeSuite(): Promise<SuiteRun> {
  const recorder = new Recorder("smoke");
  Object.assign(recorder.settings, {
    max_authz_ratio: MAX_AUTHZ_RATIO,
    max_path_ratio: MAX_PATH_RATIO,
    round_ms: ROUND_MS,
    rounds: ROUNDS,
  });
  const dir = mkdtempSync(join(tmpdir(), "warden-bench-smoke-"));
  let stack: Stack | undefined;
  try {
    const inputs = await preparePolicyInputs(dir, 10);
    const [ours, noop] = await Promise.all([
      startWardenAuthz({ name: "bench-smoke-authz", inputs }),
      startNoopServer("bench-smoke-noop"),
    ]);
    const message = realisticCheckRequestBytes(BENCH_AGENT, true, false);
    const clients = { "authz-server": checkClient(ours.target), noop: checkClient(noop.target) };
    const authz = await alternate({
      noop: async () => void (await checkOnce(clients.noop, message)),
      "authz-server": async () => {
        const verdict = await checkOnce(clients["authz-server"], message);
        if (!verdict.allowed) throw new Error(`authz-server refused the bench request: ${verdict.code}`);
      },
    });
    Object.values(clients).forEach((client) => client.close());
    await Promise.all([ours.stop(), noop.stop()]);
    for (const [name, figures] of Object.entries(authz))
      recorder.record(name, { mode: "sequential", ...figures });

    stack = await startStack({ name: "bench-smoke" });
    const envoyOnly = await startVariantEnvoy(stack, "envoy-only");
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const path = await alternate({
      "envoy-only": () => httpPost(agent, new URL(`${envoyOnly.url}/openai/v1/chat/completions`)),
      "ext_authz+ext_proc": () => httpPost(agent, new URL(`${stack!.agentUrl}/openai/v1/chat/completions`)),
    });
    agent.destroy();
    for (const [name, figures] of Object.entries(path))
      recorder.record(name, { mode: "sequential", ...figures });

    const authzRatio = ratio(authz["authz-server"]!.p50_ms, authz.noop!.p50_ms);
    const pathRatio = ratio(path["ext_authz+ext_proc"]!.p50_ms, path["envoy-only"]!.p50_ms);
    const authzOk = authzRatio !== null && authzRatio <= MAX_AUTHZ_RATIO;
    const pathOk = pathRatio !== null && pathRatio <= MAX_PATH_RATIO;
    const run = await recorder.finish(
      {
        authz_p50_vs_noop: authzRatio,
        authz_limit: MAX_AUTHZ_RATIO,
        authz_ok: authzOk,
        path_p50_vs_envoy: pathRatio,
        path_limit: MAX_PATH_RATIO,
        path_ok: pathOk,
      },
      false,
    );
    if (!authzOk || !pathOk) {
      throw new Error(
        `gross regression: ${!authzOk ? `authz-server p50 is ${authzRatio}× the no-op server's (limit ${MAX_AUTHZ_RATIO}×) ` : ""}` +
          `${!pathOk ? `the sidecar's p50 is ${pathRatio}× Envoy alone (limit ${MAX_PATH_RATIO}×)` : ""}`,
      );
    }
    return run;
  } finally {
    await stack?.stop();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}
