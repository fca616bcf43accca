import type { QueryResult, Queryable } from "../../../lib/src/db/types.js";
import { RowTable } from "./table.js";

const THINGS = new RowTable<{ id: string }>("things", "id, name, tags", new Set(["tags"]));

function recording(): Queryable & { calls: { sql: string; params: readonly unknown[] }[] } {
  const calls: { sql: string; params: readonly unknown[] }[] = [];
  return {
    calls,
    async query<Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
      calls.push({ sql: sql.replace(/\s+/g, " "), params });
      return { rows: [{ id: "1" } as Row], rowCount: 1 };
    },
    async exec() {},
  };
}

describe("whole-row statements", () => {
  test("an insert sends JSON columns as JSON text cast to jsonb", async () => {
    const db = recording();
    await THINGS.insert(db, { name: "a", tags: ["x"] });
    expect(db.calls[0]).toEqual({
      sql: "INSERT INTO things (name, tags) VALUES ($1, $2::jsonb) RETURNING id, name, tags",
      params: ["a", '["x"]'],
    });
  });

  test("an update sets only the defined fields and bumps the version", async () => {
    const db = recording();
    const at = new Date(0);
    await THINGS.update(db, "1", { name: undefined, tags: null }, at);
    expect(db.calls[0]).toEqual({
      sql: "UPDATE things SET tags = $3::jsonb, version = version + 1, updated_at = $2 WHERE id = $1 RETURNING id, name, tags",
      params: ["1", at, null],
    });
  });

  test("a lookup by id can lock the row", async () => {
    const db = recording();
    await THINGS.find(db, "1", true);
    expect(db.calls[0]?.sql).toBe("SELECT id, name, tags FROM things WHERE id = $1 FOR UPDATE");
  });
});
