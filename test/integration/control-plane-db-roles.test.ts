import { MIGRATIONS_DIR } from "../../control-plane/src/files.js";
import { migrate } from "../../lib/src/db/migrate.js";
import { createPgliteDatabase } from "../../lib/src/db/pglite.js";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import type { Database } from "../../lib/src/db/types.js";
import { dataPlaneLogin } from "../harness/control-plane.js";
import { startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";

/**
 * Migration 004: the data plane's database role (`warden_dataplane`) reads the registry and the KYA
 * attestations, and nothing else. authz-server connects as a login role in it (here as in
 * production), so a compromised sidecar can neither approve itself nor read the audit log.
 */
let cluster: PostgresCluster;
let owner: Database;
let dataPlane: Database;
let agentId: string;

const PERMISSION_DENIED = /permission denied/;

beforeAll(async () => {
  cluster = await startPostgres();
  const url = await cluster.createDatabase();
  owner = createPostgresDatabase(url);
  await migrate(owner, MIGRATIONS_DIR);
  const { rows } = await owner.query<{ id: string }>(
    `INSERT INTO agents (kind, name, spiffe_id, tenant, owner, team, type, environment, created_by)
     VALUES ('agent', 'bot', 'spiffe://warden.local/agent/bot', 'acme', 'carl', 't', 'assistant', 'prod', 'carl')
     RETURNING id`,
  );
  agentId = rows[0]!.id;
  await owner.query(
    `INSERT INTO kya_attestations (agent_id, tenant, evidence, declared_capabilities, submitted_by)
     VALUES ($1, 'acme', '{}', '[]', 'carl')`,
    [agentId],
  );
  dataPlane = createPostgresDatabase(await dataPlaneLogin(cluster, url));
}, 60_000);

afterAll(async () => {
  await dataPlane?.close();
  await owner?.close();
  await cluster?.destroy();
}, TEARDOWN_TIMEOUT_MS);

test("the data-plane login is not a superuser and reads the registry and attestations", async () => {
  const { rows } = await dataPlane.query<{ user: string; superuser: boolean }>(
    "SELECT current_user AS user, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user",
  );
  expect(rows).toEqual([{ user: "warden_authz", superuser: false }]);
  expect((await dataPlane.query("SELECT id, status FROM agents")).rows).toEqual([
    { id: agentId, status: "active" },
  ]);
  expect((await dataPlane.query("SELECT status FROM kya_attestations")).rows).toEqual([
    { status: "pending" },
  ]);
});

test("the data-plane login hears registry notifications (LISTEN needs no grant)", async () => {
  const heard: string[] = [];
  const unlisten = await dataPlane.listen("warden_registry", (payload) => heard.push(payload));
  await owner.query("SELECT pg_notify('warden_registry', 'changed')");
  await waitFor("the notification", () => heard.length === 1, 5_000);
  await unlisten();
  expect(heard).toEqual(["changed"]);
});

describe("the data-plane login cannot change the registry or read anything else", () => {
  test.each([
    [
      "INSERT an agent",
      `INSERT INTO agents (kind, name, spiffe_id, tenant, owner, team, type, environment, created_by)
       VALUES ('agent', 'evil', 'spiffe://warden.local/agent/evil', 'acme', 'x', 't', 'a', 'prod', 'x')`,
    ],
    ["UPDATE an agent (e.g. re-activate itself)", "UPDATE agents SET status = 'active'"],
    ["DELETE an agent", "DELETE FROM agents"],
    [
      "INSERT an attestation",
      `INSERT INTO kya_attestations (agent_id, tenant, evidence, declared_capabilities, submitted_by)
       SELECT id, tenant, '{}', '[]', 'x' FROM agents`,
    ],
    ["UPDATE an attestation (e.g. approve itself)", "UPDATE kya_attestations SET status = 'approved'"],
    ["DELETE an attestation", "DELETE FROM kya_attestations"],
    ["SELECT the audit log", "SELECT * FROM audit_events"],
    ["SELECT the audit chain heads", "SELECT * FROM audit_chain_heads"],
    ["UPDATE an audit chain head", "UPDATE audit_chain_heads SET last_seq = 0"],
    ["INSERT an audit event", "INSERT INTO audit_events DEFAULT VALUES"],
    ["SELECT the migrations", "SELECT * FROM schema_migrations"],
    ["CREATE a table in the schema", "CREATE TABLE public.backdoor (x int)"],
  ])("%s is refused with permission denied", async (_what, sql) => {
    await expect(dataPlane.query(sql)).rejects.toThrow(PERMISSION_DENIED);
  });

  test("and nothing it tried changed a row", async () => {
    const { rows } = await owner.query<{ agents: number; attestations: number; pending: number }>(
      `SELECT (SELECT count(*)::int FROM agents) AS agents,
              (SELECT count(*)::int FROM kya_attestations) AS attestations,
              (SELECT count(*)::int FROM kya_attestations WHERE status = 'pending') AS pending`,
    );
    expect(rows).toEqual([{ agents: 1, attestations: 1, pending: 1 }]);
  });
});

test("the migration is idempotent: a second database on the same cluster (role already there) migrates", async () => {
  const second = createPostgresDatabase(await cluster.createDatabase());
  try {
    const applied = await migrate(second, MIGRATIONS_DIR);
    expect(applied.map((m) => m.version)).toContain(4);
    const { rows } = await second.query<{ table_name: string; privilege_type: string }>(
      `SELECT table_name, privilege_type FROM information_schema.role_table_grants
        WHERE grantee = 'warden_dataplane' ORDER BY table_name, privilege_type`,
    );
    // Later migrations may let the data plane read more tables; never write to one.
    expect(rows).toEqual(
      expect.arrayContaining([
        { table_name: "agents", privilege_type: "SELECT" },
        { table_name: "kya_attestations", privilege_type: "SELECT" },
      ]),
    );
    expect(rows.filter((r) => r.privilege_type !== "SELECT")).toEqual([]);
  } finally {
    await second.close();
  }
});

test("on embedded PGlite the same role exists with the same limits", async () => {
  const embedded = await createPgliteDatabase();
  try {
    await migrate(embedded, MIGRATIONS_DIR);
    await embedded.exec("SET ROLE warden_dataplane");
    expect((await embedded.query("SELECT count(*)::int AS n FROM agents")).rows).toEqual([{ n: 0 }]);
    await expect(embedded.query("UPDATE kya_attestations SET status = 'approved'")).rejects.toThrow(
      PERMISSION_DENIED,
    );
    await expect(embedded.query("SELECT * FROM audit_events")).rejects.toThrow(PERMISSION_DENIED);
  } finally {
    await embedded.close();
  }
}, 60_000);
