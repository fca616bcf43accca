import { performance } from "node:perf_hooks";
import { SvidHttpsClient } from "../../../test/agents/svid-https-client.js";
import {
  dataPlaneLogin,
  startControlPlaneProcess,
  type ControlPlaneProcess,
} from "../../../test/harness/control-plane.js";
import { POLICY_DIR } from "../../../test/harness/policy-bundles.js";
import { startPostgres, type PostgresCluster } from "../../../test/harness/postgres.js";
import { sleep, stopAll, waitFor } from "../../../test/harness/process.js";
import { currentProcessSelector, startSpire, type SpireStack } from "../../../test/harness/spire.js";
import { startStack, type Stack } from "../../../test/harness/stack.js";
import { startVault, type VaultDev } from "../../../test/harness/vault.js";
import { StubOidcIssuer } from "../../../test/stubs/oidc-issuer.js";
import { Recorder, type SuiteRun } from "../results.js";
import { summarize } from "../stats.js";

/**
 * Time from a reviewer's revocation API call to the agent's first refused request, every part real:
 * the control plane (its own process, PostgreSQL, attestations signed by OpenBao transit), the
 * data-plane feed (LISTEN/NOTIFY as the read-only login, attestations verified against the JWKS),
 * and the agent calling through Envoy with its SPIRE SVID over mTLS, polling every few
 * milliseconds as a busy agent would. The same set-up as test/integration/registry-envoy-e2e.test.ts.
 */
export const REVOCATION_TARGET_P99_MS = 1_000;
const TD = "warden.local";
const AGENT = "revocation-bench-bot";
const AGENT_ID = `spiffe://${TD}/agent/${AGENT}`;
const TRIALS = Number(process.env.BENCH_REVOCATION_TRIALS ?? 100);
const POLL_PAUSE_MS = 2;
const CHAT_BODY = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
const EVIDENCE = {
  image_digest: `sha256:${"d".repeat(64)}`,
  endpoints: ["https://api.openai.com/v1/chat/completions"],
  security_checklist: {
    no_embedded_credentials: true,
    dependencies_scanned: true,
    least_privilege_scopes: true,
    audit_logging: true,
    data_retention_policy: true,
  },
};

interface Entry {
  id: string;
}

async function expectStatus<T>(
  what: string,
  call: Promise<{ status: number; body: T; text: string }>,
  status: number,
) {
  const response = await call;
  if (response.status !== status) throw new Error(`${what}: ${response.status} ${response.text}`);
  return response.body;
}

export async function revocationSuite(): Promise<SuiteRun> {
  const recorder = new Recorder("revocation");
  Object.assign(recorder.settings, {
    trials: TRIALS,
    poll_pause_ms: POLL_PAUSE_MS,
    path: "agent → Envoy (mTLS) → authz-server",
  });
  let cluster: PostgresCluster | undefined;
  let vault: VaultDev | undefined;
  let oidc: StubOidcIssuer | undefined;
  let spire: SpireStack | undefined;
  let controlPlane: ControlPlaneProcess | undefined;
  let stack: Stack | undefined;
  let agentClient: SvidHttpsClient | undefined;
  const closers: (() => void)[] = [];
  try {
    [cluster, vault, oidc, spire] = await Promise.all([
      startPostgres(),
      startVault(),
      StubOidcIssuer.start(),
      startSpire({ name: "bench-revocation-spire", trustDomain: TD, logLevel: "INFO" }),
    ]);
    const databaseUrl = await cluster.createDatabase();
    controlPlane = await startControlPlaneProcess({
      name: "bench-revocation-control-plane",
      databaseUrl,
      oidcIssuer: oidc.issuer,
      vault,
    });
    const [creator, reviewer] = await Promise.all([
      oidc.token({ sub: "carl-creator", roles: ["creator"] }),
      oidc.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
    ]);
    await spire.register(AGENT_ID, [currentProcessSelector()]);
    stack = await startStack({
      name: "bench-revocation",
      spire,
      policyDir: POLICY_DIR,
      authzEnv: {
        WARDEN_REGISTRY_FILE: "",
        DATABASE_URL: await dataPlaneLogin(cluster, databaseUrl),
        WARDEN_JWKS_URL: `${controlPlane.url}/.well-known/jwks.json`,
        WARDEN_ATTESTATION_ISSUER: `spiffe://${TD}/warden/control-plane`,
      },
    });
    const workload = spire.workloadClient();
    const watcher = workload.watchX509Svids({ retryMaxMs: 250 });
    closers.push(
      () => watcher.close(),
      () => workload.close(),
    );
    const client = new SvidHttpsClient(watcher, stack.identities!.envoy);
    agentClient = client;
    await client.ready();
    const cp = controlPlane;
    const agentUrl = stack.agentUrl;

    const call = async (): Promise<number> =>
      (
        await client.request(`${agentUrl}/openai/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: CHAT_BODY,
          timeoutMs: 5_000,
        })
      ).status;
    const agent = await expectStatus<Entry>(
      "register",
      cp.call<Entry>("POST", "/v1/agents", {
        token: creator,
        body: {
          name: AGENT,
          tenant: "acme",
          team: "research",
          type: "assistant",
          environment: "production",
          capabilities: ["llm:chat"],
        },
      }),
      201,
    );
    const approve = async (): Promise<Entry> => {
      const submitted = await expectStatus<Entry>(
        "submit",
        cp.call<Entry>("POST", "/v1/attestations", {
          token: creator,
          body: { agent_id: agent.id, evidence: EVIDENCE },
        }),
        201,
      );
      return expectStatus<Entry>(
        "approve",
        cp.call<Entry>("POST", `/v1/attestations/${submitted.id}/approve`, {
          token: reviewer,
          body: { level: 2, verified_capabilities: ["llm:chat"] },
        }),
        200,
      );
    };

    const delays: number[] = [];
    const polls: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const attestation = await approve();
      await waitFor(`trial ${trial}: allowed`, async () => (await call()) === 200, 10_000);
      await expectStatus(
        "revoke",
        cp.call("POST", `/v1/attestations/${attestation.id}/revoke`, {
          token: reviewer,
          body: { reason: "bench" },
        }),
        200,
      );
      const revokedAt = performance.now();
      let count = 0;
      for (;;) {
        const status = await call();
        count += 1;
        if (status !== 200) {
          if (status !== 403)
            throw new Error(`trial ${trial}: refused with ${status}, expected 403 kya_revoked`);
          break;
        }
        if (performance.now() - revokedAt > 5_000) throw new Error(`trial ${trial}: not enforced within 5 s`);
        await sleep(POLL_PAUSE_MS);
      }
      delays.push(performance.now() - revokedAt);
      polls.push(count);
    }
    const latency = summarize(delays);
    recorder.record("warden", {
      mode: "revocation-to-denial",
      trials: TRIALS,
      latency: { ...latency },
      max_polls: Math.max(...polls),
    });
    return recorder.finish({
      trials: TRIALS,
      revocation_p50_ms: latency.p50_ms,
      revocation_p99_ms: latency.p99_ms,
      revocation_max_ms: latency.max_ms,
      revocation_target_met: latency.p99_ms < REVOCATION_TARGET_P99_MS,
    });
  } finally {
    agentClient?.close();
    for (const close of closers) close();
    await stack?.stop();
    await controlPlane?.stop();
    await spire?.stop();
    await vault?.stop();
    await oidc?.close();
    await cluster?.destroy();
    await stopAll();
  }
}
