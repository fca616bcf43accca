import { startEnvoy, type EnvoySidecar } from "../../../test/harness/envoy.js";
import { freePorts, stopAll } from "../../../test/harness/process.js";
import { startStack, stubbedProviderDestinations, type Stack } from "../../../test/harness/stack.js";
import { PATH_VARIANTS, withoutFilters, type PathVariant } from "../envoy-variants.js";
import { runH2load, type H2loadResult } from "../h2load.js";
import { pooled } from "../rounds.js";
import { startProfiledSidecar } from "../profiled.js";
import { Recorder, type Headline, type Json, type SuiteRun } from "../results.js";
import { profileFields } from "./authz.js";
import { DURATION_S, RATES, WARMUP_S } from "../settings.js";
import { ratio } from "../stats.js";
import { requireBenchTools } from "../tools.js";

/**
 * HTTP through the sidecar to a stub provider, driven by h2load over HTTP/1.1 keep-alive: Envoy
 * alone vs Envoy + ext_authz vs the full sidecar (ext_authz + ext_proc, headers only: no Vault, so
 * no body phase). Plain HTTP on loopback with the walking-skeleton policy: h2load cannot present a
 * per-agent client certificate, so the full policy (which needs the mTLS identity) is measured by
 * the authz suite instead. Every variant is the shipped bootstrap with filters taken out.
 */
export const PATH_TARGET_ADDED_P99_MS = 2;
// HTTP/1.1 has one request in flight per connection, so a connection at 25 rps keeps its pace as
// long as a request takes under 40 ms; fixed rates use rate/25 connections.
const RPS_PER_CLIENT = 25;
const clientsFor = (rps: number): number => Math.max(1, Math.round(rps / RPS_PER_CLIENT));
const SATURATION_CLIENTS = 64;
const SATURATION_ROUNDS = 3;
const RATE_ROUNDS = 3;
const RATE_ROUND_S = Math.max(3, Math.round(DURATION_S / 2));
const SATURATION_ROUND_S = Math.max(3, Math.round(DURATION_S * 0.6));
export const CHAT_BODY = JSON.stringify({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Summarise the attached notes." }],
});
const VARIANT_ORDER: PathVariant[] = ["envoy-only", "ext_authz", "ext_authz+ext_proc"];

/** An Envoy of the given variant in front of the stack's servers and stub upstream, and its agent URL. */
export async function startVariantEnvoy(
  stack: Stack,
  variant: PathVariant,
  extra: { maxDownstreamConnections?: number } = {},
): Promise<{ envoy: EnvoySidecar; url: string }> {
  if (variant === "ext_authz+ext_proc" && extra.maxDownstreamConnections === undefined) {
    return { envoy: stack.envoy, url: stack.agentUrl };
  }
  const [agentPort, adminPort] = (await freePorts(2)) as [number, number];
  const envoy = await startEnvoy(
    `bench-${variant.replace(/[^a-z]+/g, "-")}-${agentPort}`,
    {
      agentListener: { port: agentPort },
      admin: { port: adminPort },
      authz: { address: "127.0.0.1", port: stack.authz.port },
      extproc: { address: "127.0.0.1", port: stack.extproc.port },
      destinations: stubbedProviderDestinations(stack.upstream),
      ...extra,
    },
    { transform: withoutFilters(PATH_VARIANTS[variant]) },
  );
  return { envoy, url: `http://127.0.0.1:${agentPort}` };
}

function fields(mode: string, result: H2loadResult, rps?: number): Record<string, Json> {
  return {
    mode,
    target_rps: rps ?? null,
    achieved_rps: result.achieved_rps,
    requests: result.requests,
    errors: result.errors,
    statuses: { ...result.statuses },
    latency: { ...result.latency },
  };
}

