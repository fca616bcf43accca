import { parseSpireCommand, runSpireCommand } from "./spire-commands.js";

describe("warden spire command line", () => {
  it("registers an agent under the naming scheme with the default node alias as parent", () => {
    const argv = "register --agent research-bot --selector unix:uid:1000 --ttl 600".split(" ");
    expect(parseSpireCommand(argv)).toEqual({
      action: "register",
      socketPath: "/tmp/spire-server/private/api.sock",
      entry: {
        spiffeId: "spiffe://warden.local/agent/research-bot",
        parentId: "spiffe://warden.local/node/local",
        selectors: ["unix:uid:1000"],
        x509SvidTtlSeconds: 600,
      },
    });
  });

  it("takes trust domain, socket and binary from the environment, flags first", () => {
    const env = {
      WARDEN_TRUST_DOMAIN: "acme.prod",
      WARDEN_SPIRE_SERVER_SOCKET: "/s.sock",
      WARDEN_SPIRE_SERVER_BIN: "/bin/ss",
    };
    const command = parseSpireCommand(["register", "--mcp", "github", "--selector", "k8s:ns:mcp"], env);
    expect(command).toMatchObject({ socketPath: "/s.sock", serverBinary: "/bin/ss" });
    expect(command.action === "register" && command.entry.spiffeId).toBe("spiffe://acme.prod/mcp/github");
    expect(command.action === "register" && command.entry.parentId).toBe("spiffe://acme.prod/node/local");
    const flagged = parseSpireCommand(["list", "--trust-domain", "other.td", "--warden", "authz"], env);
    expect(flagged).toMatchObject({
      action: "list",
      spiffeId: "spiffe://other.td/warden/authz",
      json: false,
    });
  });

  it("deletes by entry ID or by identity, never both", () => {
    expect(parseSpireCommand(["delete", "abc-123"])).toMatchObject({ action: "delete", entryId: "abc-123" });
    expect(parseSpireCommand(["delete", "--agent", "bot"])).toMatchObject({
      spiffeId: "spiffe://warden.local/agent/bot",
    });
    expect(() => parseSpireCommand(["delete", "abc", "--agent", "bot"])).toThrow("entry ID or one of");
    expect(() => parseSpireCommand(["delete"])).toThrow("entry ID or one of");
  });

  it.each([
    [["register", "--agent", "bot"], "at least one --selector"],
    [["register", "--selector", "unix:uid:1"], "needs --agent"],
    [["register", "--agent", "a", "--mcp", "b", "--selector", "unix:uid:1"], "give one of"],
    [["register", "--warden", "db", "--selector", "unix:uid:1"], "unknown Warden component"],
    [["register", "--agent", "bot", "--selector", "unix:uid:1", "--ttl", "1h"], "positive number of seconds"],
    [["ban"], "SPIRE agent's SPIFFE ID"],
    [["frobnicate"], 'unknown command "frobnicate"'],
    [["list", "--bogus"], "Unknown option"],
  ])("refuses %j with a usage message", async (argv, message) => {
    const errors: string[] = [];
    const code = await runSpireCommand(argv, {
      env: {},
      stdout: () => undefined,
      stderr: (l) => errors.push(l),
    });
    expect(code).toBe(2);
    expect(errors.join("\n")).toContain(message);
    expect(errors.join("\n")).toContain("usage:");
  });
});
