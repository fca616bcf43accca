import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";

/**
 * A suspended tenant is frozen in the control plane as well as on the data plane: nothing of it can
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