export async function pathSuite(options: { profile?: boolean } = {}): Promise<SuiteRun> {
  requireBenchTools("h2load");
  const recorder = new Recorder("path");
  Object.assign(recorder.settings, {
    duration_s: DURATION_S,
    warmup_s: WARMUP_S,
    rates: [...RATES],
    rps_per_connection: RPS_PER_CLIENT,
    saturation_clients: SATURATION_CLIENTS,
    saturation_rounds: SATURATION_ROUNDS,
    rate_rounds: RATE_ROUNDS,
    rate_round_s: RATE_ROUND_S,
    saturation_round_s: SATURATION_ROUND_S,
    protocol: "HTTP/1.1 keep-alive",
    request: "POST /openai/v1/chat/completions (JSON body), skeleton policy, stub upstream",
  });
  let stack: Stack | undefined;
  try {
    stack = await startStack({ name: "bench-path" });
    const urls = new Map<PathVariant, string>();
    for (const variant of VARIANT_ORDER) urls.set(variant, (await startVariantEnvoy(stack, variant)).url);
    const request = (variant: PathVariant) => ({
      url: `${urls.get(variant)}/openai/v1/chat/completions`,
      jsonBody: CHAT_BODY,
      headers: { authorization: "Bearer sk-placeholder", "user-agent": "warden-bench" },
    });
    for (const variant of VARIANT_ORDER) {
      const check = await runH2load({ ...request(variant), durationS: WARMUP_S, clients: 4 });
      if (check.errors > 0 || !check.statuses["200"]) {
        throw new Error(`path ${variant}: warm-up got ${JSON.stringify(check.statuses)}, expected only 200`);
      }
      stack.upstream.reset();
    }
    // Throughput: rounds in alternation, the best round per variant (see the authz suite).
    const saturation = new Map<PathVariant, H2loadResult>();
    for (let round = 0; round < SATURATION_ROUNDS; round++) {
      for (const variant of VARIANT_ORDER) {
        const result = await runH2load({
          ...request(variant),
          durationS: SATURATION_ROUND_S,
          clients: SATURATION_CLIENTS,
        });
        recorder.record(variant, { ...fields("saturation-round", result), round });
        const best = saturation.get(variant);
        if (!best || result.achieved_rps > best.achieved_rps) saturation.set(variant, result);
        stack.upstream.reset();
      }
    }
    for (const [variant, result] of saturation) recorder.record(variant, fields("saturation", result));
    // Latency at fixed rates: rounds alternating between variants, percentiles over all rounds.
    const atRate = new Map<string, H2loadResult>();
    for (const rps of RATES) {
      const runs = new Map<PathVariant, H2loadResult[]>();
      for (let round = 0; round < RATE_ROUNDS; round++) {
        for (const variant of VARIANT_ORDER) {
          const result = await runH2load({
            ...request(variant),
            durationS: RATE_ROUND_S,
            clients: clientsFor(rps),
            rpsPerClient: RPS_PER_CLIENT,
          });
          runs.set(variant, [...(runs.get(variant) ?? []), result]);
          stack.upstream.reset();
        }
      }
      for (const variant of VARIANT_ORDER) {
        const result = pooled(runs.get(variant) ?? []);
        atRate.set(`${variant}@${rps}`, result);
        recorder.record(variant, { ...fields("rate", result, rps), rounds: RATE_ROUNDS });
      }
    }
    const headline = pathHeadline(saturation, atRate);
    if (headline.added_p99_target_met !== true || options.profile) {
      await stack.stop();
      stack = undefined;
      const profiled = await startProfiledSidecar("bench-path");
      const url = `${profiled.agentUrl}/openai/v1/chat/completions`;
      await runH2load({ url, jsonBody: CHAT_BODY, durationS: WARMUP_S, clients: 4 });
      profiled.markLoadStart();
      await runH2load({
        url,
        jsonBody: CHAT_BODY,
        durationS: DURATION_S,
        clients: clientsFor(1_000),
        rpsPerClient: RPS_PER_CLIENT,
      });
      const profiles = await profiled.finish();
      for (const [server, profile] of Object.entries(profiles)) {
        recorder.record(`${server}-server`, {
          mode: "cpu-profile",
          note: "1,000 rps through the sidecar",
          ...profileFields(profile),
        });
      }
    }
    return recorder.finish(headline);
  } finally {
    await stack?.stop();
    await stopAll();
  }
}

function pathHeadline(
  saturation: Map<PathVariant, H2loadResult>,
  atRate: Map<string, H2loadResult>,
): Headline {
  const at = (variant: PathVariant, field: "p50_ms" | "p99_ms") =>
    atRate.get(`${variant}@1000`)?.latency[field];
  const added = (variant: PathVariant, field: "p50_ms" | "p99_ms") => {
    const value = at(variant, field);
    const base = at("envoy-only", field);
    return value === undefined || base === undefined ? null : Math.round((value - base) * 1000) / 1000;
  };
  const addedP99 = added("ext_authz+ext_proc", "p99_ms");
  return {
    sat_rps_envoy: saturation.get("envoy-only")?.achieved_rps ?? null,
    sat_rps_authz: saturation.get("ext_authz")?.achieved_rps ?? null,
    sat_rps_sidecar: saturation.get("ext_authz+ext_proc")?.achieved_rps ?? null,
    sat_sidecar_vs_envoy: ratio(
      saturation.get("ext_authz+ext_proc")?.achieved_rps,
      saturation.get("envoy-only")?.achieved_rps,
    ),
    p50_ms_1000_envoy: at("envoy-only", "p50_ms") ?? null,
    p99_ms_1000_envoy: at("envoy-only", "p99_ms") ?? null,
    added_p50_ms_1000_authz: added("ext_authz", "p50_ms"),
    added_p99_ms_1000_authz: added("ext_authz", "p99_ms"),
    added_p50_ms_1000_sidecar: added("ext_authz+ext_proc", "p50_ms"),
    added_p99_ms_1000_sidecar: addedP99,
    // A negative difference means Envoy alone had the worse tail: the machine, not the sidecar.
    added_p99_target_met:
      addedP99 === null || addedP99 < 0 ? "inconclusive" : addedP99 <= PATH_TARGET_ADDED_P99_MS,
  };
}
