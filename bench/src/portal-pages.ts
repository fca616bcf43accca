import { performance } from "node:perf_hooks";
import { MIGRATIONS_DIR } from "../../control-plane/src/files.js";
import { csrfToken } from "../../control-plane/src/portal/csrf.js";
import { createSession, SESSION_COOKIE } from "../../control-plane/src/portal/session.js";
import { migrate } from "../../lib/src/db/migrate.js";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import { startControlPlaneProcess } from "../../test/harness/control-plane.js";
import { startPostgres } from "../../test/harness/postgres.js";
import { stopAll } from "../../test/harness/process.js";
import { StubOidcIssuer } from "../../test/stubs/oidc-issuer.js";
import { PORTAL_DATA, seedPortalData } from "../../test/support/portal-data.js";
import { Recorder, type SuiteRun } from "./results.js";
import { percentile, summarize } from "./stats.js";

/**
 * Portal page loads with a realistic amount of data (issue 21: p95 < 500 ms with 10,000 agents and
 * 100,000 audit rows): PostgreSQL seeded by portal-seed.ts, the control plane as its own process
 * with the portal on, each page requested REQUESTS times one after another (after a warm-up), as
 * a signed-in admin. The session row is created directly (session.ts createSession, with an access
 * token of the stub OIDC issuer the control plane trusts), so no browser login is needed; every
 * request still goes through the portal's session lookup, token check and role check.
 * Chain verification of the whole log is a form action, timed separately.
 */
export const PORTAL_P95_TARGET_MS = 500;
const REQUESTS = Number(process.env.BENCH_PORTAL_REQUESTS ?? 40);
const WARMUP = 3;
const PORTAL_ORIGIN = "http://127.0.0.1";

