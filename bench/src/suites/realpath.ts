import { chmodSync, mkdirSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import type { X509SvidUpdate } from "../../../lib/src/spiffe/svid-update.js";
import { startEnvoy, type EnvoySidecar } from "../../../test/harness/envoy.js";
import { POLICY_DIR } from "../../../test/harness/policy-bundles.js";
import { freePorts, REPO_ROOT, stopAll } from "../../../test/harness/process.js";
import { registryWorkflow } from "../../../test/harness/registry-workflow.js";
import { currentProcessSelector } from "../../../test/harness/spire.js";
import {
  startTestStack,
  stubbedProviderDestinations,
  WORKLOAD_UIDS,
  type TestStack,
} from "../../../test/harness/stack.js";
import { CHAT_BODY } from "../../../test/support/chat-request.js";
import { trustDomainId } from "../../../lib/src/spiffe/spiffe-id.js";
import { PATH_VARIANTS, withoutFilters } from "../envoy-variants.js";
import { openLoop, pooledOpenLoop, type OpenLoopResult } from "../open-loop.js";
import { newestProfile, summarizeProfile } from "../cpu-profile.js";
import { Recorder, SCRATCH_DIR, type Headline, type Json, type SuiteRun } from "../results.js";
import { profileFields } from "./authz.js";
import { ratio } from "../stats.js";
import { peerIsSpiffeId } from "../../../test/support/peer-spiffe-id.js";

/**
 * The real path: agents (each its own SPIRE SVID, registered and KYA-approved through the control
 * plane) call the sidecar over mTLS; Envoy ↔ authz-server/extproc-server is mTLS; authz-server runs
 * the shipped policy with the registry from PostgreSQL. Against Envoy alone with the same mTLS
 * (the same bootstrap, SDS from the same SPIRE, filters taken out). The load generator is open loop
 * (bench/src/open-loop.ts: latency from the scheduled send) over HTTP/1.1 keep-alive connections,
 * request i from agent i mod N. Saturation: the highest rate of a rising open-loop ramp (from 100 rps,
 * ×1.3 a step) whose achieved rate kept within 10% of the offered one with no errors.
 *
 * Not yet in this path: a delegation, OpenBao key injection and usage recording (extproc-server runs
 * headers-only here); docs/benchmarks.md says so next to the figures.
 */
export const REALPATH_TARGETS = { added_p99_ms_at_500_max: 5, saturation_vs_envoy_min: 0.3 } as const;
const TD = "warden.local";
const RATES = [250, 500, 1_000] as const;
const num = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};

function agentPools(update: X509SvidUpdate, envoyId: string): Agent[] {
  return update.svids.map(
    (svid) =>
      new Agent({
        keepAlive: true,
        maxSockets: 16,
        cert: svid.certChainPem,
        key: svid.keyPem,
        ca: Object.values(update.bundlesPem),
        checkServerIdentity: peerIsSpiffeId(envoyId),
      }),
  );
}

function post(url: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json" } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(CHAT_BODY);
  });
}

export interface RealPathOptions {
  /** CPU profiles of authz-server and extproc-server over the whole run (`--profile`). */
  profile?: boolean;
}

