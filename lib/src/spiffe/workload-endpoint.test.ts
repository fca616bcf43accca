import { workloadApiTarget } from "./workload-endpoint.js";

describe("Workload API endpoint addresses", () => {
  it("turns SPIFFE_ENDPOINT_SOCKET forms into gRPC targets", () => {
    expect(workloadApiTarget("unix:///run/spire/agent.sock")).toBe("unix:///run/spire/agent.sock");
    expect(workloadApiTarget("/run/spire/agent.sock")).toBe("unix:///run/spire/agent.sock");
    expect(workloadApiTarget("tcp://127.0.0.1:8000")).toBe("ipv4:127.0.0.1:8000");
    expect(workloadApiTarget("tcp://[::1]:8000")).toBe("ipv6:[::1]:8000");
  });

  it.each([
    ["unix://host/run/agent.sock", "no host"],
    ["unix:///", "socket path is missing"],
    ["unix:///run/agent.sock?x=1", "query"],
    ["tcp://localhost:8000", "IP address"],
    ["tcp://127.0.0.1", "port"],
    ["tcp://127.0.0.1:8000/path", "no path"],
    ["http://127.0.0.1:8000", "unsupported scheme"],
    ["relative/agent.sock", "not a URL"],
  ])("rejects %j (%s)", (address, reason) => {
    expect(() => workloadApiTarget(address)).toThrow(reason);
  });
});
