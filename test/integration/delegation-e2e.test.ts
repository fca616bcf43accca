import type { Agent as HttpsAgent } from "node:https";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { ControlPlaneProcess } from "../harness/control-plane.js";
import type { PostgresCluster } from "../harness/postgres.js";
import { REPO_ROOT, sleep, stopAll, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { currentProcessSelector, type SpireStack } from "../harness/spire.js";
import { destinationsWithServiceAt, startTestStack, type Stack, type TestStack } from "../harness/stack.js";
import { percentile, PUSH_PATH_BOUND_MS } from "../harness/stats.js";
import type { StubOidcIssuer } from "../stubs/oidc-issuer.js";
import { startDriveStub } from "../stubs/saas-drive.js";
import type { StubUpstream } from "../stubs/upstream.js";
import { pollUntilRefused } from "../support/poll-until-refused.js";
import {
  callSidecar,
  errorCode,
  grant,
  registerAgent,
  svidAgent,
  type Entry,
  type SidecarResponse,
} from "./delegation-fixture.js";

/**
 * A user's delegation enforced on the data plane, all real: SPIRE issues the agents'
 * SVIDs, Envoy terminates their mTLS and asks authz-server, which verifies the `x-warden-delegation`
 * token against the control plane's JWKS (OpenBao transit keys), binds it to the calling SVID and
 * checks the revocation set fed by PostgreSQL LISTEN/NOTIFY; the policy is the shipped one; Drive is
 * a stub. The test process holds both agents' SVIDs (registered for its own uid).
 */
const TD = "warden.local";
const TRIALS = Number(process.env.WARDEN_REVOKE_TRIALS ?? 20);
const LIVE_DELEGATIONS = 1_000;
const TOKENS_UNDER_LOAD = 50;

let env: TestStack;
let spire: SpireStack;
let cluster: PostgresCluster;
let databaseUrl: string;
let oidc: StubOidcIssuer;
let f: ControlPlaneProcess;
let drive: StubUpstream;
let stack: Stack;
let helper: Entry;
let other: Entry;
let agents: { helper: HttpsAgent; other: HttpsAgent };
let ursula: string;
let admin: string;
const figures: Record<string, unknown> = {};

const driveUrl = (path = "/drive/v3/files") => `${stack.agentUrl}/google-drive${path}`;
const withToken = (token: string) => ({ "x-warden-delegation": token });

async function readFiles(agent: HttpsAgent, token?: string): Promise<SidecarResponse> {
  return callSidecar(agent, driveUrl(), { headers: token ? withToken(token) : {} });
}

async function createFile(agent: HttpsAgent, token: string): Promise<SidecarResponse> {
  return callSidecar(agent, driveUrl(), {
    method: "POST",
    headers: { ...withToken(token), "content-type": "application/json" },
    body: JSON.stringify({ name: "notes.txt" }),
  });
}

function sql<Row extends Record<string, unknown> = Record<string, unknown>>(
  text: string,
  params: unknown[],
): Promise<Row[]> {
  return cluster.sql<Row>(text, params, new URL(databaseUrl).pathname.slice(1));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  await waitFor(what, check, timeoutMs);
}

beforeAll(async () => {
  drive = await startDriveStub();
  env = await startTestStack({
    name: "delegation-e2e",
    trustDomain: TD,
    spire: { logLevel: "INFO" },
    acceptTokens: true,
    dataPlane: {
      policyDir: join(REPO_ROOT, "policies"),
      destinations: destinationsWithServiceAt("google-drive", drive.port),
    },
  });
  ({ spire, cluster, databaseUrl, oidc, controlPlane: f, stack } = env);
  const [creator, reviewer] = await Promise.all([
    oidc.token({ sub: "carl-creator", roles: ["creator"] }),
    oidc.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
  ]);
  ursula = await oidc.token({ sub: "ursula", roles: ["user"], tenant: "acme" });
  admin = await oidc.token({ sub: "ada-admin", roles: ["admin"], tenant: "acme" });
  const spec = {
    capabilities: ["google-drive:read", "google-drive:write"],
    verified: ["google-drive:read", "google-drive:write"],
    team: "engineering",
  };
  helper = await registerAgent(f, creator, reviewer, { name: "drive-helper", ...spec });
  other = await registerAgent(f, creator, reviewer, { name: "other-helper", ...spec });
  for (const agent of [helper, other]) await spire.register(agent.spiffe_id, [currentProcessSelector()]);

  const svidOf = async (id: string) => {
    const update = await spire.waitForSvid(id);
    return { svid: update.svids.find((s) => s.spiffeId === id)!, bundlesPem: update.bundlesPem };
  };
  const [a, b] = [await svidOf(helper.spiffe_id), await svidOf(other.spiffe_id)];
  agents = { helper: svidAgent(a.svid, a.bundlesPem), other: svidAgent(b.svid, b.bundlesPem) };
  // The registry reached authz-server: without a delegation, Drive is refused for that reason.
  await until(
    "the agents reach the data plane",
    async () => errorCode(await readFiles(agents.helper)) === "delegation_required",
    30_000,
  );
}, 240_000);

afterAll(async () => {
  agents?.helper.destroy();
  agents?.other.destroy();
  await env?.stop();
  await drive?.close();
  await stopAll();
  process.stdout.write(`delegation enforcement figures: ${JSON.stringify(figures, null, 2)}\n`);
}, TEARDOWN_TIMEOUT_MS);

describe("a user lets an agent read their Drive for 24 hours", () => {
  let token: string;

  beforeAll(async () => {
    token = (await grant(f, ursula, { agent_id: helper.id, scopes: ["google-drive:read"] })).token;
  });

  test("reading is allowed, and the delegation token never reaches Drive", async () => {
    const before = drive.requests.length;
    const res = await readFiles(agents.helper, token);
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as { kind: string }).kind).toBe("drive#fileList");
    const seen = drive.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers["x-warden-delegation"]).toBeUndefined();
    expect(JSON.stringify(seen[0]!.headers)).not.toContain(token.split(".")[2]!);
  });

  test("writing is refused for the delegation's scope, and nothing reaches Drive", async () => {
    const before = drive.requests.length;
    const res = await createFile(agents.helper, token);
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe("delegation_scope_insufficient");
    expect(drive.requests.length).toBe(before);
  });

  test("another agent presenting the same token (a different SVID) is refused", async () => {
    const res = await readFiles(agents.other, token);
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe("delegation_agent_mismatch");
  });

  test("a tampered token (read scope widened to write) is refused", async () => {
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
    const widened = Buffer.from(
      JSON.stringify({ ...claims, scope: "google-drive:read google-drive:write" }),
    ).toString("base64url");
    const res = await createFile(agents.helper, `${header}.${widened}.${signature}`);
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe("delegation_signature_invalid");
    // And a forged token of our own making, signed by nobody we trust.
    const forged = await readFiles(agents.helper, `${header}.${widened}.${"A".repeat(86)}`);
    expect(errorCode(forged)).toBe("delegation_signature_invalid");
  });

  test("a delegation limited to GitHub does not open Drive", async () => {
    const limited = await f.call<{ token: string }>("POST", "/v1/delegations", {
      token: ursula,
      body: { agent_id: helper.id, scopes: ["google-drive:read"], destinations: ["github"] },
    });
    expect(limited.status).toBe(201);
    expect(errorCode(await readFiles(agents.helper, limited.body.token))).toBe(
      "delegation_destination_not_allowed",
    );
  });
});

