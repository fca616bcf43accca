import { Conditions } from "./conditions.js";

describe("SQL conditions", () => {
  test("bind each question mark to the next numbered parameter", () => {
    const where = new Conditions(["first"], ["kept = $1"]);
    where.add("tenant = ?", "acme").add("(at, id) > (?::timestamptz, ?::uuid)", "t", "i");
    expect(where.where()).toBe("WHERE kept = $1 AND tenant = $2 AND (at, id) > ($3::timestamptz, $4::uuid)");
    expect(where.bind(10)).toBe("$5");
    expect(where.params).toEqual(["first", "acme", "t", "i", 10]);
  });

  test("say nothing when there is no condition", () => {
    expect(new Conditions().where()).toBe("");
  });
});
