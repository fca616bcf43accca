import { parseRegistrySnapshot } from "./static-file.js";

function snapshotWithLevel(level: unknown): unknown {
  return {
    agents: [
      {
        id: "agt-1",
        spiffe_id: "spiffe://warden.local/agent/bot",
        kind: "agent",
        name: "bot",
        tenant: "acme",
        status: "active",
        kya: { status: "approved", level, expires_at: 2_000_000_000_000_000_000 },
      },
    ],
  };
}

describe("registry snapshot files", () => {
  test("a KYA level is the number the control plane signs (1-3), passed to the policy as a number", () => {
    expect(parseRegistrySnapshot(snapshotWithLevel(3))[0]!.kya.level).toBe(3);
  });

  test.each([
    ["text", "2"],
    ["a name", "standard"],
    ["out of range", 4],
    ["not whole", 1.5],
  ])("a KYA level given as %s is refused, naming the field", (_what, level) => {
    expect(() => parseRegistrySnapshot(snapshotWithLevel(level))).toThrow(/agents\.0\.kya\.level/);
  });
});
