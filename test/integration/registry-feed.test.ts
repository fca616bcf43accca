import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { realisticCheckRequestObject } from "../../bench/fixtures/check-request.js";
import { dataPlaneLogin } from "../harness/control-plane.js";
import { buildBundle, removeDir, signingKeys, tempDir } from "../harness/policy-bundles.js";
import {
  freePorts,
  sleep,
  startProcess,
  stopAll,
  waitFor,
  REPO_ROOT,
  type ManagedProcess,
  TEARDOWN_TIMEOUT_MS,
} from "../harness/process.js";
import { ensureServersBuilt } from "../harness/stack.js";
import { registryWorkflow, type RegistryWorkflow } from "../harness/registry-workflow.js";
import { latencySummary, percentile, PUSH_PATH_BOUND_MS } from "../harness/stats.js";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";
import { checkClient, type CheckClient } from "../support/check-client.js";
import { pollUntilRefused } from "../support/poll-until-refused.js";

/**
 * The data-plane feed end to end: the control plane (real PostgreSQL, real OpenBao signing the
 * attestations) changes the registry through its API, and the real authz-server process, fed by
 * LISTEN/NOTIFY with attestations verified against the published JWKS, decides accordingly. Checks
 * are asked over gRPC as Envoy asks them, with the agent's SPIFFE ID as `source.principal`.
 * authz-server connects as a login role in the read-only `warden_dataplane` (migration 004), as in
 * production, not as the superuser.
 */
const TRIALS = 100;
const BULK_AGENTS = 10_000;
const SMALL_REGISTRY = 10;
const LATENCY_SAMPLES = 1_000;

interface Verdict {
  allowed: boolean;
  reason: string;
}

interface RegistryStatus {
  source: string;
  agents: number;
  loaded: boolean;
  last_full_sync_ms: number | null;
  unverified_attestations: number;
}

interface AuthzUnderTest {
  process: ManagedProcess;
  client: CheckClient;
  registry(): Promise<RegistryStatus>;
  rssKb(): number;
  stop(): Promise<void>;
}

let f: ControlPlaneFixture;
let workflow: RegistryWorkflow;
let work: string;
let bundlePath: string;
let bundleKeyFile: string;
let dataPlaneUrl: string;
let authz: AuthzUnderTest;
const figures: Record<string, unknown> = {};

// ---------- asking authz-server, as Envoy does ----------

function check(client: CheckClient, agentName: string): Promise<Verdict> {
  return new Promise((resolve, reject) => {
    client.check(
      realisticCheckRequestObject(agentName),
      { deadline: Date.now() + 2_000 },
      (error, response) => {
        if (error || !response) return reject(error ?? new Error("no response"));
        if (response.status?.code === 0) return resolve({ allowed: true, reason: "" });
        const body = JSON.parse(response.deniedResponse?.body ?? "{}") as { error?: { code?: string } };
        resolve({ allowed: false, reason: body.error?.code ?? "" });
      },
    );
  });
}

const ALLOWED: Verdict = { allowed: true, reason: "" };
const refused = (reason: string): Verdict => ({ allowed: false, reason });

async function verdictBecomes(agentName: string, wanted: (v: Verdict) => boolean): Promise<Verdict> {
  let last: Verdict = { allowed: false, reason: "" };
  await waitFor(
    `${agentName}'s verdict to change`,
    async () => wanted((last = await check(authz.client, agentName))),
    5_000,
  );
  return last;
}

