import { openLoop, pooledOpenLoop } from "./open-loop.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("the open-loop generator", () => {
  it("sends at the offered rate whether or not answers came back", async () => {
    const result = await openLoop({ rate: 200, durationS: 0.5, send: () => sleep(30) });
    expect(result.requests).toBe(100);
    expect(result.errors).toBe(0);
  });

  it("counts a server stall against every request that was due during it (coordinated omission)", async () => {
    // The "server" answers in ~1 ms but stalls for 300 ms from the 20th request on: everything due
    // during the stall is answered only when it ends.
    let stallUntil = 0;
    const send = async (index: number) => {
      if (index === 20) stallUntil = performance.now() + 300;
      const wait = stallUntil - performance.now();
      await sleep(wait > 0 ? wait : 1);
    };
    const result = await openLoop({ rate: 200, durationS: 1, send });
    expect(result.requests).toBe(200);
    // ~60 of 200 requests were due during the stall: the p90 includes it, the median does not.
    expect(result.latency.p90_ms).toBeGreaterThan(100);
    expect(result.latency.p50_ms).toBeLessThan(100);
  });

  it("counts failed requests as errors, not latencies, and pools rounds", async () => {
    const failing = await openLoop({
      rate: 100,
      durationS: 0.2,
      send: (i) => (i % 2 === 0 ? Promise.reject(new Error("refused")) : sleep(1)),
    });
    expect(failing.errors).toBe(10);
    expect(failing.requests).toBe(10);
    expect(pooledOpenLoop([failing, failing]).requests).toBe(20);
  });
});
