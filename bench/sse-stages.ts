/**
 * Where the first event's milliseconds go on the SSE path: the sse suite's set-up (OpenBao real,
 * extproc-server injecting the key and scrubbing the stream, the OpenAI stub), with Envoy's own
 * timings per stage read from its access log (ext_proc's per-phase gRPC latencies, ext_authz's,
 * and Envoy's timeline points), next to Envoy alone on the same route, alternating, same client.
 * Run: npm run build && node dist/bench/sse-stages.js [trials=200]
 */
import { startEnvoy } from "../test/harness/envoy.js";
import { freePorts, stopAll } from "../test/harness/process.js";
import { timedStream } from "../test/support/timed-stream.js";
import { SSE_VAULT_KEY, startSseSidecar, type SseSidecar } from "./src/sse-sidecar.js";
import { PATH_VARIANTS, withoutFilters } from "./src/envoy-variants.js";
import { summarize } from "./src/stats.js";

const trials = Number(process.argv[2] ?? 200);
const PLACEHOLDER = "sk-placeholder-the-agent-holds-nothing";

const EXT_PROC = "envoy.filters.http.ext_proc";
/** Access-log fields added for this diagnostic: microseconds per stage, as Envoy measured them. */
const STAGE_FIELDS: Record<string, string> = {
  req_headers_us: `%FILTER_STATE(${EXT_PROC}:FIELD:request_header_latency_us)%`,
  req_body_us: `%FILTER_STATE(${EXT_PROC}:FIELD:request_body_total_latency_us)%`,
  resp_headers_us: `%FILTER_STATE(${EXT_PROC}:FIELD:response_header_latency_us)%`,
  resp_body_calls: `%FILTER_STATE(${EXT_PROC}:FIELD:response_body_call_count)%`,
  resp_body_max_us: `%FILTER_STATE(${EXT_PROC}:FIELD:response_body_max_latency_us)%`,
  // Envoy's timeline: request received → sent upstream (ext_authz + ext_proc request phases);
  // upstream's first byte → first byte to the agent (the response-headers phase and flush).
  rx_to_upstream_us: "%COMMON_DURATION(DS_RX_BEG:US_TX_BEG:us)%",
  upstream_tx_to_rx_us: "%COMMON_DURATION(US_TX_BEG:US_RX_BEG:us)%",
  upstream_rx_to_agent_us: "%COMMON_DURATION(US_RX_BEG:DS_TX_BEG:us)%",
};

/**
 * An experiment, not the shipped configuration: routes with static body modes (request BUFFERED,
 * response STREAMED) and `send_body_without_waiting_for_header_response`, so Envoy sends the first
 * body chunk right behind the response headers instead of after their answer. Envoy ignores every
 * mode_override once that flag is set, hence the static modes.
 */
function pipelined(bootstrap: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(bootstrap), (key, value: unknown) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
    const record = value as Record<string, unknown>;
    if (record.name === EXT_PROC && typeof record.typed_config === "object")
      return {
        ...record,
        typed_config: {
          ...(record.typed_config as object),
          send_body_without_waiting_for_header_response: true,
        },
      };
    if (key === "overrides" && Object.keys(record).length === 0)
      return {
        processing_mode: {
          request_header_mode: "SEND",
          response_header_mode: "SEND",
          request_body_mode: "BUFFERED",
          response_body_mode: "STREAMED",
          request_trailer_mode: "SKIP",
          response_trailer_mode: "SKIP",
        },
      };
    return value;
  }) as Record<string, unknown>;
}

function withStageLog(bootstrap: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(bootstrap), (key, value: unknown) => {
    if (key === "json_format" && typeof value === "object" && value !== null)
      return { ...value, ...STAGE_FIELDS };
    return value;
  }) as Record<string, unknown>;
}

async function main(): Promise<void> {
  let sidecar: SseSidecar | undefined;
  try {
    sidecar = await startSseSidecar("diag-sse");
    const { stub, stack, destinations } = sidecar;
    const ports = await freePorts(6);
    const listener = (i: number) => ({
      agentListener: { port: ports[i]! },
      admin: { port: ports[i + 1]! },
    });
    const common = {
      authz: { address: "127.0.0.1", port: stack.authz.port },
      extproc: { address: "127.0.0.1", port: stack.extproc.port },
      destinations: destinations(),
    };
    const traced = await startEnvoy(
      "diag-sse-traced",
      { ...common, ...listener(0) },
      { transform: withStageLog },
    );
    const piped = await startEnvoy(
      "diag-sse-pipelined",
      { ...common, ...listener(2) },
      { transform: (b) => withStageLog(pipelined(b)) },
    );
    await startEnvoy(
      "diag-sse-alone",
      { ...common, ...listener(4) },
      { transform: withoutFilters(PATH_VARIANTS["envoy-only"]) },
    );
    const paths = {
      sidecar: [`http://127.0.0.1:${ports[0]!}`, PLACEHOLDER],
      pipelined: [`http://127.0.0.1:${ports[2]!}`, PLACEHOLDER],
      "envoy-only": [`http://127.0.0.1:${ports[4]!}`, SSE_VAULT_KEY],
    } as const;
    for (const [url, key] of Object.values(paths)) await timedStream(stub, url, key, 20, 0);
    const firsts: Record<string, number[]> = { sidecar: [], pipelined: [], "envoy-only": [] };
    const tracedFrom = traced.accessLog().length;
    const pipedFrom = piped.accessLog().length;
    for (let trial = 0; trial < trials; trial++) {
      for (const [name, [url, key]] of Object.entries(paths)) {
        firsts[name]!.push((await timedStream(stub, url, key, 1, 0)).firstEventMs);
      }
      stub.reset();
    }
    for (const [name, samples] of Object.entries(firsts))
      console.log(JSON.stringify({ path: name, first_event: summarize(samples) }));
    // Envoy's own histogram of the ext_authz Check round trip (its gRPC call to authz-server),
    // merged at the next stats flush (every 5 s).
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const stats = await (await fetch(`${traced.adminUrl}/stats?filter=warden_authz.upstream_rq_time`)).text();
    console.log(JSON.stringify({ path: "sidecar", authz_rq_time_ms: stats.trim() }));
    stageTable("sidecar", traced.accessLog().slice(tracedFrom));
    stageTable("pipelined", piped.accessLog().slice(pipedFrom));
  } finally {
    await sidecar?.stop();
    await stopAll();
  }
}

function stageTable(path: string, lines: Record<string, unknown>[]): void {
  // ext_authz's own latency is not in Envoy 1.40's filter state: what the request spends before
  // going upstream, less ext_proc's request phases, is ext_authz plus Envoy's own hand-offs.
  for (const line of lines)
    line.authz_and_envoy_us =
      Number(line.rx_to_upstream_us) - Number(line.req_headers_us) - Number(line.req_body_us);
  for (const field of [...Object.keys(STAGE_FIELDS), "authz_and_envoy_us"]) {
    const values = lines.map((line) => Number(line[field])).filter((v) => Number.isFinite(v));
    const ms = summarize(values.map((us) => us / 1000));
    const { p50_ms, p90_ms, p99_ms } = ms;
    console.log(JSON.stringify({ path, stage: field, n: values.length, p50_ms, p90_ms, p99_ms }));
  }
}

await main();
