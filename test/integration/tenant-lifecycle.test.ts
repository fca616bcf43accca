import { runWarden } from "../../control-plane/src/cli/warden.js";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import { dataPlaneLogin } from "../harness/control-plane.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";

/**
 * The tenant lifecycle beyond create/suspend/resume. A suspended tenant is frozen in the control plane as well as on the data plane: nothing of it can
 * be changed through the API (409 with the reason), by its own administrators or by a platform
 * operator acting for it, while reads go on; another tenant is untouched; resuming lifts it.
 */
let f: ControlPlaneFixture;

beforeAll(async () => {
  f = await startControlPlaneFixture({ vault: true });
}, 180_000);

afterAll(async () => {
  await f?.close();
}, TEARDOWN_TIMEOUT_MS);

const limit = (tenant: string, team: string) => ({
  tenant,
  scope: "team",
  subject: team,
  unit: "requests",
  per_minute: 60,
  failure_mode: "open",
});

test("a suspended tenant's state cannot change through the API until it is resumed; reads and other tenants go on", async () => {
  const platform = await f.token({ sub: "pat-platform", roles: ["platform_admin", "admin"] });
  for (const id of ["frozen", "neighbour"])
    expect((await f.call("POST", "/v1/tenants", { token: platform, body: { id } })).status).toBe(201);
  const frozenAdmin = await f.token({ sub: "fran", roles: ["admin"], tenant: "frozen" });
  const neighbourAdmin = await f.token({ sub: "nina", roles: ["admin"], tenant: "neighbour" });
  const created = await f.call<{ id: string }>("POST", "/v1/rate-limits", {
    token: frozenAdmin,
    body: limit("frozen", "before"),
  });
  expect(created.status).toBe(201);

  expect(
    (await f.call("POST", "/v1/tenants/frozen/suspend", { token: platform, body: { reason: "unpaid" } }))
      .status,
  ).toBe(200);

  const refused = await f.call<{ error: { code: string; message: string } }>("POST", "/v1/rate-limits", {
    token: frozenAdmin,
    body: limit("frozen", "after"),
  });
  expect(refused.status).toBe(409);
  expect(refused.body.error).toMatchObject({
    code: "conflict",
    message: expect.stringMatching(/tenant frozen is suspended/),
  });
  // Deleting is a change too; a platform operator naming the tenant is held back the same way.
  expect((await f.call("DELETE", `/v1/rate-limits/${created.body.id}`, { token: frozenAdmin })).status).toBe(
    409,
  );
  expect(
    (await f.call("POST", "/v1/rate-limits", { token: platform, body: limit("frozen", "by-platform") }))
      .status,
  ).toBe(409);

  // Reads go on, and nothing was changed.
  const listed = await f.call<{ items: { subject: string }[] }>("GET", "/v1/rate-limits", {
    token: frozenAdmin,
  });
  expect(listed.status).toBe(200);
  expect(listed.body.items.map((item) => item.subject)).toEqual(["before"]);
  // The neighbour is untouched.
  expect(
    (await f.call("POST", "/v1/rate-limits", { token: neighbourAdmin, body: limit("neighbour", "n") }))
      .status,
  ).toBe(201);

  expect((await f.call("POST", "/v1/tenants/frozen/resume", { token: platform })).status).toBe(200);
  expect(
    (await f.call("POST", "/v1/rate-limits", { token: frozenAdmin, body: limit("frozen", "after") })).status,
  ).toBe(201);
}, 120_000);

/** `warden ...` with the database owner's URL; its exit code and output. */
async function warden(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runWarden(argv, {
    env: { ...process.env, DATABASE_URL: f.databaseUrl!, WARDEN_API_URL: "", WARDEN_TOKEN: "" },
    stdout: (line) => out.push(line),
    stderr: (line) => err.push(line),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

test("`warden tenants bind-login` confines a data-plane login to one tenant's rows; unbind-login lifts it", async () => {
  const platform = await f.token({ sub: "pat-platform", roles: ["platform_admin", "admin"] });
  for (const id of ["bound-a", "bound-b"]) {
    expect((await f.call("POST", "/v1/tenants", { token: platform, body: { id } })).status).toBe(201);
    expect(
      (await f.call("POST", "/v1/rate-limits", { token: platform, body: limit(id, `${id}-team`) })).status,
    ).toBe(201);
  }
  const loginUrl = await dataPlaneLogin(f.cluster!, f.databaseUrl!, "bound_a_authz", ["warden_dataplane"]);
  // What the login sees asking for every tenant, as our services do (`warden.tenant=*`).
  const visibleTenants = async () => {
    const db = createPostgresDatabase(loginUrl, { max: 1 });
    try {
      const { rows } = await db.query<{ tenant_id: string }>(
        "SELECT DISTINCT tenant_id FROM rate_limits WHERE tenant_id LIKE 'bound-%' ORDER BY 1",
      );
      return rows.map((row) => row.tenant_id);
    } finally {
      await db.close();
    }
  };
  expect(await visibleTenants()).toEqual(["bound-a", "bound-b"]);

  const bound = await warden("tenants", "bind-login", "bound_a_authz", "bound-a", "--json");
  expect(bound.code).toBe(0);
  expect(JSON.parse(bound.out)).toMatchObject({ login: "bound_a_authz", bound_tenant: "bound-a" });
  expect(await visibleTenants()).toEqual(["bound-a"]);
  const listed = await warden("tenants", "logins");
  expect(listed.out).toMatch(/bound_a_authz\s+bound-a/);

  // Clear refusals: an unknown login, an unknown tenant, a malformed name.
  expect(await warden("tenants", "bind-login", "no_such_login", "bound-a")).toMatchObject({
    code: 1,
    err: expect.stringMatching(/no database login named no_such_login/),
  });
  expect(await warden("tenants", "bind-login", "bound_a_authz", "no-such-tenant")).toMatchObject({
    code: 1,
    err: expect.stringMatching(/no tenant no-such-tenant/),
  });
  expect((await warden("tenants", "bind-login", "Robert'); DROP", "bound-a")).code).toBe(2);

  expect((await warden("tenants", "unbind-login", "bound_a_authz")).code).toBe(0);
  expect(await visibleTenants()).toEqual(["bound-a", "bound-b"]);
  expect((await warden("tenants", "unbind-login", "bound_a_authz")).code).toBe(1);
}, 120_000);
