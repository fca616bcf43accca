import { z } from "zod";
import { serverToolRulesSchema } from "../../../lib/src/mcp/tool-rules.js";
import { NO_KYA, type KyaFacts } from "../identity/source.js";
import type { DirectoryEntry, McpServerFacts } from "./agent-index.js";

/**
 * The registry as the control plane stores it (tables `agents` and `kya_attestations`, see
 * control-plane/migrations) turned into index entries. Pure: the feed does the SQL and the signature
 * check, this decides what they mean.
 */
const registryRowSchema = z.object({
  id: z.string().min(1),
  kind: z.enum(["agent", "mcp_server"]),
  name: z.string(),
  spiffe_id: z.string().min(1),
  tenant: z.string(),
  owner: z.string(),
  team: z.string(),
  type: z.string(),
  environment: z.string(),
  capabilities: z.array(z.string()),
  status: z.enum(["active", "suspended", "revoked", "archived"]),
  /** The tenant's state (migration 022); null when the tenant has no row (it is not suspended). */
  tenant_status: z.enum(["active", "suspended"]).nullable().optional(),
  /** The agent's current attestation: its approved one, else its latest; all null when it has none. */
  kya_id: z.string().nullable(),
  kya_status: z.enum(["pending", "approved", "rejected", "revoked", "superseded"]).nullable(),
  kya_jws: z.string().nullable(),
  /** MCP servers (migration 018): their tool rules as stored (validated below) and resource URI. */
  tool_rules: z.unknown().optional(),
  resource_uri: z.string().nullable().optional(),
  /** External SaaS services an MCP server calls for its users (their OAuth tokens go upstream). */
  external_services: z.array(z.string()).optional(),
});

export type RegistryRow = z.infer<typeof registryRowSchema>;

export function parseRegistryRow(row: unknown): RegistryRow {
  const parsed = registryRowSchema.safeParse(row);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new Error(`registry row: ${issue.path.join(".")}: ${issue.message}`);
}

/** The signed claims of an attestation (control-plane/README.md, "KYA attestations"). */
const attestationClaimsSchema = z.object({
  iss: z.string(),
  sub: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
  jti: z.string(),
  iat: z.number().int(),
  exp: z.number().int(),
  kya: z.object({
    attestation_id: z.string(),
    agent_id: z.string(),
    tenant: z.string(),
    level: z.number().int().min(1).max(3),
    verified_capabilities: z.array(z.string()),
  }),
});

export type AttestationClaims = z.infer<typeof attestationClaimsSchema>;

export const ATTESTATION_AUDIENCE = "warden";

/**
 * The claims of a signature-verified attestation, checked against the row it was stored in: a valid
 * JWS copied onto another agent or attestation (or a token of another kind) proves nothing here.
 * Returns the claims, or why they do not fit.
 */
export function attestationClaimsFor(
  payload: unknown,
  row: RegistryRow,
  expectedIssuer?: string,
): { claims: AttestationClaims } | { problem: string } {
  const parsed = attestationClaimsSchema.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { problem: `claim ${issue.path.join(".")}: ${issue.message}` };
  }
  const claims = parsed.data;
  const audiences = typeof claims.aud === "string" ? [claims.aud] : claims.aud;
  if (!audiences.includes(ATTESTATION_AUDIENCE)) return { problem: "aud is not warden" };
  if (expectedIssuer !== undefined && claims.iss !== expectedIssuer)
    return { problem: `iss ${claims.iss} is not ${expectedIssuer}` };
  if (claims.sub !== row.spiffe_id) return { problem: "sub is not the agent's SPIFFE ID" };
  if (claims.jti !== row.kya_id || claims.kya.attestation_id !== row.kya_id)
    return { problem: "jti is not the attestation's id" };
  if (claims.kya.agent_id !== row.id) return { problem: "kya.agent_id is not the agent's id" };
  if (claims.kya.tenant !== row.tenant) return { problem: "kya.tenant is not the agent's tenant" };
  return { claims };
}

