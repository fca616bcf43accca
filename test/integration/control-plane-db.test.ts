import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import { startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";

/** The shared data-access layer against a real PostgreSQL: transactions and LISTEN across a restart. */
let cluster: PostgresCluster;

beforeAll(async () => {
  cluster = await startPostgres();
}, 60_000);

afterAll(async () => {
  await cluster?.destroy();
}, TEARDOWN_TIMEOUT_MS);

test("a transaction that throws is rolled back; its NOTIFY is never delivered", async () => {
  const db = createPostgresDatabase(await cluster.createDatabase());
  const heard: string[] = [];
  const unlisten = await db.listen("chan", (payload) => heard.push(payload));
  await db.query("CREATE TABLE t (x int)");
  await expect(
    db.transaction(async (tx) => {
      await tx.query("INSERT INTO t VALUES (1)");
      await tx.query("SELECT pg_notify('chan', 'rolled back')");
      throw new Error("boom");
    }),
  ).rejects.toThrow("boom");
  await db.transaction(async (tx) => {
    await tx.query("INSERT INTO t VALUES (2)");
    await tx.query("SELECT pg_notify('chan', 'committed')");
  });
  await waitFor("the notification", () => heard.length > 0, 5_000);
  expect(heard).toEqual(["committed"]);
  expect((await db.query<{ x: number }>("SELECT x FROM t")).rows).toEqual([{ x: 2 }]);
  await unlisten();
  await db.close();
});

test("a listener reconnects after PostgreSQL restarts, says so, and hears notifications again", async () => {
  const url = await cluster.createDatabase();
  const db = createPostgresDatabase(url, { connectTimeoutMs: 500 });
  const heard: string[] = [];
  let reconnects = 0;
  await db.listen("warden_registry", (payload) => heard.push(payload), {
    onReconnect: () => (reconnects += 1),
  });
  await cluster.kill();
  await expect(db.query("SELECT 1")).rejects.toThrow();
  await cluster.start();
  await waitFor("the listener to reconnect", () => reconnects === 1, 15_000);
  await db.query("SELECT pg_notify('warden_registry', 'after restart')");
  await waitFor("the notification", () => heard.length === 1, 5_000);
  expect(heard).toEqual(["after restart"]);
  await db.close();
}, 60_000);
