import { describe, expect, it } from "@jest/globals";
import type { Queryable } from "../../../lib/src/db/types.js";
import { expirySweeper, SWEEP_LIMIT } from "./session.js";

/** The statements a sweep sends (the SQL itself runs against PostgreSQL in portal-session.test.ts). */
function recording(): { db: Queryable; sent: { sql: string; params: readonly unknown[] }[] } {
  const sent: { sql: string; params: readonly unknown[] }[] = [];
  const db: Queryable = {
    query: <Row>(sql: string, params: readonly unknown[] = []) => {
      sent.push({ sql, params });
      return Promise.resolve({ rows: [] as Row[], rowCount: 0 });
    },
    exec: () => Promise.resolve(),
  };
  return { db, sent };
}

describe("the expired-session sweep", () => {
  it("runs at most once per interval, each time deleting a bounded number of rows", async () => {
    const { db, sent } = recording();
    const sweep = expirySweeper(db, 30_000);
    const t0 = new Date("2026-12-08T04:00:00Z");
    await sweep(t0);
    expect(sent.map((q) => q.sql)).toEqual([
      expect.stringMatching(/DELETE FROM portal_sessions .* LIMIT \$2/s),
      expect.stringMatching(/DELETE FROM portal_logins .* LIMIT \$2/s),
    ]);
    expect(sent[0]!.params).toEqual([t0, SWEEP_LIMIT]);
    await sweep(new Date(t0.getTime() + 29_999));
    expect(sent).toHaveLength(2);
    await sweep(new Date(t0.getTime() + 30_000));
    expect(sent).toHaveLength(4);
  });
});
