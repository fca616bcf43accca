import { z } from "zod";
import { ConfigError, env } from "../../../lib/src/config.js";
import { protectedResourceMetadataUrl } from "../../../lib/src/envoy/routes.js";
import { workloadSpiffeId } from "../../../lib/src/spiffe/naming.js";
import { tryParseSpiffeId } from "../../../lib/src/spiffe/spiffe-id.js";

/** authz-server as an MCP server's inbound sidecar: its settings (part of authzConfigShape). */
export const inboundConfigShape = {
  WARDEN_INBOUND_MCP_SERVER: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be an MCP server's registered name (lower-case, digits, '-')")
    .optional()
    .describe(
      "Run as the authz-server of this MCP server's inbound sidecar: callers are agents with SVIDs, trusted Warden sidecars vouching for an agent (x-forwarded-client-cert) or bearer tokens for `WARDEN_INBOUND_RESOURCE_URI`. Needs SPIRE (`SPIFFE_ENDPOINT_SOCKET`).",
    ),
  WARDEN_INBOUND_RESOURCE_URI: env
    .url()
    .optional()
    .describe(
      "The MCP server's resource URI (RFC 8707): the `aud` bearer tokens must carry; its RFC 9728 metadata URL is named in 401 challenges. Required with `WARDEN_INBOUND_MCP_SERVER`.",
    ),
  WARDEN_INBOUND_TRUSTED_SIDECARS: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Comma-separated SPIFFE IDs of the Warden sidecars whose x-forwarded-client-cert is believed; default: `spiffe://<own trust domain>/warden/envoy`.",
    ),
};

interface InboundConfigFields {
  WARDEN_INBOUND_MCP_SERVER?: string | undefined;
  WARDEN_INBOUND_RESOURCE_URI?: string | undefined;
  WARDEN_INBOUND_TRUSTED_SIDECARS?: string | undefined;
}

/** An MCP server's inbound sidecar, when authz-server runs as one (WARDEN_INBOUND_*). */
export interface InboundSettings {
  server: string;
  resourceUri: string;
  /** RFC 9728 metadata URL of the resource, named in challenges. */
  resourceMetadataUrl: string;
  trustedSidecars: ReadonlySet<string>;
}

const RESOURCE_URI = /^https?:\/\/[^/?#]+(\/[^?#]*)?$/;

/**
 * The inbound settings, or null when authz-server is an agent's sidecar's. `ownSpiffeId` (from its
 * SVID; null without SPIRE) gives the default trusted sidecar. Every inconsistency is a ConfigError.
 */
export function inboundSettings(
  config: InboundConfigFields,
  ownSpiffeId: string | null,
): InboundSettings | null {
  const problems: string[] = [];
  const server = config.WARDEN_INBOUND_MCP_SERVER;
  const trusted = trustedSidecarList(config.WARDEN_INBOUND_TRUSTED_SIDECARS);
  if (server === undefined) {
    for (const name of ["WARDEN_INBOUND_RESOURCE_URI", "WARDEN_INBOUND_TRUSTED_SIDECARS"] as const)
      if (config[name] !== undefined) problems.push(`${name}: only with WARDEN_INBOUND_MCP_SERVER`);
    if (problems.length > 0) throw new ConfigError(problems);
    return null;
  }
  const resourceUri = config.WARDEN_INBOUND_RESOURCE_URI;
  if (resourceUri === undefined)
    problems.push("WARDEN_INBOUND_RESOURCE_URI: required with WARDEN_INBOUND_MCP_SERVER (not set)");
  else if (!RESOURCE_URI.test(resourceUri))
    problems.push("WARDEN_INBOUND_RESOURCE_URI: must be an http(s) URL without query or fragment");
  const own = ownSpiffeId === null ? null : tryParseSpiffeId(ownSpiffeId);
  if (own === null)
    problems.push(
      "WARDEN_INBOUND_MCP_SERVER: an inbound sidecar verifies SVIDs; set SPIFFE_ENDPOINT_SOCKET (SPIRE)",
    );
  for (const id of trusted ?? [])
    if (!tryParseSpiffeId(id)) problems.push(`WARDEN_INBOUND_TRUSTED_SIDECARS: "${id}" is not a SPIFFE ID`);
  if (problems.length > 0 || resourceUri === undefined || own === null) throw new ConfigError(problems);
  return {
    server,
    resourceUri,
    resourceMetadataUrl: protectedResourceMetadataUrl(resourceUri),
    trustedSidecars: new Set(trusted ?? [workloadSpiffeId(own.trustDomain, "warden", "envoy")]),
  };
}

function trustedSidecarList(value: string | undefined): string[] | undefined {
  return value
    ?.split(",")
    .map((id) => id.trim())
    .filter((id) => id.length > 0);
}
