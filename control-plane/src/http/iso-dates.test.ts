import { withIsoDates } from "./iso-dates.js";

describe("API timestamps", () => {
  test("are ISO-8601 strings; absent ones stay null and other fields are kept", () => {
    expect(
      withIsoDates({ id: "a", issued_at: new Date("2026-01-02T03:04:05Z"), revoked_at: null, scopes: ["x"] }),
    ).toEqual({ id: "a", issued_at: "2026-01-02T03:04:05.000Z", revoked_at: null, scopes: ["x"] });
  });
});
