import { workloadApiTarget } from "./workload-endpoint.js";

describe("Workload API endpoint addresses", () => {
  it("turns SPIFFE_ENDPOINT_SOCKET forms into gRPC targets", () => {
    expect(workloadApiTarget("unix:///run/spire/agent.sock")).toBe("unix:///run/spire/agent.sock");
    expect(workloadApiTarget("/run/spire/agent.sock")).toBe("unix:///run/spire/agent.sock");
    expect(workloadApiTarget("tcp://127.0.0.1:8000")).toBe("ipv4:127.0.0.1:8000");
    expect(workloadApiTarget("tcp://[::1]:8000")).toBe("ipv6:[::1]:8000");
  });

  it.each([
    { address: "unix://host/run/agent.sock", reason: "no host" },
    { address: "unix:///", reason: "socket path is missing" },
    { address: "unix:///run/agent.sock?x=1", reason: "query" },
    { address: "tcp://localhost:8000", reason: "IP address" },
    { address: "tcp://127.0.0.1", reason: "port" },
    { address: "tcp://127.0.0.1:8000/path", reason: "no path" },
    { address: "http://127.0.0.1:8000", reason: "unsupported scheme" },
    { address: "relative/agent.sock", reason: "not a URL" },
  ])("rejects $address ($reason)", ({ address, reason }) => {
    expect(() => workloadApiTarget(address)).toThrow(reason);
  });
});
