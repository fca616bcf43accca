import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { normalizeAuditEvent } from "./event.js";
import { AuditSpool } from "./spool.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "warden-spool-unit-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const entries = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) =>
    normalizeAuditEvent({
      tenant: "acme",
      source: "authz-server",
      action: "request.decision",
      request_id: `r${from + i}`,
    }),
  );

describe("audit spool", () => {
  test("hands entries back in order, in batches, and forgets them once acknowledged", async () => {
    const spool = await AuditSpool.open(join(dir, "s.ndjson"));
    await spool.append(entries(5));
    await spool.append(entries(2, 5));
    expect(spool.pending).toBe(7);
    const first = await spool.peek(3);
    expect(first.entries.map((e) => e.request_id)).toEqual(["r0", "r1", "r2"]);
    expect((await spool.peek(3)).entries.map((e) => e.request_id)).toEqual(["r0", "r1", "r2"]); // peek does not consume
    await spool.acknowledge(first.endOffset, 3);
    const rest = await spool.peek(100);
    expect(rest.entries.map((e) => e.request_id)).toEqual(["r3", "r4", "r5", "r6"]);
    await spool.acknowledge(rest.endOffset, 4);
    expect(spool.pending).toBe(0);
    expect(statSync(join(dir, "s.ndjson")).size).toBe(0);
    await spool.close();
  });

  test("survives a restart: undelivered entries are still there, delivered ones are not", async () => {
    const path = join(dir, "s.ndjson");
    const spool = await AuditSpool.open(path);
    await spool.append(entries(4));
    const batch = await spool.peek(1);
    await spool.acknowledge(batch.endOffset, 1);
    await spool.close();
    const reopened = await AuditSpool.open(path);
    expect(reopened.pending).toBe(3);
    expect((await reopened.peek(10)).entries.map((e) => e.request_id)).toEqual(["r1", "r2", "r3"]);
    await reopened.close();
  });

  test("a torn last line (crash mid-append) is dropped, and appends continue cleanly", async () => {
    const path = join(dir, "s.ndjson");
    const spool = await AuditSpool.open(path);
    await spool.append(entries(2));
    await spool.close();
    appendFileSync(path, '{"event_id":"half-writ');
    const reopened = await AuditSpool.open(path);
    expect(reopened.pending).toBe(2);
    await reopened.append(entries(1, 2));
    expect((await reopened.peek(10)).entries.map((e) => e.request_id)).toEqual(["r0", "r1", "r2"]);
    expect(readFileSync(path, "utf8").split("\n").filter(Boolean)).toHaveLength(3);
    await reopened.close();
  });

  test("files are private to the service user", async () => {
    const spool = await AuditSpool.open(join(dir, "s.ndjson"));
    expect(statSync(join(dir, "s.ndjson")).mode & 0o777).toBe(0o600);
    await spool.close();
  });
});