export async function portalSuite(): Promise<SuiteRun> {
  const recorder = new Recorder("portal");
  Object.assign(recorder.settings, { ...PORTAL_DATA, requests_per_page: REQUESTS, warmup: WARMUP });
  const cluster = await startPostgres();
  const oidc = await StubOidcIssuer.start();
  try {
    const databaseUrl = await cluster.createDatabase("portal");
    const db = createPostgresDatabase(databaseUrl, { max: 2 });
    let seeded;
    try {
      await migrate(db, MIGRATIONS_DIR);
      const started = performance.now();
      seeded = await seedPortalData(db);
      process.stderr.write(
        `portal bench: data seeded in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
    } finally {
      await db.close();
    }
    const cp = await startControlPlaneProcess({
      name: "bench-portal",
      databaseUrl,
      oidcIssuer: oidc.issuer,
      env: {
        WARDEN_LOG_LEVEL: "warn",
        WARDEN_PORTAL_CLIENT_ID: "warden-portal",
        WARDEN_PORTAL_CLIENT_SECRET: "bench-only-secret",
        WARDEN_PORTAL_URL: `${PORTAL_ORIGIN}/portal`,
      },
    });
    try {
      const sessionDb = createPostgresDatabase(databaseUrl, { max: 1 });
      // One session per audience: the end-user, creator and reviewer pages are timed as those roles
      // (an admin sees none of the end-user pages), in the seeded agent's tenant.
      const signedIn = async (sub: string, roles: string[], tenant?: string) => {
        const accessToken = await oidc.token({ sub, roles, tenant, expiresInSeconds: 3600 });
        return createSession(
          sessionDb,
          sub,
          {
            access_token: accessToken,
            access_expires_at: Math.floor(Date.now() / 1000) + 3600,
            refresh_token: null,
            id_token: null,
          },
          new Date(Date.now() + 3_600_000),
        );
      };
      const session = await signedIn("bench-admin", ["admin"]);
      const cookieOf = (id: string) => `${SESSION_COOKIE}=${id}`;
      const audiences = {
        admin: cookieOf(session.id),
        user: cookieOf((await signedIn(seeded.user, ["user"], seeded.agent.tenant)).id),
        creator: cookieOf((await signedIn("owner-0", ["creator"], seeded.agent.tenant)).id),
        reviewer: cookieOf((await signedIn("bench-reviewer", ["reviewer"], seeded.agent.tenant)).id),
      };
      const { rows } = await sessionDb.query<{ id: string }>(
        "SELECT id FROM llm_budgets ORDER BY id LIMIT 1",
      );
      await sessionDb.close();
      const cookie = audiences.admin;

      const get = async (path: string, as: string = cookie): Promise<string> => {
        const response = await fetch(`${cp.url}${path}`, { headers: { cookie: as }, redirect: "manual" });
        const body = await response.text();
        if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${body.slice(0, 300)}`);
        return body;
      };
      // A cursor deep into the log: the 40th page of the unfiltered search.
      let deepPath = "/portal/admin/audit";
      for (let i = 0; i < 40; i += 1) {
        const next = /rel="next" href="([^"]+)"/.exec(await get(deepPath))?.[1];
        if (!next) break;
        deepPath = next.replaceAll("&amp;", "&");
      }
      const pages: Record<string, string | [string, string]> = {
        home: "/portal/",
        user_agents: ["/portal/agents", audiences.user],
        user_agent_kya: [`/portal/agents/${seeded.agent.id}`, audiences.user],
        user_delegations: ["/portal/delegations", audiences.user],
        user_connections: ["/portal/connections", audiences.user],
        user_activity: ["/portal/activity", audiences.user],
        user_approvals: ["/portal/approvals", audiences.user],
        creator_status: ["/portal/creator", audiences.creator],
        reviewer_queue: ["/portal/reviewer", audiences.reviewer],
        usage_by_agent: "/portal/admin/usage",
        usage_by_user: "/portal/admin/usage?by=user",
        usage_by_team: "/portal/admin/usage?by=team",
        budgets: "/portal/admin/budgets",
        budget_edit: `/portal/admin/budgets/${rows[0]!.id}`,
        revoke_all: "/portal/admin/revoke-all",
        audit_first_page: "/portal/admin/audit",
        audit_page_40: deepPath,
        audit_by_agent: `/portal/admin/audit?agent=${encodeURIComponent(seeded.agent.spiffe_id)}`,
        audit_by_user: `/portal/admin/audit?user=${seeded.user}`,
        audit_denied: "/portal/admin/audit?decision=deny&tenant=acme",
        audit_rare_action: "/portal/admin/audit?action=delegation.revoked",
        policy: "/portal/admin/policy",
      };
      let worst = { page: "", p95: 0 };
      for (const [page, target] of Object.entries(pages)) {
        const [path, as] = typeof target === "string" ? [target, cookie] : target;
        for (let i = 0; i < WARMUP; i += 1) await get(path, as);
        const samples: number[] = [];
        for (let i = 0; i < REQUESTS; i += 1) {
          const started = performance.now();
          await get(path, as);
          samples.push(performance.now() - started);
        }
        const stats = summarize(samples);
        const p95 =
          Math.round(
            percentile(
              [...samples].sort((a, b) => a - b),
              95,
            ) * 1000,
          ) / 1000;
        recorder.record(page, { path, p50_ms: stats.p50_ms, p95_ms: p95, max_ms: stats.max_ms });
        if (p95 > worst.p95) worst = { page, p95 };
      }

      const verifyStarted = performance.now();
      const verify = await fetch(`${cp.url}/portal/admin/audit/verify`, {
        method: "POST",
        headers: { cookie, origin: PORTAL_ORIGIN, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: csrfToken(session.id), tenant: "" }).toString(),
      });
      const verifyMs = performance.now() - verifyStarted;
      const verifyBody = await verify.text();
      const intact = verifyBody.includes("Chain intact");
      recorder.record("audit_verify_all", { status: verify.status, ms: Math.round(verifyMs), intact });

      return await recorder.finish({
        worst_page: worst.page,
        worst_p95_ms: Math.round(worst.p95 * 10) / 10,
        target_p95_ms: PORTAL_P95_TARGET_MS,
        met: worst.p95 < PORTAL_P95_TARGET_MS,
        verify_100k_ms: Math.round(verifyMs),
        chain_intact: intact,
      });
    } finally {
      await cp.stop();
    }
  } finally {
    await oidc.close();
    await cluster.destroy();
    await stopAll();
  }
}
