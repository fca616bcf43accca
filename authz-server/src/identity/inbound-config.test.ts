import { ConfigError } from "../../../lib/src/config.js";
import { inboundSettings } from "./inbound-config.js";

const OWN = "spiffe://warden.local/warden/authz";

describe("authz-server's inbound-sidecar settings", () => {
  test("none without WARDEN_INBOUND_MCP_SERVER", () => {
    expect(inboundSettings({}, OWN)).toBeNull();
  });

  test("the metadata URL follows the resource URI, and the trusted sidecar defaults to the trust domain's Envoy", () => {
    const settings = inboundSettings(
      { WARDEN_INBOUND_MCP_SERVER: "files", WARDEN_INBOUND_RESOURCE_URI: "https://files.example/mcp" },
      OWN,
    );
    expect(settings).toEqual({
      server: "files",
      resourceUri: "https://files.example/mcp",
      resourceMetadataUrl: "https://files.example/.well-known/oauth-protected-resource/mcp",
      trustedSidecars: new Set(["spiffe://warden.local/warden/envoy"]),
    });
  });

  test("every inconsistency is named", () => {
    const problems = (fields: Parameters<typeof inboundSettings>[0], own: string | null = OWN) => {
      try {
        inboundSettings(fields, own);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ WARDEN_INBOUND_RESOURCE_URI: "https://x.example" })).toEqual([
      "WARDEN_INBOUND_RESOURCE_URI: only with WARDEN_INBOUND_MCP_SERVER",
    ]);
    expect(
      problems(
        {
          WARDEN_INBOUND_MCP_SERVER: "files",
          WARDEN_INBOUND_TRUSTED_SIDECARS: "spiffe://td/warden/envoy, nope",
        },
        null,
      ),
    ).toEqual([
      "WARDEN_INBOUND_RESOURCE_URI: required with WARDEN_INBOUND_MCP_SERVER (not set)",
      expect.stringMatching(/set SPIFFE_ENDPOINT_SOCKET/),
      'WARDEN_INBOUND_TRUSTED_SIDECARS: "nope" is not a SPIFFE ID',
    ]);
  });
});
