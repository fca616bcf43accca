import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopAll, waitFor } from "../../../test/harness/process.js";
import { startStack, type Stack } from "../../../test/harness/stack.js";
import { realisticCheckRequestBytes } from "../../fixtures/check-request.js";
import { BENCH_AGENT, preparePolicyInputs, startWardenAuthz, type CheckServer } from "../check-servers.js";
import { openConnections, openFileLimit } from "../connections.js";
import { runGhz, type GhzResult } from "../ghz.js";
import { runH2load } from "../h2load.js";
import { Recorder, type SuiteRun } from "../results.js";
import { DURATION_S, WARMUP_S } from "../settings.js";
import { median, ratio } from "../stats.js";
import { requireBenchTools, rssMb } from "../tools.js";
import { startVariantEnvoy } from "./path.js";

/**
 * Scale of one sidecar. (1) Registry: authz-server with the shipped policy and 10 vs 10,000
 * registered agents, Check latency at 1,000 rps (ghz, four rounds in ABBA order, median) and memory. (2) Connections: as many idle
 * agent connections as the descriptor limit allows (up to 10,000), each having made one request
 * through Envoy, ext_authz and ext_proc; memory of every process and request latency (h2load at a
 * fixed rate) with few and with all connections open. Plain HTTP: with mTLS each connection also
 * holds a TLS session in Envoy.
 */
const SMALL_REGISTRY = 10;
const LARGE_REGISTRY = 10_000;
const TARGET_CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
const PROBE_RPS = 200;
const REGISTRY_ROUNDS = 4;
// Descriptors the bench process needs besides the agent connections (stub upstream, pipes, files).
const FD_HEADROOM = 500;