export async function realPathSuite(options: RealPathOptions = {}): Promise<SuiteRun> {
  const agents = num("BENCH_REALPATH_AGENTS", 20);
  const rounds = num("BENCH_REALPATH_ROUNDS", 3);
  const roundS = num("BENCH_REALPATH_ROUND_S", 4);
  const recorder = new Recorder("realpath");
  Object.assign(recorder.settings, { agents, rounds, round_s: roundS, rates: [...RATES], trust_domain: TD });
  let test: TestStack | undefined;
  let envoyOnly: EnvoySidecar | undefined;
  const pools: Agent[] = [];
  const profileDir = join(SCRATCH_DIR, `realpath-profile-${Date.now()}`);
  const profileEnv = (server: string): NodeJS.ProcessEnv => {
    if (!options.profile) return {};
    // The servers run under their own uids: a folder anyone may write to.
    mkdirSync(join(profileDir, server), { recursive: true, mode: 0o777 });
    chmodSync(join(profileDir, server), 0o777);
    return {
      NODE_OPTIONS: `--import ${join(REPO_ROOT, "dist", "bench", "profile-preload.js")}`,
      BENCH_CPU_PROFILE_DIR: join(profileDir, server),
    };
  };
  try {
    test = await startTestStack({
      name: "bench-realpath",
      trustDomain: TD,
      dataPlane: {
        policyDir: POLICY_DIR,
        authzEnv: profileEnv("authz-server"),
        extprocEnv: profileEnv("extproc-server"),
      },
    });
    const { spire, stack, oidc, controlPlane } = test;
    const identities = stack.identities!;
    const [creator, reviewer] = await Promise.all([
      oidc.token({ sub: "carl-creator", roles: ["creator"] }),
      oidc.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
    ]);
    const workflow = registryWorkflow(controlPlane, { creator, reviewer });
    for (let i = 0; i < agents; i++) {
      const name = `realpath-bot-${i}`;
      await spire.register(`spiffe://${TD}/agent/${name}`, [currentProcessSelector()]);
      await workflow.approve(await workflow.submit(await workflow.register(name)));
    }
    const workload = spire.workloadClient();
    const watcher = workload.watchX509Svids({ retryMaxMs: 250 });
    const update = await watcher.waitForUpdate((u) => u.svids.length >= agents, 60_000);
    watcher.close();
    workload.close();
    pools.push(...agentPools(update, identities.envoy));

    const [agentPort, adminPort] = (await freePorts(2)) as [number, number];
    envoyOnly = await startEnvoy(
      `bench-realpath-envoy-only-${agentPort}`,
      {
        agentListener: { port: agentPort },
        admin: { port: adminPort },
        authz: { address: "127.0.0.1", port: stack.authz.port },
        extproc: { address: "127.0.0.1", port: stack.extproc.port },
        destinations: stubbedProviderDestinations(stack.upstream),
        downstreamTls: {
          spireAgentSocket: spire.workloadSocketPath,
          svidName: identities.envoy,
          trustBundleName: trustDomainId(identities.trustDomain),
        },
        serverIdentities: { authz: identities.authz, extproc: identities.extproc },
      },
      { transform: withoutFilters(PATH_VARIANTS["envoy-only"]), uid: WORKLOAD_UIDS.envoy },
    );
    const systems: [string, string][] = [
      ["sidecar", `${stack.agentUrl}/openai/v1/chat/completions`],
      ["envoy-only", `https://127.0.0.1:${agentPort}/openai/v1/chat/completions`],
    ];
    const statuses = new Map<string, Record<string, number>>();
    const sender = (system: string, url: string) => (i: number) =>
      post(url, pools[i % pools.length]!).then((status) => {
        const s = statuses.get(system) ?? {};
        s[status] = (s[status] ?? 0) + 1;
        statuses.set(system, s);
        if (status !== 200) throw new Error(`status ${status}`);
      });
    for (const [system, url] of systems) {
      const first = await post(url, pools[0]!);
      if (first !== 200) throw new Error(`${system}: the first request was answered ${first}, expected 200`);
      await openLoop({ rate: 200, durationS: 3, send: sender(system, url) });
    }

    const atRate = new Map<string, OpenLoopResult>();
    for (const rate of RATES) {
      const runs = new Map<string, OpenLoopResult[]>();
      for (let round = 0; round < rounds; round++)
        for (const [system, url] of systems)
          runs.set(system, [
            ...(runs.get(system) ?? []),
            await openLoop({ rate, durationS: roundS, send: sender(system, url) }),
          ]);
      for (const [system] of systems) {
        const pooled = pooledOpenLoop(runs.get(system) ?? []);
        atRate.set(`${system}@${rate}`, pooled);
        const { samples: _samples, ...fields } = pooled;
        recorder.record(system, { mode: "rate", ...(fields as unknown as Record<string, Json>) });
      }
    }
    // Saturation: a rising ramp, each step open loop; the last step each system kept up with.
    const saturation = new Map<string, number>();
    for (const [system, url] of systems) {
      let kept = 0;
      for (let rate = 100; rate <= 20_000; rate = Math.round(rate * 1.3)) {
        const r = await openLoop({ rate, durationS: 3, send: sender(system, url), drainMs: 3_000 });
        recorder.record(system, {
          mode: "ramp",
          target_rps: rate,
          achieved_rps: r.achieved_rps,
          errors: r.errors,
        });
        if (r.errors > 0 || r.achieved_rps < rate * 0.9) break;
        kept = rate;
      }
      saturation.set(system, kept);
      recorder.record(system, {
        mode: "saturation",
        achieved_rps: kept,
        statuses: statuses.get(system) ?? {},
      });
    }

    const added = (rate: number, key: "p50_ms" | "p99_ms" | "p999_ms"): number | null => {
      const a = atRate.get(`sidecar@${rate}`)?.latency[key];
      const b = atRate.get(`envoy-only@${rate}`)?.latency[key];
      return a === undefined || b === undefined ? null : Math.round((a - b) * 1000) / 1000;
    };
    const headline: Headline = {};
    for (const rate of RATES)
      for (const key of ["p50_ms", "p99_ms", "p999_ms"] as const)
        headline[`added_${key}_${rate}`] = added(rate, key);
    const added500 = added(500, "p99_ms");
    const satRatio = ratio(saturation.get("sidecar"), saturation.get("envoy-only"));
    headline.sat_rps_sidecar = saturation.get("sidecar") ?? null;
    headline.sat_rps_envoy = saturation.get("envoy-only") ?? null;
    headline.sat_vs_envoy = satRatio;
    headline.added_p99_500_target_met =
      added500 === null || added500 < 0
        ? "inconclusive"
        : added500 <= REALPATH_TARGETS.added_p99_ms_at_500_max;
    headline.sat_target_met = satRatio !== null && satRatio >= REALPATH_TARGETS.saturation_vs_envoy_min;
    for (const pool of pools) pool.destroy();
    await envoyOnly.stop();
    await test.stop();
    if (options.profile)
      for (const server of ["authz-server", "extproc-server"]) {
        const summary = summarizeProfile(newestProfile(join(profileDir, server)), 15);
        recorder.record(server, { mode: "cpu-profile", ...profileFields(summary) });
      }
    return await recorder.finish(headline);
  } finally {
    for (const pool of pools) pool.destroy();
    await envoyOnly?.stop();
    await test?.stop();
    await stopAll();
  }
}
