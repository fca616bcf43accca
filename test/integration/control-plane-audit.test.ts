import { mkdtempSync, rmSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { runWarden } from "../../control-plane/src/cli/warden.js";
import { normalizeAuditEvent } from "../../lib/src/audit/event.js";
import { appendAuditEntries } from "../../lib/src/audit/store.js";
import { AuditWriter } from "../../lib/src/audit/writer.js";
import { verifyAuditChain } from "../../lib/src/audit/verify.js";
import { loadMigrations, migrate } from "../../lib/src/db/migrate.js";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import type { Database } from "../../lib/src/db/types.js";
import { startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { REPO_ROOT, sleep, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";

const MIGRATIONS = join(REPO_ROOT, "control-plane", "migrations");

let cluster: PostgresCluster;
let spoolDir: string;

beforeAll(async () => {
  cluster = await startPostgres();
  spoolDir = mkdtempSync(join(tmpdir(), "warden-spool-"));
}, 60_000);

afterAll(async () => {
  await cluster?.destroy();
  rmSync(spoolDir, { recursive: true, force: true });
}, TEARDOWN_TIMEOUT_MS);

async function freshDatabase(): Promise<{ url: string; db: Database }> {
  const url = await cluster.createDatabase();
  const db = createPostgresDatabase(url, { connectTimeoutMs: 1_000 });
  await migrate(db, MIGRATIONS);
  return { url, db };
}

/** `warden audit verify --database-url <url>`: exit code and the line it prints. */
async function wardenVerify(url: string): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await runWarden(["audit", "verify", "--database-url", url], {
    env: {},
    stdout: (l) => out.push(l),
    stderr: (l) => out.push(l),
  });
  return { code, out: out.join("\n") };
}

function event(tenant: string, n: number) {
  return {
    tenant,
    source: "authz-server",
    action: "request.decision",
    decision: "allow",
    request_id: `req-${n}`,
    details: { n },
  };
}

describe("audit log on PostgreSQL", () => {
  test("migrations apply once; a second run applies nothing", async () => {
    const { db } = await freshDatabase();
    expect(await migrate(db, MIGRATIONS)).toEqual([]);
    const { rows } = await db.query<{ version: number }>(
      "SELECT version FROM schema_migrations ORDER BY version",
    );
    const files = (await loadMigrations(MIGRATIONS)).map((m) => m.version);
    expect(files.slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(rows.map((r) => r.version)).toEqual(files);
    await db.close();
  });

  test("audit rows cannot be updated, deleted or truncated, not even by the table owner", async () => {
    const { url, db } = await freshDatabase();
    const writer = await AuditWriter.open({ db, spoolPath: join(spoolDir, "append-only.ndjson") });
    await writer.append(event("acme", 1));
    await writer.close();
    await expect(db.query("UPDATE audit_events SET reason = 'x'")).rejects.toThrow(/append-only: UPDATE/);
    await expect(db.query("DELETE FROM audit_events")).rejects.toThrow(/append-only: DELETE/);
    await expect(db.query("TRUNCATE audit_events")).rejects.toThrow(/append-only: TRUNCATE/);

    // The services' role has no UPDATE/DELETE privilege in the first place.
    const role = `svc_${Date.now().toString(36)}`;
    await cluster.sql(`CREATE ROLE ${role} LOGIN IN ROLE warden_app`);
    const service = new pg.Client({ connectionString: url.replace("postgres@", `${role}@`) });
    await service.connect();
    try {
      await expect(service.query("UPDATE audit_events SET reason = 'x'")).rejects.toThrow(
        /permission denied/,
      );
      await expect(service.query("DELETE FROM audit_events")).rejects.toThrow(/permission denied/);
      const writerAsService = createPostgresDatabase(url.replace("postgres@", `${role}@`));
      const serviceWriter = await AuditWriter.open({
        db: writerAsService,
        spoolPath: join(spoolDir, "svc.ndjson"),
      });
      await serviceWriter.append(event("acme", 2)); // but it can append
      await serviceWriter.close();
      await writerAsService.close();
    } finally {
      await service.end();
    }
    expect((await verifyAuditChain(db)).ok).toBe(true);
    await db.close();
  });

  test("two writers appending concurrently to one tenant keep one linear chain", async () => {
    const { url, db } = await freshDatabase();
    const other = createPostgresDatabase(url);
    const a = await AuditWriter.open({ db, spoolPath: join(spoolDir, "a.ndjson"), batchSize: 7 });
    const b = await AuditWriter.open({ db: other, spoolPath: join(spoolDir, "b.ndjson"), batchSize: 5 });
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).append(event(i % 3 ? "acme" : "globex", i))),
    );
    await Promise.all([a.close(), b.close()]);
    const result = await verifyAuditChain(db);
    expect(result).toMatchObject({ ok: true, rows: 200, tenants: 2 });
    await other.close();
    await db.close();
  });

  test("PostgreSQL killed mid-burst of 1,000 events: all arrive exactly once, in order; tampering is found and named", async () => {
    const { url, db } = await freshDatabase();
    const spoolPath = join(spoolDir, "burst.ndjson");
    const writer = await AuditWriter.open({
      db,
      spoolPath,
      batchSize: 50,
      retryDelayMs: { min: 50, max: 500 },
    });
    const started = Date.now();
    const appended: Promise<unknown>[] = [];
    let maxSpooled = 0;
    let killedAt = 0;
    let readyAt = 0;
    for (let i = 0; i < 1_000; i++) {
      appended.push(writer.append(event("acme", i)));
      if (i === 300) void cluster.kill().then(() => (killedAt = Date.now()));
      if (i === 700) void cluster.start().then(() => (readyAt = Date.now()));
      maxSpooled = Math.max(maxSpooled, writer.status().spooled);
      if (i % 10 === 9) await sleep(50); // ~200 events/s, so PostgreSQL stays down for ~2 s of live traffic
    }
    await Promise.all(appended);
    await writer.delivered(60_000);
    const deliveredAt = Date.now();
    await writer.close();
    process.stdout.write(
      `audit spool: 1000 events; PostgreSQL killed at event #300 (down ${readyAt - killedAt} ms), ` +
        `up to ${maxSpooled} events spooled, all delivered ${deliveredAt - readyAt} ms after PostgreSQL was back; total ${deliveredAt - started} ms\n`,
    );
    const sawSpool = maxSpooled > 0;
    expect(sawSpool).toBe(true);

    const { rows } = await db.query<{ request_id: string; chain_seq: number }>(
      "SELECT request_id, chain_seq FROM audit_events WHERE tenant = 'acme' ORDER BY chain_seq",
    );
    expect(rows).toHaveLength(1_000);
    expect(rows.map((r) => r.request_id)).toEqual(Array.from({ length: 1_000 }, (_, i) => `req-${i}`));
    const verified = await wardenVerify(url);
    expect(verified).toEqual({ code: 0, out: "OK: audit chain intact (1000 rows, 1 tenants)" });

    // A DBA bypassing the trigger (replica mode skips triggers) alters one row: verify names it.
    const {
      rows: [victim],
    } = await db.query<{ id: number; event_id: string }>(
      "SELECT id, event_id FROM audit_events WHERE chain_seq = 567",
    );
    await db.transaction(async (tx) => {
      await tx.query("SET LOCAL session_replication_role = replica");
      await tx.query("UPDATE audit_events SET decision = 'deny' WHERE chain_seq = 567");
    });
    const tampered = await wardenVerify(url);
    expect(tampered.code).toBe(1);
    expect(tampered.out).toBe(
      `BROKEN: tenant acme, row id ${victim!.id} (chain_seq 567, event ${victim!.event_id}): stored hash does not match the row's contents (row altered) [hash_mismatch]`,
    );
    await db.close();
  }, 120_000);

  test("a batch delivered twice (commit acknowledged but the answer lost) is stored once", async () => {
    const { db } = await freshDatabase();
    const batch = [1, 2, 3].map((n) => normalizeAuditEvent(event("acme", n)));
    const first = await db.transaction((tx) => appendAuditEntries(tx, batch));
    const again = await db.transaction((tx) =>
      appendAuditEntries(tx, [...batch, normalizeAuditEvent(event("acme", 4))]),
    );
    expect(first.inserted).toHaveLength(3);
    expect(again.duplicates).toEqual(batch.map((e) => e.event_id));
    expect(again.inserted.map((r) => r.chain_seq)).toEqual([4]);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, rows: 4 });
    await db.close();
  });

  test("a writer restarted with events still in its spool delivers them; a torn last line is dropped", async () => {
    const { db } = await freshDatabase();
    const spoolPath = join(spoolDir, "restart.ndjson");
    await cluster.kill();
    const first = await AuditWriter.open({ db, spoolPath, retryDelayMs: { min: 50, max: 200 } });
    for (let i = 0; i < 20; i++) await first.append(event("acme", i));
    expect(first.status()).toMatchObject({ mode: "spooling", spooled: 20 });
    await first.close();
    appendFileSync(spoolPath, '{"event_id":"torn'); // a crash in the middle of an append
    await cluster.start();

    const second = await AuditWriter.open({ db, spoolPath });
    await second.delivered(30_000);
    await second.close();
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events");
    expect(rows[0]!.n).toBe(20);
    expect((await verifyAuditChain(db)).ok).toBe(true);
    await db.close();
  }, 60_000);
});
