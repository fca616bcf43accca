import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";

/** With no DATABASE_URL the control plane runs the same migrations on embedded PGlite (the demo path). */
let f: ControlPlaneFixture;

beforeAll(async () => {
  f = await startControlPlaneFixture({ postgres: false });
}, 60_000);

afterAll(async () => {
  await f?.close();
}, TEARDOWN_TIMEOUT_MS);

test("the same migrations, registry, audit chain and notifications work on embedded PGlite", async () => {
  expect(f.controlPlane.db.kind).toBe("pglite");
  const heard: string[] = [];
  const unlisten = await f.controlPlane.db.listen("warden_registry", (payload) => heard.push(payload));
  const admin = await f.token({ sub: "alice", roles: ["admin"] });
  const created = await f.call<{ id: string; spiffe_id: string }>("POST", "/v1/agents", {
    token: admin,
    body: { name: "embedded-bot", tenant: "acme", team: "t", type: "assistant", environment: "dev" },
  });
  expect(created.status).toBe(201);
  expect(created.body.spiffe_id).toBe("spiffe://warden.local/agent/embedded-bot");
  const suspended = await f.call("PATCH", `/v1/agents/${created.body.id}`, {
    token: admin,
    body: { status: "suspended" },
    headers: { "if-match": '"v1"' },
  });
  expect(suspended.status).toBe(200);
  expect(heard.map((p) => (JSON.parse(p) as { status: string }).status)).toEqual(["active", "suspended"]);
  await unlisten();

  const events = await f.call<{ items: { action: string }[] }>(
    "GET",
    `/v1/audit/events?agent_id=${created.body.id}`,
    { token: admin },
  );
  expect(events.body.items.map((e) => e.action)).toEqual(["agent.created", "agent.suspended"]);
  expect((await f.call("POST", "/v1/audit/verify", { token: admin })).body).toMatchObject({
    ok: true,
    rows: 2,
  });
  await expect(f.controlPlane.db.query("DELETE FROM audit_events")).rejects.toThrow(/append-only/);
  expect((await f.call("GET", "/readyz")).body).toEqual({
    status: "ready",
    checks: { database: "ok", vault: "not_configured" },
  });
  expect((await f.call("GET", "/.well-known/jwks.json")).status).toBe(503);
}, 60_000);
