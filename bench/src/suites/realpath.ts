import { chmodSync, chownSync, mkdirSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import type { X509SvidUpdate } from "../../../lib/src/spiffe/svid-update.js";
import { extprocLogin } from "../../../test/harness/control-plane.js";
import { startEnvoy, type EnvoySidecar } from "../../../test/harness/envoy.js";
import { POLICY_DIR } from "../../../test/harness/policy-bundles.js";
import { freePorts, REPO_ROOT, stopAll } from "../../../test/harness/process.js";
import { currentProcessSelector } from "../../../test/harness/spire.js";
import {
  destinationsWithServiceAt,
  startTestStack,
  WORKLOAD_UIDS,
  type TestStack,
} from "../../../test/harness/stack.js";
import { EXTPROC_SPIFFE_ID, startVaultTls, type VaultTls } from "../../../test/harness/vault-tls.js";
import { grant, registerAgent } from "../../../test/integration/delegation-fixture.js";
import { startOpenAiStub } from "../../../test/stubs/llm-openai.js";
import type { LlmStub } from "../../../test/stubs/llm-stub-server.js";
import { CHAT_BODY } from "../../../test/support/chat-request.js";
import { trustDomainId } from "../../../lib/src/spiffe/spiffe-id.js";
import { PATH_VARIANTS, withoutFilters } from "../envoy-variants.js";
import { openLoop, pooledOpenLoop, type OpenLoopResult } from "../open-loop.js";
import { histogramSnapshot, windowQuantiles } from "../envoy-histograms.js";
import { newestProfile, summarizeProfile } from "../cpu-profile.js";
import { Recorder, SCRATCH_DIR, type Headline, type Json, type SuiteRun } from "../results.js";
import { profileFields } from "./authz.js";
import { ratio } from "../stats.js";
import { peerIsSpiffeId } from "../../../test/support/peer-spiffe-id.js";
import { extprocVaultLogin } from "../../../test/support/extproc-vault-login.js";

/**
 * The real path, end to end: agents (each its own SPIRE SVID, registered and KYA-approved through the
 * control plane) call the sidecar's OpenAI route over mTLS, each carrying a user's delegation (granted
 * through the control plane, signed with OpenBao transit, bound to that agent). Envoy ↔
 * authz-server/extproc-server is mTLS; authz-server runs the shipped policy with the registry from
 * PostgreSQL and verifies the delegation; extproc-server injects the tenant's key read from OpenBao
 * (TLS cert auth, its own role and policy), reads the answer's usage and writes one usage row and
 * its audit event per call to PostgreSQL. The provider is the OpenAI stub, which refuses any key but
 * the OpenBao-held one. Against Envoy alone with the same mTLS (the same bootstrap, SDS from the same
 * SPIRE, filters taken out, the same stub): there the agent sends the key itself.
 *
 * The load generator is open loop (bench/src/open-loop.ts: latency from the scheduled send) over
 * HTTP/1.1 keep-alive connections, request i from agent i mod N. Saturation: the highest rate of a
 * rising open-loop ramp (from 100 rps, ×1.3 a step) whose achieved rate kept within 10% of the
 * offered one with no errors. Where the time goes: Envoy's own histograms over the sidecar's 500 rps
 * rounds (Check round trip, the ext_proc stream, the upstream) and, with `--profile`, CPU profiles.
 */
export const REALPATH_TARGETS = { added_p99_ms_at_500_max: 5, saturation_vs_envoy_min: 0.3 } as const;
const TD = "warden.local";
const RATES = [250, 500, 1_000] as const;
/** The tenant's key in OpenBao; the stub accepts only it. */
const PROVIDER_KEY = "sk-bench-realpath-openbao-held";
const TIMINGS = "cluster\\.[^.]+\\.upstream_rq_time|http\\.agent\\.downstream_rq_time";
const num = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};

function agentPools(update: X509SvidUpdate, envoyId: string): { spiffeId: string; agent: Agent }[] {
  return update.svids.map((svid) => ({
    spiffeId: svid.spiffeId,
    agent: new Agent({
      keepAlive: true,
      maxSockets: 16,
      cert: svid.certChainPem,
      key: svid.keyPem,
      ca: Object.values(update.bundlesPem),
      checkServerIdentity: peerIsSpiffeId(envoyId),
    }),
  }));
}