test("a delegation that expires (2 s) is refused once it has", async () => {
  const { token, delegation } = await grant(f, ursula, {
    agent_id: helper.id,
    scopes: ["google-drive:read"],
    ttl_seconds: 2,
  });
  expect((await readFiles(agents.helper, token)).status).toBe(200);
  await sleep(Math.max(0, Date.parse(delegation.expires_at) - Date.now()) + 50);
  const res = await readFiles(agents.helper, token);
  expect(res.status).toBe(403);
  expect(errorCode(res)).toBe("delegation_expired");
});

test("a revoked delegation is refused as soon as the revocation is pushed", async () => {
  const { token, delegation } = await grant(f, ursula, {
    agent_id: helper.id,
    scopes: ["google-drive:read"],
  });
  expect((await readFiles(agents.helper, token)).status).toBe(200);
  const revoked = await f.call("POST", `/v1/delegations/${delegation.id}/revoke`, { token: ursula });
  expect(revoked.status).toBe(200);
  const { refusal, delayMs } = await pollUntilRefused(
    "the revocation",
    () => readFiles(agents.helper, token),
    (res) => res.status === 200,
    { pauseMs: 0, limitMs: PUSH_PATH_BOUND_MS },
  );
  expect(errorCode(refusal)).toBe("delegation_revoked");
  figures.single_revocation_ms = Number(delayMs.toFixed(1));
});

