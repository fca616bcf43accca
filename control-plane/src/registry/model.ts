import { workloadSpiffeId } from "../../../lib/src/spiffe/naming.js";
import type { Principal } from "../http/auth.js";
import { hasRole } from "../http/auth.js";
import { ApiError } from "../http/errors.js";
import { resourceUriProblem } from "./resource-uri.js";

/**
 * Agents and MCP servers: one registry, the same identity rules and lifecycle. Pure rules only;
 * SQL lives in repository.ts.
 */
export type RegistryKind = "agent" | "mcp_server";
export type RegistrationStatus = "active" | "suspended" | "revoked" | "archived";

export interface RegistryEntry {
  id: string;
  kind: RegistryKind;
  name: string;
  spiffe_id: string;
  tenant: string;
  owner: string;
  team: string;
  type: string;
  environment: string;
  capabilities: string[];
  external_services: string[];
  status: RegistrationStatus;
  metadata: Record<string, unknown>;
  /** MCP servers only: the audience of bearer tokens minted for it (RFC 8707); null: none can be. */
  resource_uri: string | null;
  /** MCP servers only: its tool rules (lib/src/mcp/tool-rules.ts) as stored; null: none, default deny. */
  tool_rules: Record<string, unknown> | null;
  version: number;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface RegistryCreateBody {
  name: string;
  spiffe_id?: string;
  tenant: string;
  owner?: string;
  team: string;
  type: string;
  environment: string;
  capabilities?: string[];
  external_services?: string[];
  metadata?: Record<string, unknown>;
  resource_uri?: string;
}

export type RegistryUpdateBody = Partial<
  Pick<
    RegistryEntry,
    | "owner"
    | "team"
    | "type"
    | "environment"
    | "capabilities"
    | "external_services"
    | "metadata"
    | "resource_uri"
  >
> & { status?: Exclude<RegistrationStatus, "archived"> };

const PATH_SEGMENT: Record<RegistryKind, string> = { agent: "agent", mcp_server: "mcp" };

export function spiffeIdFor(kind: RegistryKind, trustDomain: string, name: string): string {
  return workloadSpiffeId(trustDomain, kind === "agent" ? "agent" : "mcp", name);
}

/** The SPIFFE ID to register: the one given (checked against the naming scheme) or the default. */
export function resolveSpiffeId(kind: RegistryKind, trustDomain: string, body: RegistryCreateBody): string {
  const expected = spiffeIdFor(kind, trustDomain, body.name);
  if (body.spiffe_id !== undefined && body.spiffe_id !== expected) {
    throw new ApiError("bad_request", `spiffe_id must be ${expected}`, [
      {
        field: "spiffe_id",
        message: `must be ${expected} (spiffe://<trust domain>/${PATH_SEGMENT[kind]}/<name>)`,
      },
    ]);
  }
  return expected;
}

/** 400 for a resource URI that is not one, or for one on an agent. */
export function checkResourceUri(kind: RegistryKind, value: string | null | undefined): void {
  if (value === undefined || value === null) return;
  const problem = kind === "mcp_server" ? resourceUriProblem(value) : "is only for MCP servers";
  if (problem)
    throw new ApiError("bad_request", `resource_uri ${problem}`, [
      { field: "resource_uri", message: problem },
    ]);
}

const TRANSITIONS: Record<RegistrationStatus, readonly RegistrationStatus[]> = {
  active: ["suspended", "revoked", "archived"],
  suspended: ["active", "revoked", "archived"],
  revoked: ["archived"],
  archived: [],
};

export function checkTransition(from: RegistrationStatus, to: RegistrationStatus): void {
  if (from === to) return;
  if (!TRANSITIONS[from].includes(to)) {
    throw new ApiError("conflict", `cannot change status from ${from} to ${to}`);
  }
}

/** Creators change their own entries only; status changes are for admins and reviewers (a creator may suspend or archive its own). */
export function checkMayChange(
  principal: Principal,
  entry: RegistryEntry,
  toStatus: RegistrationStatus | undefined,
): void {
  const privileged = hasRole(principal, "admin", "reviewer");
  if (!privileged && entry.owner !== principal.subject) {
    throw new ApiError("forbidden", "creators can only change entries they own");
  }
  if (
    toStatus !== undefined &&
    toStatus !== entry.status &&
    !privileged &&
    toStatus !== "suspended" &&
    toStatus !== "archived"
  ) {
    throw new ApiError("forbidden", `changing the status to ${toStatus} needs the admin or reviewer role`);
  }
  if (entry.status === "archived") throw new ApiError("conflict", "archived entries cannot be changed");
}

export function toApi(entry: RegistryEntry): Record<string, unknown> {
  const common = {
    id: entry.id,
    kind: entry.kind,
    name: entry.name,
    spiffe_id: entry.spiffe_id,
    tenant: entry.tenant,
    owner: entry.owner,
    team: entry.team,
    type: entry.type,
    environment: entry.environment,
    capabilities: entry.capabilities,
    status: entry.status,
    metadata: entry.metadata,
    version: entry.version,
    created_by: entry.created_by,
    created_at: entry.created_at.toISOString(),
    updated_at: entry.updated_at.toISOString(),
  };
  return entry.kind === "mcp_server"
    ? {
        ...common,
        external_services: entry.external_services,
        resource_uri: entry.resource_uri,
        tool_rules: entry.tool_rules,
      }
    : common;
}
