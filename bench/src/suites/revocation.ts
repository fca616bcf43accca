import { SvidHttpsClient } from "../../../test/agents/svid-https-client.js";
import {
  dataPlaneLogin,
  startControlPlaneProcess,
  type ControlPlaneProcess,
} from "../../../test/harness/control-plane.js";
import { POLICY_DIR } from "../../../test/harness/policy-bundles.js";
import { registryWorkflow } from "../../../test/harness/registry-workflow.js";
import { startPostgres, type PostgresCluster } from "../../../test/harness/postgres.js";
import { stopAll, waitFor } from "../../../test/harness/process.js";
import { currentProcessSelector, startSpire, type SpireStack } from "../../../test/harness/spire.js";
import { startStack, type Stack } from "../../../test/harness/stack.js";
import { startVault, type VaultDev } from "../../../test/harness/vault.js";
import { StubOidcIssuer } from "../../../test/stubs/oidc-issuer.js";
import { pollUntilRefused } from "../../../test/support/poll-until-refused.js";
import { Recorder, type SuiteRun } from "../results.js";
import { summarize } from "../stats.js";
import { CHAT_BODY } from "../../../test/support/chat-request.js";

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
    const workflow = registryWorkflow(cp, { creator, reviewer });
    const agent = await workflow.register(AGENT);

    const delays: number[] = [];
    const polls: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const attestation = await workflow.approve(await workflow.submit(agent));
      await waitFor(`trial ${trial}: allowed`, async () => (await call()) === 200, 10_000);
      await workflow.revoke(attestation);
      const refused = await pollUntilRefused(`trial ${trial}`, call, (status) => status === 200, {
        pauseMs: POLL_PAUSE_MS,
        limitMs: 5_000,
      });
      if (refused.refusal !== 403)
        throw new Error(`trial ${trial}: refused with ${refused.refusal}, expected 403 kya_revoked`);
      delays.push(refused.delayMs);
      polls.push(refused.polls);
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
