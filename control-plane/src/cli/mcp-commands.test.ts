import { readRulesFile, tokenBody } from "./mcp-commands.js";
import { resourceUri } from "./registry-commands.js";

describe("warden mcp", () => {
  test("rules set checks the file with the shared schema before anything is sent", () => {
    const read = (text: string) => () => text;
    expect(readRulesFile("r.json", read('{"tools":{"list":{"agents":["bot"]}}}'))).toEqual({
      tools: { list: { agents: ["bot"] } },
    });
    expect(() => readRulesFile("r.json", read('{"tools":{"create_file":{"approval":"always"}}}'))).toThrow(
      /r.json is not a valid tool rules document:\n {2}tools\["create_file"\].approval: expected "none" or "required"/,
    );
    expect(() => readRulesFile("r.json", read("{tools:"))).toThrow(/r.json is not valid JSON/);
    expect(() =>
      readRulesFile("missing.json", () => {
        throw Object.assign(new Error("nope"), { code: "ENOENT" });
      }),
    ).toThrow(/cannot read missing.json: ENOENT/);
  });

  test("token: agent by name or id, scopes and ttl checked", () => {
    expect(tokenBody({ agent: "drive-helper" })).toEqual({ agent_id: "drive-helper" });
    expect(
      tokenBody({ agent: "6F1C2B7E-8A51-4B7A-9C7E-0F3F4D1B2A10", scope: ["google-drive:read"], ttl: "30m" }),
    ).toEqual({
      agent_id: "6f1c2b7e-8a51-4b7a-9c7e-0f3f4d1b2a10",
      scopes: ["google-drive:read"],
      ttl_seconds: 1800,
    });
    expect(() => tokenBody({ agent: "a", ttl: "2h" })).toThrow(/between 1m and 1h/);
    expect(() => tokenBody({ agent: "a", scope: ["NOT A SCOPE"] })).toThrow(/is not a scope/);
    expect(() => tokenBody({})).toThrow(/--agent is required/);
  });

  test("--resource-uri is checked as the API checks it; none removes it on update", () => {
    expect(resourceUri({ "resource-uri": "https://mcp.example.com/mcp" })).toBe(
      "https://mcp.example.com/mcp",
    );
    expect(resourceUri({ "resource-uri": "none" }, true)).toBeNull();
    expect(() => resourceUri({ "resource-uri": "http://mcp.example.com" })).toThrow(
      /--resource-uri must be an https URI/,
    );
    expect(resourceUri({})).toBeUndefined();
  });
});
