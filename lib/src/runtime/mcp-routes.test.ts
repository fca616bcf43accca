import { ConfigError } from "../config.js";
import { loadRuntimeConfig } from "./layout.js";
import { mcpServerEntries, parseMcpRoutes } from "./mcp-routes.js";

describe("warden up --mcp-server / WARDEN_MCP_SERVERS", () => {
  test("each entry becomes the route /mcp/<name>/ to its server", () => {
    const result = parseMcpRoutes(
      [
        "files=warden+https://files.internal:8443",
        "wiki=https://wiki.example",
        "local=http://127.0.0.1:9000",
      ],
      "warden.local",
    );
    expect(result).toEqual({
      ok: true,
      destinations: [
        expect.objectContaining({
          name: "mcp-files",
          service: "files",
          kind: "mcp",
          pathPrefix: "/mcp/files/",
          upstream: {
            address: "files.internal",
            port: 8443,
            tls: true,
            spiffeId: "spiffe://warden.local/mcp/files",
          },
        }),
        expect.objectContaining({
          pathPrefix: "/mcp/wiki/",
          upstream: { address: "wiki.example", port: 443, tls: true },
        }),
        expect.objectContaining({ upstream: { address: "127.0.0.1", port: 9000, tls: false } }),
      ],
    });
  });

  test("every bad entry is named with what is wrong, all at once", () => {
    const result = parseMcpRoutes(
      [
        "Files=https://a.example",
        "files",
        "docs=ftp://a.example",
        "wiki=http://wiki.example",
        "git=https://git.example/mcp",
        "dup=https://a.example",
        "dup=https://b.example",
        "key=https://user:pw@a.example",
      ],
      "warden.local",
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toEqual([
      expect.stringMatching(/"Files": a name is lower-case/),
      expect.stringMatching(/"files": expected <name>=<url>/),
      expect.stringMatching(/"docs": scheme "ftp" is not one of/),
      expect.stringMatching(/"wiki": plain http only to this machine/),
      expect.stringMatching(/"git": no path/),
      expect.stringMatching(/"dup": given twice/),
      expect.stringMatching(/"key": no credentials in the URL/),
    ]);
  });

  test("the environment's entries and the flags' add up, and a clash between them is refused", () => {
    expect(mcpServerEntries(" a=https://a.example , b=https://b.example", ["c=https://c.example"])).toEqual([
      "a=https://a.example",
      "b=https://b.example",
      "c=https://c.example",
    ]);
    const config = loadRuntimeConfig({ WARDEN_MCP_SERVERS: "a=https://a.example" }, "/srv", {
      mcpServers: ["b=warden+https://b.internal:8443"],
    });
    expect(config.mcpRoutes.map((d) => d.pathPrefix)).toEqual(["/mcp/a/", "/mcp/b/"]);
    expect(() =>
      loadRuntimeConfig({ WARDEN_MCP_SERVERS: "a=https://a.example" }, "/srv", {
        mcpServers: ["a=https://other.example"],
      }),
    ).toThrow(/given twice/);
  });
});

describe("warden up --inbound-mcp", () => {
  test("names the server, its loopback upstream and its resource URI", () => {
    const config = loadRuntimeConfig({}, "/srv", {
      inboundMcp: "files",
      upstream: "http://127.0.0.1:9000",
      resourceUri: "https://files.example/mcp",
    });
    expect(config.inboundMcp).toEqual({
      server: "files",
      upstream: { address: "127.0.0.1", port: 9000 },
      resourceUri: "https://files.example/mcp",
    });
    expect(config.ports.inboundMcp).toBe(8443);
  });

  test("a remote upstream, a missing resource URI or settings without a server are refused", () => {
    const problems = (env: NodeJS.ProcessEnv, flags = {}) => {
      try {
        loadRuntimeConfig(env, "/srv", flags);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems({}, { inboundMcp: "files", upstream: "http://10.0.0.5:9000" })).toEqual([
      expect.stringMatching(/--upstream: the MCP server on this machine/),
      expect.stringMatching(/--resource-uri: the server's resource URI/),
    ]);
    expect(problems({ WARDEN_INBOUND_UPSTREAM: "http://127.0.0.1:9000" })).toEqual([
      expect.stringMatching(/only with --inbound-mcp/),
    ]);
  });
});
