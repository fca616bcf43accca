/**
 * Where the first event's milliseconds go on the SSE path: the sse suite's set-up (OpenBao real,
 * extproc-server injecting the key and scrubbing the stream, the OpenAI stub), with Envoy's own
 * timings per stage read from its access log (ext_proc's per-phase gRPC latencies, ext_authz's,
 * and Envoy's timeline points), next to Envoy alone on the same route, alternating, same client.
 * Run: npm run build && node dist/bench/sse-stages.js [trials=200]
 */
import { providerDestinations, type Destination } from "../lib/src/envoy/bootstrap.js";
import { startEnvoy } from "../test/harness/envoy.js";
import { freePorts, stopAll } from "../test/harness/process.js";
import { startStack, type Stack } from "../test/harness/stack.js";
import { EXTPROC_SPIFFE_ID, startVaultTls, type VaultTls } from "../test/harness/vault-tls.js";
import { startOpenAiStub } from "../test/stubs/llm-openai.js";
import type { LlmStub } from "../test/stubs/llm-stub-server.js";
import { extprocVaultLogin } from "../test/support/extproc-vault-login.js";
import { timedStream } from "../test/support/timed-stream.js";
import { PATH_VARIANTS, withoutFilters } from "./src/envoy-variants.js";
import { summarize } from "./src/stats.js";

const trials = Number(process.argv[2] ?? 200);
const PLACEHOLDER = "sk-placeholder-the-agent-holds-nothing";
const VAULT_KEY = "sk-bench-vault-openai-0123456789";

const EXT_PROC = "envoy.filters.http.ext_proc";
const EXT_AUTHZ = "envoy.filters.http.ext_authz";
/** Access-log fields added for this diagnostic: microseconds per stage, as Envoy measured them. */
const STAGE_FIELDS: Record<string, string> = {
  authz_us: `%FILTER_STATE(${EXT_AUTHZ}:FIELD:latency_us)%`,
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

function withStageLog(bootstrap: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(bootstrap), (key, value: unknown) => {
    if (key === "json_format" && typeof value === "object" && value !== null)
      return { ...value, ...STAGE_FIELDS };
    return value;
  }) as Record<string, unknown>;
}

async function main(): Promise<void> {
  let vault: VaultTls | undefined;
  let stub: LlmStub | undefined;
  let stack: Stack | undefined;
  try {
    vault = await startVaultTls("diag-sse");
    const extproc = await vault.addCertRole("extproc", EXTPROC_SPIFFE_ID, ["extproc.hcl"]);
    await vault.putLlmKey("acme", "openai", VAULT_KEY);
    stub = await startOpenAiStub({ validKeys: () => [VAULT_KEY] });
    const port = stub.port;
    const destinations = (): Destination[] =>
      providerDestinations().map((d) => ({ ...d, upstream: { address: "127.0.0.1", port, tls: false } }));
    const extprocEnv = { ...extprocVaultLogin(vault, extproc), WARDEN_DEFAULT_TENANT: "acme" };
    stack = await startStack({ name: "diag-sse", destinations, extprocEnv });
    const [sidecarPort, sidecarAdmin, alonePort, aloneAdmin] = (await freePorts(4)) as [
      number,
      number,
      number,
      number,
    ];
    const common = {
      authz: { address: "127.0.0.1", port: stack.authz.port },
      extproc: { address: "127.0.0.1", port: stack.extproc.port },
      destinations: destinations(),
    };
    const traced = await startEnvoy(
      "diag-sse-traced",
      { ...common, agentListener: { port: sidecarPort }, admin: { port: sidecarAdmin } },
      { transform: withStageLog },
    );
    await startEnvoy(
      "diag-sse-alone",
      { ...common, agentListener: { port: alonePort }, admin: { port: aloneAdmin } },
      { transform: (b) => withStageLog(withoutFilters(PATH_VARIANTS["envoy-only"])(b)) },
    );
    const paths = {
      sidecar: [`http://127.0.0.1:${sidecarPort}`, PLACEHOLDER],
      "envoy-only": [`http://127.0.0.1:${alonePort}`, VAULT_KEY],
    } as const;
    for (const [url, key] of Object.values(paths)) await timedStream(stub, url, key, 20, 0);
    const firsts: Record<string, number[]> = { sidecar: [], "envoy-only": [] };
    const logStart = traced.accessLog().length;
    for (let trial = 0; trial < trials; trial++) {
      for (const [name, [url, key]] of Object.entries(paths)) {
        firsts[name]!.push((await timedStream(stub, url, key, 1, 0)).firstEventMs);
      }
      stub.reset();
    }
    for (const [name, samples] of Object.entries(firsts))
      console.log(JSON.stringify({ path: name, first_event: summarize(samples) }));
    const lines = traced.accessLog().slice(logStart);
    for (const field of Object.keys(STAGE_FIELDS)) {
      const values = lines.map((line) => Number(line[field])).filter((v) => Number.isFinite(v));
      const ms = summarize(values.map((us) => us / 1000));
      console.log(
        JSON.stringify({
          stage: field,
          n: values.length,
          p50_ms: ms.p50_ms,
          p90_ms: ms.p90_ms,
          p99_ms: ms.p99_ms,
        }),
      );
    }
  } finally {
    await stack?.stop();
    await stub?.close();
    await vault?.stop();
    await stopAll();
  }
}

await main();