/** OpenBao with TLS as `warden up` runs it: extproc's cert auth role (vault/extproc.hcl) and the key. */
async function keyStore(): Promise<{ vault: VaultTls; env: NodeJS.ProcessEnv }> {
  const vault = await startVaultTls("bench-realpath");
  try {
    const login = await vault.addCertRole("extproc", EXTPROC_SPIFFE_ID, ["extproc.hcl"]);
    await vault.putLlmKey("acme", "openai", PROVIDER_KEY);
    // extproc-server runs under its own uid: it reads its login key and writes its usage spool.
    chownSync(login.keyFile, WORKLOAD_UIDS.extproc, -1);
    for (const file of [login.certFile, vault.caFile]) chmodSync(file, 0o644);
    const spool = join(vault.dir, "usage-spool");
    mkdirSync(spool, { recursive: true });
    chownSync(spool, WORKLOAD_UIDS.extproc, -1);
    return {
      vault,
      env: {
        ...extprocVaultLogin(vault, login),
        WARDEN_USAGE_SPOOL: join(spool, "usage.ndjson"),
      },
    };
  } catch (error) {
    await vault.stop();
    throw error;
  }
}

/** One agent: its mTLS pool and what it sends besides (its delegation, or on Envoy alone its key). */
interface Caller {
  agent: Agent;
  headers: Record<string, string>;
}