async function startAuthz(name: string): Promise<AuthzUnderTest> {
  const [grpcPort, statusPort] = (await freePorts(2)) as [number, number];
  const managed = startProcess({
    name: `${name}-${process.pid}`,
    command: process.execPath,
    args: [join(REPO_ROOT, "dist", "authz-server", "src", "main.js")],
    env: {
      NODE_ENV: "test",
      WARDEN_AUTHZ_LISTEN: `127.0.0.1:${grpcPort}`,
      WARDEN_AUTHZ_STATUS_LISTEN: `127.0.0.1:${statusPort}`,
      WARDEN_POLICY_BUNDLE: bundlePath,
      WARDEN_POLICY_PUBLIC_KEY: bundleKeyFile,
      WARDEN_REGISTRY_FILE: "",
      DATABASE_URL: dataPlaneUrl,
      WARDEN_JWKS_URL: `${f.url}/.well-known/jwks.json`,
      WARDEN_LOG_LEVEL: "info",
      SPIFFE_ENDPOINT_SOCKET: "",
      WARDEN_SPIFFE_SOCKET: "",
    },
  });
  await managed.waitForLog(/authz-server listening/);
  const statusUrl = `http://127.0.0.1:${statusPort}`;
  await waitFor(`${name} ready`, async () => (await fetch(`${statusUrl}/readyz`)).ok);
  const client = checkClient(`127.0.0.1:${grpcPort}`);
  return {
    process: managed,
    client,
    registry: async () =>
      ((await (await fetch(`${statusUrl}/status`)).json()) as { registry: RegistryStatus }).registry,
    rssKb: () => {
      const status = readFileSync(`/proc/${managed.pid}/status`, "utf8");
      return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
    },
    async stop() {
      client.close();
      await managed.stop();
    },
  };
}

// ---------- the control plane, as its users call it ----------

async function checkLatencyP50(client: CheckClient, agentName: string): Promise<number> {
  for (let i = 0; i < 200; i += 1) await check(client, agentName);
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i += 1) {
    const started = performance.now();
    await check(client, agentName);
    samples.push(performance.now() - started);
  }
  return percentile(
    samples.sort((a, b) => a - b),
    50,
  );
}

beforeAll(async () => {
  ensureServersBuilt();
  work = tempDir("registry-feed");
  const keys = signingKeys(work);
  bundleKeyFile = join(work, "bundle-verification.pem");
  writeFileSync(bundleKeyFile, keys.publicKeyPem);
  bundlePath = join(work, "bundle.tar.gz");
  buildBundle({ out: bundlePath, revision: "registry-feed", signingKey: keys.privateKeyFile });
  f = await startControlPlaneFixture({ vault: true });
  const [creator, reviewer] = await Promise.all([
    f.token({ sub: "carl-creator", roles: ["creator"] }),
    f.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
  ]);
  workflow = registryWorkflow(f, { creator, reviewer });
  dataPlaneUrl = await dataPlaneLogin(f.cluster!, f.databaseUrl!);
  authz = await startAuthz("authz-registry-feed");
}, 180_000);

afterAll(async () => {
  await authz?.stop();
  await stopAll();
  await f?.close();
  if (work) removeDir(work);
  process.stdout.write(`registry feed figures: ${JSON.stringify(figures, null, 2)}\n`);
}, TEARDOWN_TIMEOUT_MS);

