import { startEnvoy } from "../../../test/harness/envoy.js";
import { freePorts, stopAll } from "../../../test/harness/process.js";
import { timedStream } from "../../../test/support/timed-stream.js";
import { SSE_VAULT_KEY, startSseSidecar, type SseSidecar } from "../sse-sidecar.js";
import { PATH_VARIANTS, withoutFilters } from "../envoy-variants.js";
import { startProfiledSidecar } from "../profiled.js";
import { Recorder, type Headline, type SuiteRun } from "../results.js";
import { profileFields } from "./authz.js";
import { summarize, type LatencySummary } from "../stats.js";

/**
 * A streaming chat completion through the full sidecar (ext_authz, and ext_proc with Vault key
 * injection and the streamed response body: usage extraction and credential scrubbing per chunk)
 * vs Envoy alone, against the OpenAI stub, alternated so both see the same machine. Per event: the
 * time from the stub's write to the client's complete event; per request: time to the first event.
 * Stub and client share this process's clock (performance.now()).
 */
export const SSE_TARGET_ADDED_P99_MS = 1;
/** The first event may take this much longer through the sidecar (p50) than through Envoy alone. */
export const SSE_TARGET_FIRST_EVENT_ADDED_MS = 2;
const ROUNDS = 3;
const EVENTS = 1_000;
const INTERVAL_MS = 2;
const FIRST_EVENT_TRIALS = 200;
const PLACEHOLDER = "sk-placeholder-the-agent-holds-nothing";

export async function sseSuite(options: { profile?: boolean } = {}): Promise<SuiteRun> {
  const recorder = new Recorder("sse");
  Object.assign(recorder.settings, {
    rounds: ROUNDS,
    events_per_stream: EVENTS,
    interval_ms: INTERVAL_MS,
    first_event_trials: FIRST_EVENT_TRIALS,
  });
  let sidecar: SseSidecar | undefined;
  try {
    sidecar = await startSseSidecar("bench-sse");
    const { stub, stack, destinations, extprocEnv } = sidecar;
    const [agentPort, adminPort] = (await freePorts(2)) as [number, number];
    await startEnvoy(
      "bench-sse-envoy-only",
      {
        agentListener: { port: agentPort },
        admin: { port: adminPort },
        authz: { address: "127.0.0.1", port: stack.authz.port },
        extproc: { address: "127.0.0.1", port: stack.extproc.port },
        destinations: destinations(),
      },
      { transform: withoutFilters(PATH_VARIANTS["envoy-only"]) },
    );
    const envoyOnlyUrl = `http://127.0.0.1:${agentPort}`;
    // The sidecar path: the agent holds a placeholder and extproc-server injects the Vault key;
    // Envoy alone forwards what the agent sends, so there the agent sends the key itself.
    const paths = {
      sidecar: [stack.agentUrl, PLACEHOLDER],
      "envoy-only": [envoyOnlyUrl, SSE_VAULT_KEY],
    } as const;

    for (const [url, key] of Object.values(paths)) await timedStream(stub, url, key, 20, 0); // warm-up
    const delays: Record<keyof typeof paths, number[]> = { sidecar: [], "envoy-only": [] };
    const firsts: Record<keyof typeof paths, number[]> = { sidecar: [], "envoy-only": [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, [url, key]] of Object.entries(paths) as [
        keyof typeof paths,
        readonly [string, string],
      ][]) {
        delays[name].push(...(await timedStream(stub, url, key, EVENTS, INTERVAL_MS)).eventDelaysMs);
        stub.reset();
      }
    }
    for (let trial = 0; trial < FIRST_EVENT_TRIALS; trial++) {
      for (const [name, [url, key]] of Object.entries(paths) as [
        keyof typeof paths,
        readonly [string, string],
      ][]) {
        firsts[name].push((await timedStream(stub, url, key, 1, 0)).firstEventMs);
      }
      stub.reset();
    }
    const perEvent = { sidecar: summarize(delays.sidecar), envoyOnly: summarize(delays["envoy-only"]) };
    const firstEvent = { sidecar: summarize(firsts.sidecar), envoyOnly: summarize(firsts["envoy-only"]) };
    recorder.record("sidecar", { mode: "per-event", latency: { ...perEvent.sidecar } });
    recorder.record("envoy-only", { mode: "per-event", latency: { ...perEvent.envoyOnly } });
    recorder.record("sidecar", { mode: "first-event", latency: { ...firstEvent.sidecar } });
    recorder.record("envoy-only", { mode: "first-event", latency: { ...firstEvent.envoyOnly } });
    const headline = sseHeadline(perEvent, firstEvent);
    if (headline.added_event_p99_target_met !== true || options.profile) {
      const llmStub = stub;
      const profiled = await startProfiledSidecar("bench-sse", {
        extprocEnv: extprocEnv,
        upstream: stack.upstream,
        destinations: () => destinations(),
      });
      await timedStream(llmStub, profiled.agentUrl, PLACEHOLDER, 20, 0); // warm-up
      profiled.markLoadStart();
      for (let round = 0; round < ROUNDS; round++)
        await timedStream(llmStub, profiled.agentUrl, PLACEHOLDER, EVENTS, INTERVAL_MS);
      const profiles = await profiled.finish();
      for (const [server, profile] of Object.entries(profiles)) {
        recorder.record(`${server}-server`, {
          mode: "cpu-profile",
          note: `${ROUNDS} streams of ${EVENTS} events`,
          ...profileFields(profile),
        });
      }
    }
    return recorder.finish(headline);
  } finally {
    await sidecar?.stop();
    await stopAll();
  }
}

type Pair = { sidecar: LatencySummary; envoyOnly: LatencySummary };

function sseHeadline(perEvent: Pair, firstEvent: Pair): Headline {
  const added = (pair: Pair, field: "p50_ms" | "p99_ms") =>
    Math.round((pair.sidecar[field] - pair.envoyOnly[field]) * 1000) / 1000;
  const addedP99 = added(perEvent, "p99_ms");
  const addedFirst = added(firstEvent, "p50_ms");
  return {
    events: perEvent.sidecar.count,
    event_p50_ms_envoy: perEvent.envoyOnly.p50_ms,
    event_p99_ms_envoy: perEvent.envoyOnly.p99_ms,
    event_p50_ms_sidecar: perEvent.sidecar.p50_ms,
    event_p99_ms_sidecar: perEvent.sidecar.p99_ms,
    added_event_p50_ms: added(perEvent, "p50_ms"),
    added_event_p99_ms: addedP99,
    ttfb_p50_ms_envoy: firstEvent.envoyOnly.p50_ms,
    ttfb_p50_ms_sidecar: firstEvent.sidecar.p50_ms,
    added_ttfb_p50_ms: addedFirst,
    added_ttfb_p99_ms: added(firstEvent, "p99_ms"),
    // A negative difference means Envoy alone had the worse tail: the machine, not the sidecar.
    added_event_p99_target_met: addedP99 < 0 ? "inconclusive" : addedP99 <= SSE_TARGET_ADDED_P99_MS,
    added_ttfb_target_met: addedFirst <= SSE_TARGET_FIRST_EVENT_ADDED_MS,
  };
}
