import { runRuntimeCommand } from "./runtime-commands.js";
import { recordingCliIo } from "../../../test/support/cli-io.js";

function io(env: NodeJS.ProcessEnv = {}) {
  const { io: cli, out, err } = recordingCliIo({ WARDEN_HOME: "/nonexistent/warden-home", ...env });
  return { cli, out, err };
}

describe("warden up's MCP flags are checked before anything starts", () => {
  test("a bad --mcp-server entry is named, with what is wrong (exit 78)", async () => {
    const { cli, err } = io();
    const code = await runRuntimeCommand(
      "up",
      ["--mcp-server", "Files=ftp://x", "--mcp-server", "wiki"],
      cli,
    );
    expect(code).toBe(78);
    expect(err.join("\n")).toMatch(/"Files": a name is lower-case.*"wiki": expected <name>=<url>/s);
  });

  test("a server given both in WARDEN_MCP_SERVERS and as a flag is a duplicate", async () => {
    const { cli, err } = io({ WARDEN_MCP_SERVERS: "files=https://files.internal" });
    const code = await runRuntimeCommand(
      "up",
      ["--mcp-server", "files=warden+https://files.internal:8443"],
      cli,
    );
    expect(code).toBe(78);
    expect(err.join("\n")).toMatch(/"files": given twice/);
  });

  test("--inbound-mcp needs a loopback upstream and a resource URI", async () => {
    const { cli, err } = io();
    const code = await runRuntimeCommand(
      "up",
      ["--inbound-mcp", "files", "--upstream", "http://10.1.2.3:9000"],
      cli,
    );
    expect(code).toBe(78);
    expect(err.join("\n")).toMatch(/--upstream: the MCP server on this machine/);
    expect(err.join("\n")).toMatch(/--resource-uri/);
  });

  test("the MCP flags belong to warden up only", async () => {
    const { cli, err } = io();
    expect(await runRuntimeCommand("status", ["--mcp-server", "files=https://f.example"], cli)).toBe(2);
    expect(err.join("\n")).toMatch(/belong to warden up/);
  });
});