describe("the registry reaches the data plane", () => {
  test("register → KYA approved → allowed; attestation revoked → kya_revoked; agent suspended → agent_suspended", async () => {
    // The feed's LISTEN connection is authz-server's, as the read-only data-plane login.
    const listeners = await f.cluster!.sql<{ usename: string }>(
      "SELECT usename FROM pg_stat_activity WHERE query = 'LISTEN \"warden_registry\"'",
    );
    expect(listeners).toEqual([{ usename: "warden_authz" }]);
    const agent = await workflow.register("feed-bot");
    expect(await verdictBecomes("feed-bot", (v) => v.reason === "kya_missing")).toEqual(
      refused("kya_missing"),
    );

    const attestation = await workflow.approve(await workflow.submit(agent));
    expect(await verdictBecomes("feed-bot", (v) => v.allowed)).toEqual(ALLOWED);

    await workflow.revoke(attestation);
    expect(await verdictBecomes("feed-bot", (v) => !v.allowed)).toEqual(refused("kya_revoked"));

    await workflow.approve(await workflow.submit(agent));
    await verdictBecomes("feed-bot", (v) => v.allowed);
    await workflow.setStatus(agent, "suspended");
    expect(await verdictBecomes("feed-bot", (v) => !v.allowed)).toEqual(refused("agent_suspended"));
    await workflow.setStatus(agent, "active");
    expect(await verdictBecomes("feed-bot", (v) => v.allowed)).toEqual(ALLOWED);
  }, 60_000);

  test("a suspended tenant's agents are refused (tenant_suspended) until it is resumed", async () => {
    await workflow.approve(await workflow.submit(await workflow.register("tenant-bot")));
    expect(await verdictBecomes("tenant-bot", (v) => v.allowed)).toEqual(ALLOWED);
    const platform = await f.token({ sub: "pat-platform", roles: ["platform_admin"] });
    expect((await f.call("POST", "/v1/tenants", { token: platform, body: { id: "acme" } })).status).toBe(201);
    const suspended = await f.call("POST", "/v1/tenants/acme/suspend", {
      token: platform,
      body: { reason: "contract ended" },
    });
    expect(suspended.status).toBe(200);
    expect(await verdictBecomes("tenant-bot", (v) => !v.allowed)).toEqual(refused("tenant_suspended"));
    // Each refusal is an audited decision of the tenant, with its reason.
    await waitFor("the tenant_suspended refusal in the audit log", async () => {
      const rows = await f.cluster!.sql(
        "SELECT 1 FROM audit_events WHERE tenant = 'acme' AND decision = 'deny' AND reason = 'tenant_suspended'",
        [],
        new URL(f.databaseUrl!).pathname.slice(1),
      );
      return rows.length > 0;
    });
    expect((await f.call("POST", "/v1/tenants/acme/resume", { token: platform })).status).toBe(200);
    expect(await verdictBecomes("tenant-bot", (v) => v.allowed)).toEqual(ALLOWED);
  }, 60_000);

  test("an approved attestation whose signature does not verify counts as none, and is logged", async () => {
    const agent = await workflow.register("forged-bot");
    const attestation = await workflow.approve(await workflow.submit(agent));
    await verdictBecomes("forged-bot", (v) => v.allowed);
    // Someone with write access to the database upgrades the claims but cannot re-sign them.
    const [header, payload, signature] = attestation.jws!.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { kya: { level: number } };
    claims.kya.level = 3;
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${signature}`;
    await f.cluster!.sql(
      "UPDATE kya_attestations SET jws = $1 WHERE id = $2",
      [forged, attestation.id],
      new URL(f.databaseUrl!).pathname.slice(1),
    );
    await f.cluster!.sql(
      "SELECT pg_notify('warden_registry', $1)",
      [JSON.stringify({ v: 1, entity: "attestation", op: "upsert", id: attestation.id, agent_id: agent.id })],
      new URL(f.databaseUrl!).pathname.slice(1),
    );
    expect(await verdictBecomes("forged-bot", (v) => !v.allowed)).toEqual(refused("kya_missing"));
    expect(authz.process.log()).toMatch(
      new RegExp(`"attestation_id":"${attestation.id}".*ERR_JWS_SIGNATURE_VERIFICATION_FAILED`),
    );
  }, 60_000);

  test("a change whose notification was missed is picked up by the resync after PostgreSQL comes back", async () => {
    const database = new URL(f.databaseUrl!).pathname.slice(1);
    const agent = await workflow.register("reconnect-bot");
    await workflow.approve(await workflow.submit(agent));
    await verdictBecomes("reconnect-bot", (v) => v.allowed);
    // Changed behind the control plane's back: no NOTIFY, so only a full resync can see it.
    await f.cluster!.sql("UPDATE agents SET status = 'suspended' WHERE id = $1", [agent.id], database);
    await sleep(300);
    expect(await check(authz.client, "reconnect-bot")).toEqual(ALLOWED);

    await f.cluster!.kill();
    expect(await check(authz.client, "reconnect-bot")).toEqual(ALLOWED);
    await f.cluster!.start();
    expect(await verdictBecomes("reconnect-bot", (v) => !v.allowed)).toEqual(refused("agent_suspended"));
    // And notifications flow again on the new connection.
    await workflow.setStatus(agent, "active");
    expect(await verdictBecomes("reconnect-bot", (v) => v.allowed)).toEqual(ALLOWED);
  }, 60_000);

  test(`revocation reaches enforcement as soon as it is pushed (p99 over ${TRIALS} trials)`, async () => {
    const agent = await workflow.register("revocation-bot");
    const delays: number[] = [];
    for (let trial = 0; trial < TRIALS; trial += 1) {
      const attestation = await workflow.approve(await workflow.submit(agent));
      await verdictBecomes("revocation-bot", (v) => v.allowed);
      await workflow.revoke(attestation);
      const { refusal, delayMs } = await pollUntilRefused(
        "revocation",
        () => check(authz.client, "revocation-bot"),
        (v) => v.allowed,
        { pauseMs: 5, limitMs: 5_000 },
      );
      expect(refusal.reason).toBe("kya_revoked");
      delays.push(delayMs);
    }
    const summary = latencySummary(delays);
    figures.revocation_to_enforcement_ms = summary;
    expect(summary.samples).toBe(TRIALS);
    expect(summary.p99).toBeLessThan(PUSH_PATH_BOUND_MS);
  }, 300_000);
});

describe(`${BULK_AGENTS.toLocaleString("en")} registered agents`, () => {
  test("load time and memory are reported; decision time is unchanged within noise", async () => {
    const database = new URL(f.databaseUrl!).pathname.slice(1);
    const existing = (
      await f.cluster!.sql<{ n: number }>("SELECT count(*)::int AS n FROM agents", [], database)
    )[0]!.n;
    for (let i = existing; i < SMALL_REGISTRY; i += 1) await workflow.register(`small-${i}`);
    const attested = await workflow.register("timing-bot");
    await workflow.approve(await workflow.submit(attested));

    await authz.stop();
    const small = await startAuthz("authz-registry-small");
    const smallStatus = await small.registry();
    await waitFor("timing-bot allowed", async () => (await check(small.client, "timing-bot")).allowed);
    const smallP50 = await checkLatencyP50(small.client, "timing-bot");
    const smallRss = small.rssKb();
    await small.stop();

    await f.cluster!.sql(
      `INSERT INTO agents (kind, name, spiffe_id, tenant, owner, team, type, environment, capabilities, created_by)
       SELECT 'agent', 'bulk-' || g, 'spiffe://warden.local/agent/bulk-' || g, 'acme', 'carl-creator',
              'research', 'assistant', 'production', '["llm:chat"]', 'bulk-load'
         FROM generate_series(1, $1::int) AS g`,
      [BULK_AGENTS],
      database,
    );
    const large = await startAuthz("authz-registry-large");
    authz = large;
    const largeStatus = await large.registry();
    expect(largeStatus.agents).toBe(smallStatus.agents + BULK_AGENTS);
    expect(await check(large.client, "bulk-7777")).toEqual(refused("kya_missing"));
    await waitFor("timing-bot allowed", async () => (await check(large.client, "timing-bot")).allowed);
    const largeP50 = await checkLatencyP50(large.client, "timing-bot");
    const largeRss = large.rssKb();

    figures.registry_scale = {
      small: {
        agents: smallStatus.agents,
        load_ms: smallStatus.last_full_sync_ms,
        rss_mb: Math.round(smallRss / 102.4) / 10,
        check_p50_ms: Number(smallP50.toFixed(3)),
      },
      large: {
        agents: largeStatus.agents,
        load_ms: largeStatus.last_full_sync_ms,
        rss_mb: Math.round(largeRss / 102.4) / 10,
        check_p50_ms: Number(largeP50.toFixed(3)),
      },
    };
    // An index lookup is one Map read: any difference is noise of the machine, not of the registry.
    expect(largeP50).toBeLessThan(smallP50 * 1.5 + 0.5);
  }, 300_000);
});
