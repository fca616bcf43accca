import { parseMigrationFile, planMigrations } from "./migrate.js";

const m = (file: string, sql = `-- ${file}`) => parseMigrationFile(file, sql);

describe("migration planning", () => {
  test("applies the missing ones in version order", () => {
    const available = [m("003_c.sql"), m("001_a.sql"), m("002_b.sql")];
    expect(
      planMigrations(available, [{ version: 1, checksum: available[1]!.checksum }]).map((x) => x.version),
    ).toEqual([2, 3]);
    expect(
      planMigrations(
        available,
        available.map((x) => ({ version: x.version, checksum: x.checksum })),
      ),
    ).toEqual([]);
  });

  test("refuses an edited migration, an unknown applied one, duplicates and bad names", () => {
    const a = m("001_a.sql");
    expect(() => planMigrations([a], [{ version: 1, checksum: "different" }])).toThrow(
      /changed after it was applied/,
    );
    expect(() =>
      planMigrations(
        [a],
        [
          { version: 1, checksum: a.checksum },
          { version: 2, checksum: "x" },
        ],
      ),
    ).toThrow(/does not know/);
    expect(() => planMigrations([a, m("001_b.sql")], [])).toThrow(/two migrations have version 1/);
    expect(() => m("1-a.sql")).toThrow(/NNN_name.sql/);
  });
});