const NS_PER_SECOND = 1e9;

/**
 * What the policy sees. Revocation is a database state (the JWS stays valid forever), so the row's
 * status decides; for an approval the signed claims supply level, capabilities and lifetime, and an
 * approval whose signature did not verify (`verified` null) counts as no attestation at all.
 */
export function kyaFactsFor(row: RegistryRow, verified: AttestationClaims | null): KyaFacts {
  switch (row.kya_status) {
    case "approved":
      if (!verified) return NO_KYA;
      return {
        status: "approved",
        level: verified.kya.level,
        verified_capabilities: verified.kya.verified_capabilities,
        attestation_id: row.kya_id,
        issued_at: verified.iat * NS_PER_SECOND,
        expires_at: verified.exp * NS_PER_SECOND,
      };
    case "pending":
    case "revoked":
      return { ...NO_KYA, status: row.kya_status, attestation_id: row.kya_id };
    default:
      // rejected, superseded (never current while a newer approval exists) or none
      return NO_KYA;
  }
}

/**
 * An MCP server's facts. Tool rules are validated here, where they enter: a document that does not
 * validate becomes null with the problem (the server's tools are then all refused), and NULL (no
 * rules yet) is null without one.
 */
export function mcpServerFacts(row: {
  tool_rules?: unknown;
  resource_uri?: string | null | undefined;
  external_services?: string[] | undefined;
}): McpServerFacts {
  const facts = { resourceUri: row.resource_uri ?? null, externalServices: row.external_services ?? [] };
  if (row.tool_rules === null || row.tool_rules === undefined)
    return { ...facts, toolRules: null, toolRulesProblem: null };
  const parsed = serverToolRulesSchema.safeParse(row.tool_rules);
  if (parsed.success) return { ...facts, toolRules: parsed.data, toolRulesProblem: null };
  const issue = parsed.error.issues[0]!;
  return {
    ...facts,
    toolRules: null,
    toolRulesProblem: `${issue.path.join(".") || "(document)"}: ${issue.message}`,
  };
}

export function directoryEntryFor(row: RegistryRow, verified: AttestationClaims | null): DirectoryEntry {
  return {
    ...(row.kind === "mcp_server" ? { mcp: mcpServerFacts(row) } : {}),
    agent: {
      id: row.id,
      spiffe_id: row.spiffe_id,
      kind: row.kind,
      name: row.name,
      owner: row.owner,
      team: row.team,
      type: row.type,
      environment: row.environment,
      tenant: row.tenant,
      status: row.status,
      ...(row.tenant_status ? { tenant_status: row.tenant_status } : {}),
      capabilities: row.capabilities,
    },
    kya: kyaFactsFor(row, verified),
  };
}

/** `NOTIFY warden_registry` payload (control-plane/README.md) → the agent whose entry changed. */
const notificationSchema = z.discriminatedUnion("entity", [
  z.object({ v: z.literal(1), entity: z.literal("agent"), id: z.string().uuid() }),
  z.object({ v: z.literal(1), entity: z.literal("attestation"), agent_id: z.string().uuid() }),
  z.object({ v: z.literal(1), entity: z.literal("tenant"), id: z.string() }),
]);

/** A tenant was suspended or resumed (migration 022's trigger): every agent of it changes at once. */
export function isTenantChange(payload: string): boolean {
  try {
    const parsed = notificationSchema.safeParse(JSON.parse(payload));
    return parsed.success && parsed.data.entity === "tenant";
  } catch {
    return false;
  }
}

export function changedAgentId(payload: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const parsed = notificationSchema.safeParse(json);
  if (!parsed.success) return undefined;
  if (parsed.data.entity === "tenant") return undefined;
  return parsed.data.entity === "agent" ? parsed.data.id : parsed.data.agent_id;
}
