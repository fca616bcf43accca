import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult, ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import type { Warden } from "./client.js";
import { errorFromHttp, toWardenError } from "./denial.js";

/**
 * MCP through the sidecar: the official MCP SDK's client on the route /mcp/<server>/ with the
 * agent's mTLS (the sidecar decides every call by the server's tool rules), and the seeds' shapes on
 * top of it: callSkill (tools/call), getData (resources/read), writeData (a writing tool, usually
 * on a user's behalf: pass `warden.onBehalfOf(token)`). Refusals raise the typed WardenError.
 */
export interface McpClientOptions {
  /** the MCP endpoint's path on the server, after /mcp/<server>/ (e.g. "mcp") */
  path?: string;
  clientInfo?: { name: string; version: string };
}

/** A connected official MCP client for MCP server `server` behind the sidecar. */
export async function mcpClient(
  warden: Warden,
  server: string,
  options: McpClientOptions = {},
): Promise<Client> {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(server)) throw new Error(`not an MCP server name: ${server}`);
  const url = new URL(`${warden.sidecarUrl}/mcp/${server}/${options.path ?? ""}`);
  const transport = new StreamableHTTPClientTransport(url, { fetch: warden.fetch });
  const client = new Client(options.clientInfo ?? { name: "agent-warden-sdk", version: "0.1.0" });
  try {
    await client.connect(transport);
  } catch (error) {
    throw mcpError(error);
  }
  return client;
}

/**
 * The typed error of what the MCP SDK raised: its McpError (a JSON-RPC error, Warden's reason in
 * `data`) or its transport's StreamableHTTPError (an HTTP error status, the body in the message).
 */
export function mcpError(error: unknown): unknown {
  if (error instanceof StreamableHTTPError && typeof error.code === "number" && error.code >= 400) {
    const body = error.message.slice(Math.max(0, error.message.indexOf("{")));
    return errorFromHttp(error.code, new Headers(), body);
  }
  return toWardenError(error) ?? error;
}

/** The seeds' skill and data calls over one MCP server. */
export class McpSkills {
  constructor(private readonly client: Client) {}

  static async connect(warden: Warden, server: string, options: McpClientOptions = {}): Promise<McpSkills> {
    return new McpSkills(await mcpClient(warden, server, options));
  }

  /** Calls tool `name`; a refusal raises its WardenError, a tool's own failure an Error with its text. */
  async callSkill(name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
    let result: CallToolResult;
    try {
      result = (await this.client.callTool({ name, arguments: args })) as CallToolResult;
    } catch (error) {
      throw mcpError(error);
    }
    if (result.isError) throw new Error(`tool ${name} failed: ${textOf(result)}`);
    return result;
  }

  /** Reads resource `uri`. */
  async getData(uri: string): Promise<ReadResourceResult> {
    try {
      return await this.client.readResource({ uri });
    } catch (error) {
      throw mcpError(error);
    }
  }

  /** Calls a tool that writes (the same call as callSkill, named for what it does). */
  writeData(tool: string, args: Record<string, unknown>): Promise<CallToolResult> {
    return this.callSkill(tool, args);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** The text parts of a tool's result, joined. */
export function textOf(result: CallToolResult): string {
  return result.content.map((part) => (part.type === "text" ? part.text : "")).join("");
}
