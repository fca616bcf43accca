import { randomUUID } from "node:crypto";
import pg from "pg";
import { MIGRATIONS_DIR } from "../../control-plane/src/files.js";
import { runWarden } from "../../control-plane/src/cli/warden.js";
import { ROLES } from "../../control-plane/src/http/openapi.js";
import { recordingCliIo } from "../support/cli-io.js";
import { migrate } from "../../lib/src/db/migrate.js";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import { startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";

/**
 * Tenant isolation, in two layers (docs/tenancy.md):
 *  1. the API: every operation of the OpenAPI document (so a new route is covered the day it is
 *     added) × every role, with a token of tenant A and tenant B's ids, answers 403 or 404;
 *  2. PostgreSQL row-level security alone (no API in the way): the data plane's logins of tenant A
 *     read none of tenant B's rows, in every table that has a tenant column.
 * The control plane itself runs as a login in `warden_app`, not as the owner, so its requests are
 * held by row-level security too.
 */

const A = "iso-a";
const B = "iso-b";
/** Roles of the database that the services log in with (migrations 001, 004, 005, 008). */
const SERVICE_ROLES = ["warden_app", "warden_dataplane", "warden_extproc", "warden_audit_writer"];

let cluster: PostgresCluster;
let databaseUrl: string;
let fixture: ControlPlaneFixture;

function urlAs(login: string): string {
  const url = new URL(databaseUrl);
  url.username = login;
  return url.toString();
}

async function sql<Row extends pg.QueryResultRow = Record<string, unknown>>(
  text: string,
  params: unknown[] = [],
): Promise<Row[]> {
  return cluster.sql<Row>(text, params, new URL(databaseUrl).pathname.slice(1));
}

/** Runs `work` on one connection of `login` (the way a service connects: `-c warden.tenant=...`). */
async function asLogin<T>(
  login: string,
  tenant: string | null,
  work: (c: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({
    connectionString: urlAs(login),
    ...(tenant === null ? {} : { options: `-c warden.tenant=${tenant}` }),
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Every table with a tenant column, as the catalogue says (so a table added later is enumerated). */
async function tenantOwnedTables(): Promise<{ table: string; column: string }[]> {
  return sql<{ table: string; column: string }>(
    `SELECT c.relname AS table, a.attname AS column
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND NOT a.attisdropped
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attname IN ('tenant', 'tenant_id')
        AND c.relname <> 'tenant_logins'
      UNION SELECT 'tenants', 'id'
      ORDER BY 1`,
  );
}

/** Rows of `tenant` in every tenant-owned table the API does not fill itself; returns their ids. */
async function seedRows(tenant: string, agentId: string, budgetId: string) {
  const now = new Date();
  const later = new Date(now.getTime() + 3_600_000);
  const [attestation] = await sql<{ id: string }>(
    `INSERT INTO kya_attestations (agent_id, tenant, evidence, declared_capabilities, submitted_by)
     VALUES ($1, $2, '{}', '[]', 'seed') RETURNING id`,
    [agentId, tenant],
  );
  const [delegation] = await sql<{ id: string }>(
    `INSERT INTO delegations (tenant, user_id, agent_id, agent_spiffe_id, scopes, issued_at, expires_at, signing_key_id, granted_by)
     VALUES ($1, 'user-1', $2, 'spiffe://warden.local/agent/x', '["google-drive:read"]', $3, $4, 'k1', 'user-1') RETURNING id`,
    [tenant, agentId, now, later],
  );
  await sql(
    `INSERT INTO oauth_revoked_tokens (jti, tenant, client_id, expires_at, revoked_at, revoked_by) VALUES ($1, $2, 'c', $3, $4, 'seed')`,
    [randomUUID(), tenant, later, now],
  );
  await sql(
    `INSERT INTO oauth_connections (id, tenant, user_id, service, status, scopes, provider_scopes, connected_at, updated_at)
     VALUES ($1, $2, 'user-1', 'google-drive', 'active', '[]', '', $3, $3)`,
    [randomUUID(), tenant, now],
  );
  const linkId = randomUUID();
  await sql(
    `INSERT INTO oauth_connect_states (state_hash, tenant, user_id, service, scopes, code_verifier, redirect_uri, created_at, expires_at, link_id)
     VALUES ($1, $2, 'user-1', 'google-drive', '[]', 'sealed', 'https://x/cb', $3, $4, $5)`,
    [randomUUID(), tenant, now, later, linkId],
  );
  const [approval] = await sql<{ id: string }>(
    `INSERT INTO mcp_approvals (tenant, agent_spiffe_id, server, method, name, arguments_digest, requested_decision_id, expires_at, user_id)
     VALUES ($1, $2, 'files', 'tools/call', 'delete', 'sha256:00', 'd1', $3, 'user-1') RETURNING id`,
    [tenant, `spiffe://warden.local/agent/${tenant}-${randomUUID()}`, later],
  );
  await sql(
    `INSERT INTO llm_usage (event_id, tenant, occurred_at, decision_id, provider, operation, stream, outcome, status,
                            input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens,
                            usage_source, latency_ms, recorded_by, record_seq)
     VALUES ($1, $2, $3, 'd1', 'openai', 'chat', false, 'completed', 200, 1, 0, 0, 1, 0, 'body', 1, 'seed', 1)`,
    [randomUUID(), tenant, now],
  );
  const laterTables = await seedLaterTables(tenant, budgetId);
  return {
    attestation: attestation!.id,
    delegation: delegation!.id,
    approval: approval!.id,
    linkId,
    webhook: laterTables.webhook ?? "unmapped",
    rateLimit: laterTables.rateLimit ?? "unmapped",
  };
}

/**
 * Rows of the tables other migrations added (webhooks, rate limits and budget reservations), seeded
 * when the table exists. A tenant-owned table missing here fails the RLS test ("unseeded"), so one
 * added later is noticed.
 */
async function seedLaterTables(
  tenant: string,
  budgetId: string,
): Promise<{ webhook?: string; rateLimit?: string }> {
  const seeded: { webhook?: string; rateLimit?: string } = {};
  const present = new Set(
    (
      await sql<{ t: string }>(
        "SELECT relname AS t FROM pg_class WHERE relnamespace = 'public'::regnamespace",
      )
    ).map((r) => r.t),
  );
  const later = new Date(Date.now() + 3_600_000);
  if (present.has("webhook_subscriptions")) {
    const [subscription] = await sql<{ id: string }>(
      `INSERT INTO webhook_subscriptions (tenant_id, url, event_types, secret_sealed, start_seq, created_by)
       VALUES ($1, 'https://receiver.example/hook', '{agent.created}', 'vault:v1:x', 0, 'seed') RETURNING id`,
      [tenant],
    );
    const [delivery] = await sql<{ id: string }>(
      `INSERT INTO webhook_deliveries (tenant_id, subscription_id, event_id, event_type, payload, next_attempt_at)
       VALUES ($1, $2, $3, 'agent.created', '{}', now()) RETURNING id`,
      [tenant, subscription!.id, randomUUID()],
    );
    await sql(
      `INSERT INTO webhook_delivery_attempts (delivery_id, tenant_id, attempt, started_at, duration_ms)
       VALUES ($1, $2, 1, now(), 1)`,
      [delivery!.id, tenant],
    );
    await sql(`INSERT INTO event_cursors (tenant_id, consumer, last_seq) VALUES ($1, 'webhooks', 0)`, [
      tenant,
    ]);
    seeded.webhook = subscription!.id;
  }
  if (present.has("rate_limits")) {
    const [limit] = await sql<{ id: string }>(
      `INSERT INTO rate_limits (tenant_id, scope, subject, unit, per_minute, failure_mode, created_by)
       VALUES ($1, 'tenant', $1, 'requests', 60, 'closed', 'seed') RETURNING id`,
      [tenant],
    );
    seeded.rateLimit = limit!.id;
    const period = new Date(Date.UTC(2026, 0, 1));
    await sql(
      `INSERT INTO budget_counters (tenant_id, budget_id, period_start, limit_pico) VALUES ($1, $2, $3, 1000)`,
      [tenant, budgetId, period],
    );
    await sql(
      `INSERT INTO budget_reservations (tenant_id, budget_id, period_start, amount_pico, reserved_by, expires_at)
       VALUES ($1, $2, $3, 1, 'seed', $4)`,
      [tenant, budgetId, period, later],
    );
  }
  return seeded;
}

interface TenantIds {
  tenant: string;
  agent: string;
  mcpServer: string;
  attestation: string;
  delegation: string;
  approval: string;
  budget: string;
  linkId: string;
  webhook: string;
  rateLimit: string;
}

let ids: Record<string, TenantIds>;

beforeAll(async () => {
  cluster = await startPostgres();
  databaseUrl = await cluster.createDatabase();
  const owner = createPostgresDatabase(databaseUrl, { max: 1 });
  await migrate(owner, MIGRATIONS_DIR);
  await owner.close();
  await sql(`CREATE ROLE iso_cp LOGIN IN ROLE warden_app`);
  fixture = await startControlPlaneFixture({
    postgres: false,
    vault: true,
    env: { DATABASE_URL: urlAs("iso_cp"), WARDEN_MIGRATE: "false" },
  });
  const platform = await fixture.token({ sub: "platform-op", roles: ["platform_admin", "admin"] });
  ids = {};
  for (const tenant of [A, B]) {
    const created = await fixture.call("POST", "/v1/tenants", { token: platform, body: { id: tenant } });
    expect(created.status).toBe(201);
    const admin = await fixture.token({ sub: `${tenant}-admin`, roles: ["admin"], tenant });
    const registration = { tenant, team: "core", type: "assistant", environment: "dev" };
    const agent = await fixture.call<{ id: string }>("POST", "/v1/agents", {
      token: admin,
      body: { ...registration, name: `${tenant}-agent` },
    });
    const mcp = await fixture.call<{ id: string }>("POST", "/v1/mcp-servers", {
      token: admin,
      body: { ...registration, name: `${tenant}-files` },
    });
    const budget = await fixture.call<{ id: string }>("POST", "/v1/budgets", {
      token: admin,
      body: { tenant, scope: "tenant", period: "monthly", limit_usd: "10", enforcement: "hard" },
    });
    expect([agent.status, mcp.status, budget.status]).toEqual([201, 201, 201]);
    const seeded = await seedRows(tenant, agent.body.id, budget.body.id);
    ids[tenant] = { tenant, agent: agent.body.id, mcpServer: mcp.body.id, budget: budget.body.id, ...seeded };
  }
}, 240_000);

afterAll(async () => {
  await fixture?.close();
  await cluster?.destroy();
}, 60_000);

/** A request body that passes validation, so the call reaches the tenant check (not a 400). */
function bodyFor(operationId: string, other: TenantIds): unknown {
  const bodies: Record<string, unknown> = {
    updateAgent: { owner: "someone" },
    updateMcpServer: { owner: "someone" },
    putMcpToolRules: { tools: {} },
    mintMcpToken: { agent_id: other.agent },
    revokeMcpToken: { jti: randomUUID() },
    approveAttestation: { level: 1, verified_capabilities: [] },
    rejectAttestation: { reason: "no" },
    revokeAttestation: { reason: "no" },
    startConnection: { scopes: ["google-drive:read"] },
    updateBudget: { limit_usd: "1" },
    suspendTenant: { reason: "no" },
    createAgent: { name: "intruder", tenant: other.tenant, team: "t", type: "t", environment: "dev" },
    createMcpServer: { name: "intruder", tenant: other.tenant, team: "t", type: "t", environment: "dev" },
    submitAttestation: {
      agent_id: other.agent,
      evidence: {
        endpoints: [],
        image_digest: `sha256:${"0".repeat(64)}`,
        security_checklist: {
          no_embedded_credentials: true,
          dependencies_scanned: true,
          least_privilege_scopes: true,
          audit_logging: true,
          data_retention_policy: true,
        },
      },
    },
    createDelegation: { agent_id: other.agent, scopes: ["google-drive:read"] },
    revokeDelegations: { agent_id: other.agent, reason: "no" },
    createBudget: {
      tenant: other.tenant,
      scope: "tenant",
      period: "daily",
      limit_usd: "1",
      enforcement: "hard",
    },
    createTenant: { id: other.tenant },
    createWebhook: {
      url: "https://receiver.example/hook",
      event_types: ["agent.registered"],
      tenant: other.tenant,
    },
    createRateLimit: {
      tenant: other.tenant,
      scope: "tenant",
      unit: "requests",
      per_minute: 10,
      failure_mode: "closed",
    },
  };
  return bodies[operationId];
}

/** The path with another tenant's ids in it: each parameter from the resource the path names. */
function pathWithIdsOf(path: string, other: TenantIds): string {
  const byPrefix: [RegExp, string][] = [
    [/^\/v1\/agents\//, other.agent],
    [/^\/v1\/mcp-servers\//, other.mcpServer],
    [/^\/v1\/attestations\//, other.attestation],
    [/^\/v1\/delegations\//, other.delegation],
    [/^\/v1\/approvals\//, other.approval],
    [/^\/v1\/budgets\//, other.budget],
    [/^\/v1\/webhooks\//, other.webhook],
    [/^\/v1\/rate-limits\//, other.rateLimit],
  ];
  return path
    .replace("{tenant_id}", other.tenant)
    .replace("{link_id}", other.linkId)
    .replace("{service}", "google-drive")
    .replace("{id}", byPrefix.find(([prefix]) => prefix.test(path))?.[1] ?? "unmapped");
}

describe("the API: every operation × every role × another tenant's ids", () => {
  test("is refused with 403 or 404, 100% of the matrix", async () => {
    const secured = fixture.operations.filter((op) => op.roles !== null);
    const refusals: { call: string; status: number }[] = [];
    const ownListLeaks: string[] = [];
    const unmapped: string[] = [];
    const other = ids[B]!;
    for (const role of ROLES) {
      const token = await fixture.token({ sub: `${A}-${role}`, roles: [role], tenant: A });
      for (const op of secured) {
        const path = pathWithIdsOf(op.path, other);
        if (path.includes("unmapped")) unmapped.push(op.operationId);
        const query = (op.querystring?.properties as object | undefined) ?? {};
        const takesTenant = "tenant" in query;
        const body = bodyFor(op.operationId, other);
        if (op.bodyRequired && body === undefined) unmapped.push(`${op.operationId} (no body)`);
        // `{service}` is a catalogue name, the same for every tenant: those operations act on the
        // caller's own account connection (their tenant from the token), never on another's.
        const namesOther =
          (op.path.includes("{") && !op.path.includes("{service}")) || takesTenant || op.bodyRequired;
        // An action that names nothing of another tenant (verify the audit log, start or remove one's
        // own connection) cannot reach B's rows.
        if (!namesOther && op.method !== "GET") continue;
        if (op.path.includes("{service}")) continue;
        const url = takesTenant ? `${path}?tenant=${other.tenant}` : path;
        const response = await fixture.call(op.method, url, {
          token,
          ...(body === undefined ? {} : { body }),
        });
        const call = `${role} ${op.method} ${url}`;
        if (namesOther) refusals.push({ call, status: response.status });
        // A list of one's own (my delegations, my connections, my tenant): 200 is right, as long as
        // nothing of tenant B is in it.
        else if (Object.values(other).some((id) => response.text.includes(id))) ownListLeaks.push(call);
      }
    }
    expect(unmapped).toEqual([]);
    expect(ownListLeaks).toEqual([]);
    expect(refusals.filter((r) => r.status !== 403 && r.status !== 404)).toEqual([]);
    expect(refusals.length).toBeGreaterThan(ROLES.length * 40);
  }, 120_000);
});

describe("PostgreSQL row-level security alone", () => {
  test("every table with a tenant column has RLS enabled and forced, with a policy for every role", async () => {
    const tables = await tenantOwnedTables();
    expect(tables.map((t) => t.table)).toEqual(expect.arrayContaining(["agents", "audit_events", "tenants"]));
    const [ownerRow] = await sql<{ owner: string }>(
      `SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'agents'`,
    );
    const problems: string[] = [];
    for (const { table } of tables) {
      const [state] = await sql<{ enabled: boolean; forced: boolean }>(
        `SELECT relrowsecurity AS enabled, relforcerowsecurity AS forced FROM pg_class WHERE oid = $1::regclass`,
        [table],
      );
      if (!state?.enabled) problems.push(`${table}: row-level security is not enabled`);
      if (!state?.forced) problems.push(`${table}: row-level security is not forced (the owner is not held)`);
      for (const role of [...SERVICE_ROLES, ownerRow!.owner]) {
        const [policy] = await sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_policy
            WHERE polrelid = $1::regclass AND polcmd = '*'
              AND (0 = ANY (polroles) OR (SELECT oid FROM pg_roles WHERE rolname = $2) = ANY (polroles))`,
          [table, role],
        );
        if (!policy?.n) problems.push(`${table}: no policy for ${role}`);
      }
    }
    expect(problems).toEqual([]);
  }, 120_000);

  test("a data-plane login of tenant A reads none of tenant B's rows, in every tenant-owned table", async () => {
    await sql(`CREATE ROLE iso_authz_a LOGIN IN ROLE warden_dataplane, warden_audit_writer`);
    await sql(`CREATE ROLE iso_extproc_a LOGIN IN ROLE warden_extproc`);
    await sql(`CREATE ROLE iso_unbound LOGIN IN ROLE warden_dataplane, warden_extproc, warden_audit_writer`);
    await sql(
      `INSERT INTO tenant_logins (login, bound_tenant) VALUES ('iso_authz_a', $1), ('iso_extproc_a', $1)`,
      [A],
    );
    const tables = await tenantOwnedTables();
    const unseeded: string[] = [];
    const seen: string[] = [];
    for (const { table, column } of tables) {
      const [counts] = await sql<{ a: number; b: number }>(
        `SELECT count(*) FILTER (WHERE ${column}::text = $1)::int AS a, count(*) FILTER (WHERE ${column}::text = $2)::int AS b FROM ${table}`,
        [A, B],
      );
      // The test can only fail if B has rows to leak: every tenant-owned table must be seeded.
      if (!counts!.a || !counts!.b) unseeded.push(table);
      // Bound logins as the services connect ("*": every tenant the login may serve), an unbound one
      // that names tenant A, and the bound ones asking for tenant B outright.
      for (const [login, setting, expected] of [
        ["iso_authz_a", "*", counts!.a],
        ["iso_extproc_a", "*", counts!.a],
        ["iso_unbound", A, counts!.a],
        ["iso_authz_a", B, 0],
        ["iso_unbound", null, 0],
      ] as const) {
        const readable = await sql<{ ok: boolean }>(
          `SELECT has_any_column_privilege($1, $2, 'SELECT') AS ok`,
          [login, table],
        );
        if (!readable[0]!.ok) continue;
        const visible = await asLogin(login, setting, async (c) => {
          const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
          return rows[0]!.n;
        });
        seen.push(`${login}:${table}`);
        expect({ table, login, setting, visible }).toEqual({ table, login, setting, visible: expected });
      }
    }
    expect(unseeded).toEqual([]);
    expect(seen).toEqual(expect.arrayContaining(["iso_authz_a:agents", "iso_extproc_a:llm_usage"]));
  }, 120_000);

  test("a bound login cannot write a row of another tenant, whatever it sets", async () => {
    const refused = await asLogin("iso_extproc_a", B, (c) =>
      c
        .query(`INSERT INTO audit_chain_heads (tenant, last_seq, last_hash) VALUES ($1, 1, 'x')`, [B])
        .then(() => "stored")
        .catch((error: { code?: string }) => error.code),
    );
    expect(refused).toBe("42501"); // new row violates row-level security policy
    expect(await sql(`SELECT 1 FROM audit_chain_heads WHERE tenant = $1 AND last_hash = 'x'`, [B])).toEqual(
      [],
    );
  }, 120_000);

  test("the control plane's own login narrowed to tenant A sees only A", async () => {
    const visible = await asLogin("iso_cp", A, async (c) => {
      const { rows } = await c.query<{ tenant: string }>(`SELECT DISTINCT tenant FROM agents`);
      return rows.map((r) => r.tenant);
    });
    expect(visible).toEqual([A]);
  }, 120_000);
});

describe("the tenant lifecycle", () => {
  test("warden tenants suspend: the data plane's registry read says so, a notification resyncs it, and resume undoes it", async () => {
    const platform = await fixture.token({ sub: "platform-op", roles: ["platform_admin"] });
    const env = { WARDEN_API_URL: fixture.url, WARDEN_TOKEN: platform };
    const notifications: string[] = [];
    const listener = new pg.Client({ connectionString: databaseUrl });
    const feedRead = () =>
      asLogin("iso_authz_a", "*", async (c) => {
        const { rows } = await c.query<{ status: string | null }>(
          `SELECT t.status FROM agents a LEFT JOIN tenants t ON t.id = a.tenant WHERE a.id = $1`,
          [ids[A]!.agent],
        );
        return rows[0]?.status;
      });
    await listener.connect();
    try {
      await listener.query("LISTEN warden_registry");
      listener.on("notification", (n) => notifications.push(n.payload ?? ""));
      const suspend = recordingCliIo(env);
      expect(await runWarden(["tenants", "suspend", A, "--reason", "unpaid"], suspend.io)).toBe(0);
      expect(suspend.out.join("\n")).toContain("tenant_suspended");
      expect(await feedRead()).toBe("suspended");
      const resume = recordingCliIo(env);
      expect(await runWarden(["tenants", "resume", A], resume.io)).toBe(0);
      expect(await feedRead()).toBe("active");
      await new Promise((r) => setTimeout(r, 200));
      expect(notifications.map((n) => JSON.parse(n) as { entity: string; id: string })).toEqual([
        expect.objectContaining({ entity: "tenant", id: A }),
        expect.objectContaining({ entity: "tenant", id: A }),
      ]);
      const list = recordingCliIo(env);
      expect(await runWarden(["tenants", "list", "--json"], list.io)).toBe(0);
      expect((JSON.parse(list.out.join("")) as { id: string }[]).map((t) => t.id)).toEqual([A, B]);
      // A tenant admin neither suspends its own tenant nor sees another's.
      const admin = await fixture.token({ sub: "a-admin", roles: ["admin"], tenant: A });
      expect(
        (await fixture.call("POST", `/v1/tenants/${A}/suspend`, { token: admin, body: { reason: "x" } }))
          .status,
      ).toBe(403);
      expect((await fixture.call("GET", `/v1/tenants/${B}`, { token: admin })).status).toBe(404);
      const events = await sql<{ action: string }>(
        `SELECT action FROM audit_events WHERE tenant = $1 AND action LIKE 'tenant.%' ORDER BY id`,
        [A],
      );
      expect(events.map((e) => e.action)).toEqual(["tenant.created", "tenant.suspended", "tenant.resumed"]);
    } finally {
      await listener.end();
    }
  }, 120_000);
});

test("every tenants operation was exercised with a documented status", () => {
  const ours = fixture.operations
    .filter((op) => op.path.startsWith("/v1/tenants"))
    .map((op) => op.operationId);
  expect(ours).toHaveLength(5);
  expect(ours.filter((id) => !fixture.covered.has(id))).toEqual([]);
});
