import { canonicalJson } from "./canonical.js";
import { ChainVerifier, chainHash, GENESIS_HASH, type AuditRecord } from "./chain.js";
import { normalizeAuditEvent } from "./event.js";

function chain(count: number, tenant = "acme"): AuditRecord[] {
  const rows: AuditRecord[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= count; i++) {
    const entry = normalizeAuditEvent({
      tenant,
      source: "authz-server",
      action: "request.decision",
      decision: "allow",
      request_id: `r${i}`,
      occurred_at: "2026-01-01T00:00:00Z",
    });
    const chained = { ...entry, chain_seq: i, recorded_at: "2026-01-01T00:00:01.000Z", prev_hash: prev };
    const record = { ...chained, id: 100 + i, hash: chainHash(chained) };
    rows.push(record);
    prev = record.hash;
  }
  return rows;
}

function verify(
  rows: AuditRecord[],
  head = { tenant: "acme", last_seq: rows.length, last_hash: rows[rows.length - 1]?.hash ?? GENESIS_HASH },
) {
  const verifier = new ChainVerifier("acme");
  for (const row of rows) {
    const problem = verifier.check(row);
    if (problem) return problem;
  }
  return verifier.finish(head);
}

describe("canonical JSON", () => {
  test("is independent of key order and drops undefined", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, "x", null], c: true }, z: undefined })).toBe(
      '{"a":{"c":true,"d":[1,"x",null]},"b":1}',
    );
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/non-finite/);
  });
});

describe("hash chain verification", () => {
  test("an intact chain verifies", () => {
    expect(verify(chain(5))).toBeNull();
  });

  test("an altered field breaks the chain at that row", () => {
    const rows = chain(5);
    rows[2] = { ...rows[2]!, decision: "deny" };
    expect(verify(rows)).toMatchObject({ kind: "hash_mismatch", id: 103, chain_seq: 3 });
  });

  test("a row recomputed after alteration still breaks the link to the next row", () => {
    const rows = chain(5);
    const altered = { ...rows[2]!, decision: "deny" as const };
    rows[2] = { ...altered, hash: chainHash(altered) };
    expect(verify(rows)).toMatchObject({ kind: "prev_hash_mismatch", chain_seq: 4 });
  });

  test("a deleted row in the middle is a sequence gap at the row after it", () => {
    const rows = chain(5);
    rows.splice(1, 1);
    expect(verify(rows, { tenant: "acme", last_seq: 5, last_hash: rows[3]!.hash })).toMatchObject({
      kind: "sequence_gap",
      chain_seq: 3,
      id: 103,
    });
  });

  test("rows deleted from the end are caught by the chain head", () => {
    const rows = chain(5);
    expect(verify(rows.slice(0, 3), { tenant: "acme", last_seq: 5, last_hash: rows[4]!.hash })).toMatchObject(
      { kind: "head_mismatch", id: null, chain_seq: 4 },
    );
  });
});

describe("audit event normalisation", () => {
  test("fills event id and time, and keeps only what PostgreSQL can store", () => {
    const entry = normalizeAuditEvent(
      {
        tenant: "acme",
        source: "extproc-server",
        action: "credential.accessed",
        reason: "nul\u0000byte",
        details: { s: "lone\uD800surrogate", nested: { k: "v" } },
      },
      () => new Date("2026-03-04T05:06:07.891Z"),
    );
    expect(entry.event_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(entry.occurred_at).toBe("2026-03-04T05:06:07.891Z");
    expect(entry.reason).toBe("nul\uFFFDbyte");
    expect(entry.details).toEqual({ s: "lone\uFFFDsurrogate", nested: { k: "v" } });
  });

  test("microsecond timestamps are cut to milliseconds so the stored row hashes the same", () => {
    expect(
      normalizeAuditEvent({
        tenant: "acme",
        source: "authz-server",
        action: "request.decision",
        occurred_at: "2026-01-01T00:00:00.123456+02:00",
      }).occurred_at,
    ).toBe("2025-12-31T22:00:00.123Z");
  });

  test("refuses events it could never store, with every reason", () => {
    expect(() =>
      normalizeAuditEvent({
        tenant: "Acme Corp",
        source: "somewhere",
        action: "decided",
        agent_id: "not-a-uuid",
        extra: 1,
      }),
    ).toThrow(/tenant: .*source: .*action: .*agent_id: .*Unrecognized key/s);
    expect(() =>
      normalizeAuditEvent({
        tenant: "acme",
        source: "cli",
        action: "a.b",
        details: { blob: "x".repeat(20_000) },
      }),
    ).toThrow(/details: larger than/);
  });
});

describe("canonical JSON fast path", () => {
  it("gives the same bytes for values already in key order and for any other order", () => {
    const values: unknown[] = [
      { a: 1, b: { c: [1, { d: 2, e: null }], f: "x" }, g: true },
      { b: 1, a: 2 },
      { "10": 1, "9": 2, a: 3 },
      { a: [undefined, 1], b: new Date(0) },
      { a: { z: 1, y: 2 } },
      [{ b: 1, a: 2 }, "s", 1.5, false],
      { é: 1, e: 2, E: 3, "\u{1F600}": 4, "\uFFFF": 5 },
    ];
    const slowCopy = (v: unknown): string => {
      if (v === null || typeof v !== "object") return JSON.stringify(v);
      if (v instanceof Date) return JSON.stringify(v.toISOString());
      if (Array.isArray(v)) return `[${v.map((i) => slowCopy(i === undefined ? null : i)).join(",")}]`;
      const entries = Object.entries(v as Record<string, unknown>)
        .filter(([, m]) => m !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, m]) => `${JSON.stringify(k)}:${slowCopy(m)}`).join(",")}}`;
    };
    for (const value of values) expect(canonicalJson(value)).toBe(slowCopy(value));
    expect(() => canonicalJson({ a: [Number.POSITIVE_INFINITY] })).toThrow(/non-finite/);
  });
});
