import { ApiError } from "./errors.js";
import { decodeSequenceCursor, decodeTimeCursor, encodeSequenceCursor, encodeTimeCursor } from "./cursor.js";

describe("pagination cursors", () => {
  test("round-trip the sort key of the last item", () => {
    const cursor = encodeTimeCursor(
      "agents",
      new Date("2026-01-02T03:04:05.678Z"),
      "6f1c1f0e-8a39-4f5e-9b77-1d3c2b1a0f00",
    );
    expect(decodeTimeCursor("agents", cursor)).toEqual({
      t: "2026-01-02T03:04:05.678Z",
      i: "6f1c1f0e-8a39-4f5e-9b77-1d3c2b1a0f00",
    });
    expect(decodeSequenceCursor("audit", encodeSequenceCursor("audit", 42))).toBe(42);
    expect(decodeTimeCursor("agents", undefined)).toBeUndefined();
  });

  test.each([
    ["garbage", "not base64url!"],
    ["valid base64, not JSON", Buffer.from("hello").toString("base64url")],
    [
      "JSON of the wrong shape",
      Buffer.from(JSON.stringify({ l: "agents", t: "yesterday", i: "x" })).toString("base64url"),
    ],
    [
      "another list's cursor",
      encodeTimeCursor("attestations", new Date(), "6f1c1f0e-8a39-4f5e-9b77-1d3c2b1a0f00"),
    ],
    [
      "an injection attempt",
      Buffer.from(
        JSON.stringify({ l: "agents", t: "2026-01-01T00:00:00Z'; DROP TABLE agents;--", i: "x" }),
      ).toString("base64url"),
    ],
  ])("refuse %s with a 400 naming query.cursor", (_what, cursor) => {
    try {
      decodeTimeCursor("agents", cursor);
      throw new Error("accepted");
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ status: 400, details: [{ field: "query.cursor" }] });
    }
  });
});
