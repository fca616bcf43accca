import { join } from "node:path";
import { freePort, REPO_ROOT, startProcess, type ManagedProcess } from "../harness/process.js";

/**
 * test/stubs/mcp_files_server.py (the official Python SDK, PyPI `mcp` 2.3.0, installed into
 * .tools/venv by scripts/setup) as a process on a free loopback port: an MCP server that speaks the
 * stateless 2026-07-28 revision as well as the handshake ones.
 */
export const VENV_PYTHON = join(REPO_ROOT, ".tools", "venv", "bin", "python");

export interface McpPythonServer {
  readonly port: number;
  /** The MCP endpoint (`http://127.0.0.1:<port>/mcp`). */
  readonly url: string;
  /** Tool calls that reached the server, by tool name. */
  calls(): Promise<Record<string, number>>;
  callsOf(tool: string): Promise<number>;
  process(): ManagedProcess;
  close(): Promise<void>;
}

export async function startMcpPythonServer(name = "mcp-python-server"): Promise<McpPythonServer> {
  const port = await freePort();
  const child = startProcess({
    name,
    command: VENV_PYTHON,
    args: [join(REPO_ROOT, "test", "stubs", "mcp_files_server.py"), String(port)],
  });
  try {
    await child.waitForLog(new RegExp(`listening ${port}`), 30_000);
  } catch (error) {
    await child.stop();
    throw error;
  }
  const calls = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/calls`);
    return (await res.json()) as Record<string, number>;
  };
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    callsOf: async (tool) => (await calls())[tool] ?? 0,
    process: () => child,
    close: async () => {
      await child.stop();
    },
  };
}
