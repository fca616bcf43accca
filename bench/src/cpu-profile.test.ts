import { areaOf, summarizeProfile } from "./cpu-profile.js";

const frame = (id: number, functionName: string, url: string, hitCount: number) => ({
  id,
  callFrame: { functionName, url, lineNumber: 9, columnNumber: 0, scriptId: "1" },
  hitCount,
});

describe("CPU profile summary", () => {
  test("self time is shared out by frame and by area, idle time left out", () => {
    const profile = {
      nodes: [
        frame(1, "(root)", "", 0),
        frame(2, "(idle)", "", 500),
        frame(3, "evaluate", "file:///w/node_modules/@open-policy-agent/opa-wasm/src/opa.js", 30),
        frame(4, "authorize", "file:///w/dist/authz-server/src/authorizer.js", 10),
        frame(5, "write", "file:///w/node_modules/sonic-boom/index.js", 20),
        frame(6, "writeUtf8String", "node:internal/fs/utils", 40),
      ],
      startTime: 0,
      endTime: 2_000_000,
      samples: [],
    };
    const summary = summarizeProfile(JSON.stringify(profile), 2);
    expect(summary.samples).toBe(100);
    expect(summary.duration_ms).toBe(2000);
    expect(summary.by_area).toEqual([
      { area: "node internals", self_pct: 40 },
      { area: "policy (opa-wasm js)", self_pct: 30 },
      { area: "logging (pino)", self_pct: 20 },
      { area: "warden authz-server", self_pct: 10 },
    ]);
    expect(summary.top_frames).toEqual([
      { frame: "writeUtf8String node:internal/fs/utils:10", area: "node internals", self_pct: 40 },
      { frame: "evaluate src/opa.js:10", area: "policy (opa-wasm js)", self_pct: 30 },
    ]);
  });

  test("the start-up window is left out when the profile has a sample timeline", () => {
    const profile = {
      nodes: [
        frame(1, "loadModule", "node:internal/modules/esm/utils", 0),
        frame(2, "check", "file:///w/dist/authz-server/src/server.js", 0),
      ],
      startTime: 0,
      endTime: 3_000_000,
      // 1 ms apart: two start-up samples, then three under load.
      samples: [1, 1, 2, 2, 2],
      timeDeltas: [1000, 1000, 1000, 1000, 1000],
    };
    const summary = summarizeProfile(JSON.stringify(profile), 5, 2.5);
    expect(summary.samples).toBe(3);
    expect(summary.by_area).toEqual([{ area: "warden authz-server", self_pct: 100 }]);
  });

  test("grpc-js frames are named by their package", () => {
    expect(areaOf("file:///w/node_modules/@grpc/grpc-js/build/src/server.js", "f")).toBe("@grpc/grpc-js");
    expect(areaOf("", "(garbage collector)")).toBe("garbage collection");
  });
});
