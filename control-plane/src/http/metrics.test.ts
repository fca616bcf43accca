import Fastify, { type FastifyInstance } from "fastify";
import { Secret } from "../../../lib/src/config.js";
import { createPgliteDatabase } from "../../../lib/src/db/pglite.js";
import type { Database } from "../../../lib/src/db/types.js";
import { serveMetrics } from "./metrics.js";

let db: Database;
beforeAll(async () => {
  // A real (embedded) database without the schema: the registry gauge's query fails and is skipped.
  db = await createPgliteDatabase();
}, 60_000);
afterAll(() => db.close());

/** A Fastify app with /metrics, listening on a free loopback port. */
async function app(token?: string): Promise<{ server: FastifyInstance; get: GetFn }> {
  const server = Fastify();
  serveMetrics(server, { db, token: token === undefined ? undefined : new Secret(token) });
  server.get("/ping", async () => ({ ok: true }));
  const base = await server.listen({ host: "127.0.0.1", port: 0 });
  return { server, get: (path, headers = {}) => fetch(`${base}${path}`, { headers }) };
}

type GetFn = (path: string, headers?: Record<string, string>) => Promise<Response>;

test("without a metrics token, /metrics answers Prometheus text with the API's request durations", async () => {
  const { server, get } = await app();
  await get("/ping");
  const response = await get("/metrics");
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  expect(await response.text()).toContain("# TYPE http_server_request_duration_seconds histogram");
  await server.close();
});

test("with a metrics token, /metrics refuses a missing or wrong bearer token (401 JSON) and takes the right one", async () => {
  const token = "metrics-token-0123456789";
  const { server, get } = await app(token);
  const missing = await get("/metrics");
  expect(missing.status).toBe(401);
  expect(await missing.json()).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
  const wrong = await get("/metrics", { authorization: "Bearer metrics-token-0123456780" });
  expect(wrong.status).toBe(401);
  expect(await wrong.text()).not.toContain(token);
  const right = await get("/metrics", { authorization: `Bearer ${token}` });
  expect(right.status).toBe(200);
  expect(await right.text()).toContain("http_server_request_duration_seconds");
  await server.close();
});
