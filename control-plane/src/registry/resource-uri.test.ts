import { resourceUriProblem } from "./resource-uri.js";

describe("MCP server resource URIs", () => {
  test.each([
    "https://mcp.example.com/mcp",
    "https://mcp.example.com",
    "https://mcp.example.com:8443/v1/mcp",
    "http://localhost:8931/mcp",
    "http://127.0.0.1:8931/mcp",
    "http://[::1]:8931/mcp",
  ])("%s is accepted", (uri) => expect(resourceUriProblem(uri)).toBeNull());

  test.each([
    ["http://mcp.example.com/mcp", /https URI/],
    ["http://127.0.0.1.evil.com/mcp", /https URI/],
    ["ftp://mcp.example.com", /https URI/],
    ["https://mcp.example.com/mcp#section", /fragment/],
    ["https://mcp.example.com/mcp#", /fragment/],
    ["/mcp", /absolute URI/],
    ["https://bob:secret@mcp.example.com/", /user info/],
    ["https://MCP.example.com/", /lower case \(https:\/\/mcp.example.com\)/],
  ])("%s is refused", (uri, reason) => expect(resourceUriProblem(uri)).toMatch(reason));
});