describe(`revoke-all for an agent with ${LIVE_DELEGATIONS.toLocaleString("en")} live delegations, under load`, () => {
  interface Sample {
    agent: "helper" | "other";
    status: number;
    code: string;
    sentAt: number;
    receivedAt: number;
  }

  /** Live delegations for the helper: some granted through the API (their tokens carry the load), the rest stored. */
  async function liveDelegations(): Promise<string[]> {
    const tokens: string[] = [];
    for (let i = 0; i < TOKENS_UNDER_LOAD; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, TOKENS_UNDER_LOAD - i) }, () =>
          grant(f, ursula, { agent_id: helper.id, scopes: ["google-drive:read"], ttl_seconds: 3_600 }),
        ),
      );
      tokens.push(...batch.map((g) => g.token));
    }
    // The rest are rows like the API writes (their tokens would simply never be presented).
    await sql(
      `INSERT INTO delegations (id, tenant, user_id, agent_id, agent_spiffe_id, scopes, destinations, issued_at, expires_at, signing_key_id, granted_by)
       SELECT gen_random_uuid(), 'acme', 'user-' || g, $1::uuid, $2, '["google-drive:read"]', '[]', now(), now() + interval '1 hour', 'warden-tokens-v1', 'bulk'
         FROM generate_series(1, $3::int) AS g`,
      [helper.id, helper.spiffe_id, LIVE_DELEGATIONS - TOKENS_UNDER_LOAD],
    );
    const live = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM delegations WHERE agent_id = $1 AND revoked_at IS NULL AND expires_at > now()`,
      [helper.id],
    );
    expect(live[0]!.n).toBe(LIVE_DELEGATIONS);
    return tokens;
  }

  /** Keeps `concurrency` requests of each agent in flight until stopped; records every answer. */
  function load(helperTokens: string[], otherToken: string, samples: Sample[]) {
    let running = true;
    let next = 0;
    const loop = async (agent: "helper" | "other") => {
      while (running) {
        const token = agent === "helper" ? helperTokens[next++ % helperTokens.length]! : otherToken;
        const res = await readFiles(agents[agent], token);
        samples.push({
          agent,
          status: res.status,
          code: errorCode(res),
          sentAt: res.sentAt,
          receivedAt: res.receivedAt,
        });
      }
    };
    const loops = [
      ...Array.from({ length: 4 }, () => loop("helper")),
      ...Array.from({ length: 2 }, () => loop("other")),
    ];
    return async () => {
      running = false;
      await Promise.all(loops);
    };
  }

  test(`every later request of that agent is denied once the revocation is pushed (p99 over ${TRIALS} trials), other agents unaffected`, async () => {
    // Start from none: earlier tests left some of the helper's delegations live.
    await f.call("POST", "/v1/delegations/revoke", { token: admin, body: { agent_id: helper.id } });
    const otherToken = (
      await grant(f, ursula, { agent_id: other.id, scopes: ["google-drive:read"], ttl_seconds: 3_600 })
    ).token;
    const delays: number[] = [];
    const apiMs: number[] = [];
    /** From the revoke call's answer (committed) to the last allowed answer of the agent. */
    const afterAnswer: number[] = [];
    let otherRequests = 0;
    let otherUnavailable = 0;
    let helperRequests = 0;
    for (let trial = 0; trial < TRIALS; trial += 1) {
      const tokens = await liveDelegations();
      const samples: Sample[] = [];
      const stop = load(tokens, otherToken, samples);
      // Under load and allowed: every token has been seen (and its signature cached) by authz-server.
      await until(
        "the helper's requests are allowed",
        async () => samples.filter((s) => s.agent === "helper" && s.status === 200).length >= tokens.length,
      );
      const revokeSentAt = performance.now();
      const revoked = await f.call<{ revoked: number }>("POST", "/v1/delegations/revoke", {
        token: admin,
        body: { agent_id: helper.id, reason: `incident drill ${trial}` },
      });
      const revokeAnsweredAt = performance.now();
      apiMs.push(revokeAnsweredAt - revokeSentAt);
      expect(revoked.body.revoked).toBe(LIVE_DELEGATIONS);
      await sleep(1_500);
      await stop();

      const helperAfter = samples.filter((s) => s.agent === "helper" && s.sentAt >= revokeSentAt);
      const lastAllowed = helperAfter
        .filter((s) => s.status === 200)
        .reduce((max, s) => Math.max(max, s.receivedAt), revokeSentAt);
      const delay = lastAllowed - revokeSentAt;
      delays.push(delay);
      afterAnswer.push(Math.max(0, lastAllowed - revokeAnsweredAt));
      // After that moment nothing of the helper got through: refused as revoked (or, on this shared
      // machine, now and then a 503 when a Check missed Envoy's 250 ms deadline: fail-closed too).
      const later = helperAfter.filter((s) => s.sentAt > lastAllowed);
      expect(later.length).toBeGreaterThan(10);
      expect(later.filter((s) => s.status === 200)).toEqual([]);
      expect(later.filter((s) => s.code !== "delegation_revoked" && s.status !== 503)).toEqual([]);
      expect(later.filter((s) => s.code === "delegation_revoked").length).toBeGreaterThan(later.length / 2);
      // The other agent, with its own delegation, was never refused by the policy.
      const otherSamples = samples.filter((s) => s.agent === "other");
      expect(otherSamples.filter((s) => s.status !== 200 && s.status !== 503)).toEqual([]);
      otherUnavailable += otherSamples.filter((s) => s.status === 503).length;
      otherRequests += otherSamples.length;
      helperRequests += samples.length - otherSamples.length;
    }
    const sorted = [...delays].sort((a, b) => a - b);
    const apiSorted = [...apiMs].sort((a, b) => a - b);
    figures.revoke_all = {
      trials: TRIALS,
      live_delegations: LIVE_DELEGATIONS,
      tokens_under_load: TOKENS_UNDER_LOAD,
      enforced_within_ms: {
        p50: Number(percentile(sorted, 50).toFixed(1)),
        p99: Number(percentile(sorted, 99).toFixed(1)),
        max: Number(sorted.at(-1)!.toFixed(1)),
      },
      after_revoke_answered_ms: {
        p50: Number(
          percentile(
            [...afterAnswer].sort((a, b) => a - b),
            50,
          ).toFixed(1),
        ),
        max: Number(Math.max(...afterAnswer).toFixed(1)),
      },
      revoke_api_ms: {
        p50: Number(percentile(apiSorted, 50).toFixed(1)),
        max: Number(apiSorted.at(-1)!.toFixed(1)),
      },
      requests: {
        helper: helperRequests,
        other: otherRequests,
        other_denied: 0,
        other_503: otherUnavailable,
      },
    };
    expect(percentile(sorted, 99)).toBeLessThan(PUSH_PATH_BOUND_MS);
  }, 900_000);
});

test("the revocation set survives an authz-server restart (full resync from PostgreSQL)", async () => {
  const { token, delegation } = await grant(f, ursula, { agent_id: other.id, scopes: ["google-drive:read"] });
  expect((await readFiles(agents.other, token)).status).toBe(200);
  await f.call("POST", `/v1/delegations/${delegation.id}/revoke`, { token: ursula });
  await stack.authz.stop();
  await stack.authz.restart();
  await until(
    "authz-server serves again",
    async () => (await readFiles(agents.other, token)).status !== 503,
    30_000,
  );
  expect(errorCode(await readFiles(agents.other, token))).toBe("delegation_revoked");
  // A fresh grant still works after the restart.
  const fresh = await grant(f, ursula, {
    agent_id: other.id,
    scopes: ["google-drive:read"],
    ttl_seconds: 600,
  });
  expect((await readFiles(agents.other, fresh.token)).status).toBe(200);
}, 90_000);
