import { loadRuntimeConfig } from "./layout.js";
import { parseZeroCode } from "./zero-code.js";

describe("zero-code settings", () => {
  test("off unless an agent is named", () => {
    expect(parseZeroCode(undefined, undefined, 8090, "warden.local")).toEqual({ ok: true, zeroCode: null });
    expect(loadRuntimeConfig({}, "/tmp").zeroCode).toBeNull();
  });

  test("the bound agent's SPIFFE ID and a loopback port", () => {
    expect(parseZeroCode("legacy-bot", "127.0.0.1:4100", 8090, "warden.local")).toEqual({
      ok: true,
      zeroCode: { agent: "legacy-bot", spiffeId: "spiffe://warden.local/agent/legacy-bot", port: 4100 },
    });
    const config = loadRuntimeConfig({}, "/tmp", { zeroCodeAgent: "legacy-bot", zeroCodePort: "4100" });
    expect(config.zeroCode?.port).toBe(4100);
    expect(config.ports.zeroCode).toBe(4100);
  });

  test("a non-loopback address, a bad name or a port without an agent is refused with the reason", () => {
    const open = parseZeroCode("legacy-bot", "0.0.0.0:4100", 8090, "warden.local");
    expect(open).toEqual({ ok: false, problems: [expect.stringContaining("loopback only")] });
    expect(parseZeroCode("Legacy Bot", undefined, 8090, "warden.local")).toEqual({
      ok: false,
      problems: [expect.stringContaining("is not an agent name")],
    });
    expect(() => loadRuntimeConfig({ WARDEN_ZERO_CODE_PORT: "4100" }, "/tmp")).toThrow(
      /only with --zero-code-agent/,
    );
  });
});