function post(url: string, caller: Caller): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent: caller.agent,
        headers: { "content-type": "application/json", ...caller.headers },
      },
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
  Object.assign(recorder.settings, {
    agents,
    rounds,
    round_s: roundS,
    rates: [...RATES],
    trust_domain: TD,
    path: "mTLS SVIDs, shipped policy + registry + KYA + delegation, OpenBao key injection, usage rows",
  });
  let test: TestStack | undefined;
  let keys: { vault: VaultTls; env: NodeJS.ProcessEnv } | undefined;
  let provider: LlmStub | undefined;
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
  const destroyPools = () => {
    for (const pool of pools.splice(0)) pool.destroy();
  };
  try {
    keys = await keyStore();
    provider = await startOpenAiStub({ validKeys: () => [PROVIDER_KEY] });
    const destinations = destinationsWithServiceAt("openai", provider.port);
    test = await startTestStack({
      name: "bench-realpath",
      trustDomain: TD,
      dataPlane: {
        policyDir: POLICY_DIR,
        destinations,
        authzEnv: profileEnv("authz-server"),
        extprocEnv: { ...keys.env, ...profileEnv("extproc-server") },
      },
      // Usage rows and their audit events, as extproc-server's own role (migration 005).
      extprocStore: async ({ cluster, databaseUrl }) => ({
        DATABASE_URL: await extprocLogin(cluster, databaseUrl),
      }),
    });
    const { spire, stack, oidc, controlPlane, cluster, databaseUrl } = test;
    const identities = stack.identities!;
    const [creator, reviewer, user] = await Promise.all([
      oidc.token({ sub: "carl-creator", roles: ["creator"] }),
      oidc.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
      oidc.token({ sub: "ursula", roles: ["user"], tenant: "acme" }),
    ]);
    // Each agent: registered, KYA-approved, and acting for a user. The shipped scope catalogue has
    // no LLM scopes (a delegation needs one), so the grant is the assistant's usual one: read the
    // user's Drive and call OpenAI for them; the policy checks its destinations on this route.
    const delegations = new Map<string, string>();
    for (let i = 0; i < agents; i++) {
      const name = `realpath-bot-${i}`;
      await spire.register(`spiffe://${TD}/agent/${name}`, [currentProcessSelector()]);
      const entry = await registerAgent(controlPlane, creator, reviewer, {
        name,
        capabilities: ["llm:chat", "google-drive:read"],
        verified: ["llm:chat", "google-drive:read"],
      });
      const granted = await grant(controlPlane, user, {
        agent_id: entry.id,
        scopes: ["google-drive:read"],
        destinations: ["openai", "google-drive"],
      });
      delegations.set(entry.spiffe_id, granted.token);
    }
    const workload = spire.workloadClient();
    const watcher = workload.watchX509Svids({ retryMaxMs: 250 });
    const update = await watcher.waitForUpdate((u) => u.svids.length >= agents, 60_000);
    watcher.close();
    workload.close();
    const held = agentPools(update, identities.envoy).filter((p) => delegations.has(p.spiffeId));
    pools.push(...held.map((p) => p.agent));
    const callers: Record<string, Caller[]> = {
      // The agent holds no provider key: its delegation, nothing else.
      sidecar: held.map((p) => ({
        agent: p.agent,
        headers: { "x-warden-delegation": delegations.get(p.spiffeId)! },
      })),
      // Without the sidecar the agent has to hold the key itself.
      "envoy-only": held.map((p) => ({
        agent: p.agent,
        headers: { authorization: `Bearer ${PROVIDER_KEY}` },
      })),
    };

    const [agentPort, adminPort] = (await freePorts(2)) as [number, number];
    envoyOnly = await startEnvoy(
      `bench-realpath-envoy-only-${agentPort}`,
      {
        agentListener: { port: agentPort },
        admin: { port: adminPort },
        authz: { address: "127.0.0.1", port: stack.authz.port },
        extproc: { address: "127.0.0.1", port: stack.extproc.port },
        destinations: destinations(stack.upstream),
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
    const sender = (system: string, url: string) => {
      const own = callers[system]!;
      return (i: number) =>
        post(url, own[i % own.length]!).then((status) => {
          const s = statuses.get(system) ?? {};
          s[status] = (s[status] ?? 0) + 1;
          statuses.set(system, s);
          if (status !== 200) throw new Error(`status ${status}`);
        });
    };
    // The path is what it claims: a forged delegation is refused, the agent's own calls succeed
    // only because extproc-server put the OpenBao-held key in (the stub refuses any other).
    const forged = await post(systems[0]![1], {
      agent: callers.sidecar![0]!.agent,
      headers: { "x-warden-delegation": `${delegations.values().next().value!.slice(0, -4)}AAAA` },
    });
    if (forged !== 403) throw new Error(`a forged delegation was answered ${forged}, expected 403`);
    for (const [system, url] of systems) {
      const first = await post(url, callers[system]![0]!);
      if (first !== 200) throw new Error(`${system}: the first request was answered ${first}, expected 200`);
      await openLoop({ rate: 200, durationS: 3, send: sender(system, url) });
      provider.reset();
    }
    const usageRows = async (): Promise<{ rows: number; delegated: number }> => {
      const [row] = await cluster.sql<{ rows: string; delegated: string }>(
        "SELECT count(*) AS rows, count(delegation_id) AS delegated FROM llm_usage",
        [],
        new URL(databaseUrl).pathname.slice(1),
      );
      return { rows: Number(row?.rows ?? 0), delegated: Number(row?.delegated ?? 0) };
    };

    const atRate = new Map<string, OpenLoopResult>();
    for (const rate of RATES) {
      const runs = new Map<string, OpenLoopResult[]>();
      // Envoy merges its histograms on its 5 s stats flush: a snapshot waits for one.
      const flushed = async () => {
        await new Promise((resolve) => setTimeout(resolve, 5_500));
        return histogramSnapshot(stack.envoy.adminUrl, TIMINGS);
      };
      const before = rate === 500 ? await flushed() : null;
      for (let round = 0; round < rounds; round++)
        for (const [system, url] of systems) {
          runs.set(system, [
            ...(runs.get(system) ?? []),
            await openLoop({ rate, durationS: roundS, send: sender(system, url) }),
          ]);
          provider.reset();
        }
      if (before) {
        const window = windowQuantiles(before, await flushed());
        for (const [histogram, q] of Object.entries(window))
          if (q.count > 0)
            recorder.record("sidecar", { mode: "envoy-timing", target_rps: rate, histogram, ...q });
      }
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
        provider.reset();
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
    // Every answered sidecar call left its usage row (written after the answer, off the path).
    const answered = statuses.get("sidecar")?.["200"] ?? 0;
    let usage = await usageRows();
    for (let wait = 0; wait < 30 && usage.rows < answered; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      usage = await usageRows();
    }
    recorder.record("sidecar", {
      mode: "usage",
      answered_200: answered,
      usage_rows: usage.rows,
      delegated_rows: usage.delegated,
    });

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
    headline.usage_rows_vs_answered = ratio(usage.rows, answered);
    headline.added_p99_500_target_met =
      added500 === null || added500 < 0
        ? "inconclusive"
        : added500 <= REALPATH_TARGETS.added_p99_ms_at_500_max;
    headline.sat_target_met = satRatio !== null && satRatio >= REALPATH_TARGETS.saturation_vs_envoy_min;
    destroyPools();
    await envoyOnly.stop();
    await test.stop();
    if (options.profile)
      for (const server of ["authz-server", "extproc-server"]) {
        const summary = summarizeProfile(newestProfile(join(profileDir, server)), 15);
        recorder.record(server, { mode: "cpu-profile", ...profileFields(summary) });
      }
    return await recorder.finish(headline);
  } finally {
    destroyPools();
    await envoyOnly?.stop();
    await test?.stop();
    await provider?.close();
    await keys?.vault.stop();
    await stopAll();
  }
}