export async function scaleSuite(): Promise<SuiteRun> {
  requireBenchTools("ghz", "h2load");
  const recorder = new Recorder("scale");
  const limit = openFileLimit(readFileSync("/proc/self/limits", "utf8"));
  const connections = Math.min(TARGET_CONNECTIONS, Math.max(0, (limit?.soft ?? 1024) - FD_HEADROOM));
  Object.assign(recorder.settings, {
    open_files_soft_limit: limit?.soft ?? null,
    open_files_hard_limit: limit?.hard ?? null,
    connections_target: TARGET_CONNECTIONS,
    connections_attempted: connections,
    probe_rps: PROBE_RPS,
    duration_s: DURATION_S,
  });
  const dir = mkdtempSync(join(tmpdir(), "warden-bench-scale-"));
  let stack: Stack | undefined;
  try {
    // (1) registry size: both servers up at once on the server core, measured in alternation.
    const message = realisticCheckRequestBytes(BENCH_AGENT, true, false);
    const servers = new Map<number, CheckServer>();
    for (const agents of [SMALL_REGISTRY, LARGE_REGISTRY]) {
      const inputs = await preparePolicyInputs(join(dir, String(agents)), agents);
      const server = await startWardenAuthz({ name: `bench-scale-authz-${agents}`, inputs });
      await runGhz({ target: server.target, message, durationS: WARMUP_S, concurrency: 8 });
      servers.set(agents, server);
    }
    const rounds = new Map<number, GhzResult[]>();
    for (let round = 0; round < REGISTRY_ROUNDS; round++) {
      // ABBA: neither size always runs second, after the other has warmed the machine.
      const order = round % 2 === 0 ? [...servers] : [...servers].reverse();
      for (const [agents, server] of order) {
        const result = await runGhz({
          target: server.target,
          message,
          durationS: DURATION_S,
          concurrency: 256,
          rps: 1_000,
        });
        rounds.set(agents, [...(rounds.get(agents) ?? []), result]);
      }
    }
    const registry: Record<number, { p50: number; p99: number; rss: number | null }> = {};
    for (const [agents, server] of servers) {
      const results = rounds.get(agents) ?? [];
      const rss = rssMb(server.process.pid);
      registry[agents] = {
        p50: median(results.map((r) => r.latency.p50_ms)),
        p99: median(results.map((r) => r.latency.p99_ms)),
        rss,
      };
      recorder.record("authz-server", {
        mode: "registry",
        agents,
        target_rps: 1_000,
        rounds: results.length,
        achieved_rps: Math.min(...results.map((r) => r.achieved_rps)),
        errors: results.reduce((sum, r) => sum + r.errors, 0),
        // The median round's figures (rounds alternate with the other registry size).
        latency: { p50_ms: registry[agents].p50, p99_ms: registry[agents].p99 },
        round_p50_ms: results.map((r) => r.latency.p50_ms),
        round_p99_ms: results.map((r) => r.latency.p99_ms),
        rss_mb: rss,
      });
      await server.stop();
    }

    // (2) open connections, through the full sidecar with the large registry loaded
    const inputs = await preparePolicyInputs(join(dir, "stack"), LARGE_REGISTRY);
    stack = await startStack({
      name: "bench-scale",
      authzEnv: { WARDEN_REGISTRY_FILE: inputs.registryFile },
    });
    const { envoy, url } = await startVariantEnvoy(stack, "ext_authz+ext_proc", {
      maxDownstreamConnections: connections + 1_000,
    });
    const port = Number(new URL(url).port);
    const memory = () => ({
      envoy_rss_mb: rssMb(envoy.process.pid),
      authz_rss_mb: rssMb(stack!.authz.process().pid),
      extproc_rss_mb: rssMb(stack!.extproc.process().pid),
      bench_client_rss_mb: rssMb(process.pid),
    });
    const probe = () =>
      runH2load({
        url: `${url}/openai/v1/models`,
        durationS: DURATION_S,
        clients: 10,
        rpsPerClient: PROBE_RPS / 10,
      });
    await runH2load({ url: `${url}/openai/v1/models`, durationS: WARMUP_S, clients: 4 });
    stack.upstream.reset();
    const before = await probe();
    const memoryBefore = memory();
    recorder.record("sidecar", {
      mode: "connections",
      open: 0,
      ...memoryBefore,
      latency: { ...before.latency },
      errors: before.errors,
    });
    stack.upstream.reset();

    const started = Date.now();
    const open = await openConnections(port, "/openai/v1/models", connections);
    const openMs = Date.now() - started;
    stack.upstream.reset();
    const during = await probe();
    const memoryDuring = memory();
    recorder.record("sidecar", {
      mode: "connections",
      open: open.sockets.length,
      failed: open.failures,
      statuses: { ...open.statuses },
      open_ms: openMs,
      ...memoryDuring,
      latency: { ...during.latency },
      errors: during.errors,
    });
    const active = await envoy.stat("http.agent.downstream_cx_active").catch(() => null);
    open.closeAll();
    // Measured again with the connections gone: how much of a difference is the machine's noise.
    await waitFor(
      "connections closed",
      async () => (await envoy.stat("http.agent.downstream_cx_active")) < 10,
      30_000,
    );
    stack.upstream.reset();
    const after = await probe();
    recorder.record("sidecar", {
      mode: "connections",
      open: 0,
      note: "after closing",
      ...memory(),
      latency: { ...after.latency },
      errors: after.errors,
    });

    const large = registry[LARGE_REGISTRY]!;
    const small = registry[SMALL_REGISTRY]!;
    return recorder.finish({
      registry_p50_ms_10: small.p50,
      registry_p50_ms_10000: large.p50,
      registry_p50_ratio: ratio(large.p50, small.p50),
      registry_p99_ratio: ratio(large.p99, small.p99),
      authz_rss_mb_10: small.rss,
      authz_rss_mb_10000: large.rss,
      connections_open: open.sockets.length,
      connections_failed: open.failures,
      envoy_active_connections: active,
      envoy_rss_mb_before: memoryBefore.envoy_rss_mb,
      envoy_rss_mb_open: memoryDuring.envoy_rss_mb,
      request_p50_ms_before: before.latency.p50_ms,
      request_p50_ms_open: during.latency.p50_ms,
      request_p99_ms_before: before.latency.p99_ms,
      request_p99_ms_open: during.latency.p99_ms,
      request_p50_ms_after: after.latency.p50_ms,
      request_p99_ms_after: after.latency.p99_ms,
      open_files_limit: limit?.soft ?? null,
    });
  } finally {
    await stack?.stop();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}
