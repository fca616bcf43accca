import { parseH2load } from "./h2load.js";

describe("h2load results", () => {
  test("latency comes from the per-request log; non-2xx responses are errors, not latency samples", () => {
    const log = [
      "1700000000000000\t200\t1000",
      "1700000000000100\t200\t3000",
      "1700000000000200\t503\t500",
      "",
    ].join("\n");
    const stdout = "requests: 3 total, 3 started, 3 done, 2 succeeded, 1 failed, 0 errored, 0 timeout";
    const result = parseH2load(stdout, log, 1);
    expect(result).toMatchObject({
      requests: 3,
      errors: 1,
      achieved_rps: 3,
      statuses: { "200": 2, "503": 1 },
    });
    expect(result.latency).toMatchObject({ count: 2, p50_ms: 1, max_ms: 3 });
  });
});
