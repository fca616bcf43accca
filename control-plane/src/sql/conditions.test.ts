import { Conditions } from "./conditions.js";

describe("SQL conditions", () => {
  test("bind each question mark to the next numbered parameter", () => {
    const where = new Conditions(["first"], ["kept = $1"]);
    where.add("tenant = ?", "acme").add("(at, id) > (?::timestamptz, ?::uuid)", "t", "i");
    expect(where.where()).toBe("WHERE kept = $1 AND tenant = $2 AND (at, id) > ($3::timestamptz, $4::uuid)");
    expect(where.bind(10)).toBe("$5");
    expect(where.params).toEqual(["first", "acme", "t", "i", 10]);
  });

  test("match the filter fields that are set, and a time range by its given bounds", () => {
    const filter: { tenant?: string; team?: string; owner?: string } = { tenant: "acme", owner: "carl" };
    const where = new Conditions()
      .equal(filter, ["tenant", "team", "owner"])
      .within("at", "2026-01-01", undefined);
    expect(where.where()).toBe("WHERE tenant = $1 AND owner = $2 AND at >= $3::timestamptz");
    expect(where.params).toEqual(["acme", "carl", "2026-01-01"]);
  });

  test("say nothing when there is no condition", () => {
    expect(new Conditions().where()).toBe("");
  });
});
