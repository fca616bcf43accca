import { readFileSync } from "node:fs";
import { z } from "zod";
import type { DirectoryEntry } from "./agent-index.js";
import { mcpServerFacts } from "./registry-rows.js";

/**
 * A registry snapshot from a JSON file, for local runs and tests without the control plane:
 * `{ "agents": [ { ...agent, "kya": { ... } } ] }`. Times are integer nanoseconds since the epoch,
 * like the policy's `now_ns`.
 */
const kyaSchema = z
  .object({
    status: z.enum(["approved", "pending", "revoked", "expired", "none"]),
    level: z.number().int().min(1).max(3).nullable().default(null),
    verified_capabilities: z.array(z.string()).default([]),
    attestation_id: z.string().nullable().default(null),
    issued_at: z.number().int().nullable().default(null),
    expires_at: z.number().int().nullable().default(null),
  })
  .strict();

const entrySchema = z
  .object({
    id: z.string().min(1),
    spiffe_id: z.string().regex(/^spiffe:\/\/[a-z0-9._-]+\/.+$/, "must be a SPIFFE ID"),
    kind: z.enum(["agent", "mcp_server"]),
    name: z.string().min(1),
    owner: z.string().default(""),
    team: z.string().default(""),
    type: z.string().default(""),
    environment: z.string().default(""),
    tenant: z.string().min(1),
    status: z.enum(["active", "suspended", "revoked", "archived"]),
    capabilities: z.array(z.string()).default([]),
    kya: kyaSchema.default({ status: "none" }),
    /** MCP servers: tool rules (lib/src/mcp/tool-rules.ts), resource URI, external services. */
    tool_rules: z.unknown().optional(),
    resource_uri: z.string().nullable().optional(),
    external_services: z.array(z.string()).optional(),
  })
  .strict();

const fileSchema = z.object({ agents: z.array(entrySchema) }).strict();

export function parseRegistrySnapshot(json: unknown): DirectoryEntry[] {
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`registry snapshot: ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data.agents.map(({ kya, tool_rules, resource_uri, external_services, ...agent }) => ({
    agent,
    kya,
    ...(agent.kind === "mcp_server"
      ? { mcp: mcpServerFacts({ tool_rules, resource_uri, external_services }) }
      : {}),
  }));
}

export function readRegistryFile(path: string): DirectoryEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`registry snapshot ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseRegistrySnapshot(json);
}
