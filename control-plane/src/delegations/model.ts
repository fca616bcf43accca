import { DELEGATION_TOKEN_TYPE, WARDEN_AUDIENCE } from "../../../lib/src/tokens/claims.js";
import { ApiError } from "../http/errors.js";
import { withIsoDates, type WithIsoDates } from "../http/iso-dates.js";
import type { FieldProblem } from "../http/validation.js";
import type { ScopeCatalogue } from "./catalogue.js";

/** Delegations: the grant rules and the signed claims. Pure; SQL is in repository.ts. */
export type RevocationVia = "delegation" | "user" | "agent" | "tenant";
export type DelegationStatus = "active" | "expired" | "revoked";

export interface Delegation {
  id: string;
  tenant: string;
  user_id: string;
  agent_id: string;
  agent_spiffe_id: string;
  scopes: string[];
  destinations: string[];
  issued_at: Date;
  expires_at: Date;
  signing_key_id: string;
  granted_by: string;
  revoked_at: Date | null;
  revoked_by: string | null;
  revoked_via: RevocationVia | null;
  revocation_reason: string | null;
  version: number;
}

export interface GrantBody {
  agent_id: string;
  scopes: string[];
  ttl_seconds?: number;
  destinations?: string[];
}

export interface GrantLimits {
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
}

export function statusOf(
  delegation: Pick<Delegation, "revoked_at" | "expires_at">,
  now: Date,
): DelegationStatus {
  if (delegation.revoked_at !== null) return "revoked";
  return delegation.expires_at <= now ? "expired" : "active";
}

/** Malformed requests (400): unknown scopes or destinations, a lifetime over the maximum. */
export function checkGrantRequest(body: GrantBody, catalogue: ScopeCatalogue, limits: GrantLimits): number {
  const problems: FieldProblem[] = [];
  body.scopes.forEach((scope, index) => {
    if (!catalogue.scopes.has(scope))
      problems.push({ field: `scopes[${index}]`, message: `"${scope}" is not a scope of the catalogue` });
  });
  (body.destinations ?? []).forEach((service, index) => {
    if (!catalogue.services.has(service))
      problems.push({
        field: `destinations[${index}]`,
        message: `"${service}" is not a service of the catalogue`,
      });
  });
  const ttl = body.ttl_seconds ?? limits.defaultTtlSeconds;
  if (ttl > limits.maxTtlSeconds)
    problems.push({
      field: "ttl_seconds",
      message: `must be at most ${limits.maxTtlSeconds} (the configured maximum)`,
    });
  if (problems.length)
    throw new ApiError(
      "bad_request",
      `invalid delegation: ${problems.map((p) => `${p.field} ${p.message}`).join("; ")}`,
      problems,
    );
  return ttl;
}

/** A pattern list entry covers a scope exactly, or by a trailing `*` (`github:*`). */
export function covers(patterns: readonly string[], scope: string): boolean {
  return patterns.some((p) => p === scope || (p.endsWith("*") && scope.startsWith(p.slice(0, -1))));
}

/**
 * Scope escalation is impossible: every scope must be one the agent's KYA attestation verified and
 * one the user may give (`delegable`, null when the user's token does not limit it). Anything else is
 * a 403 naming each offending scope.
 */
export function checkNoEscalation(
  scopes: readonly string[],
  verifiedCapabilities: readonly string[] | null,
  delegable: readonly string[] | null,
): void {
  const problems: FieldProblem[] = [];
  scopes.forEach((scope, index) => {
    if (verifiedCapabilities === null)
      problems.push({
        field: `scopes[${index}]`,
        message: `"${scope}": the agent has no approved KYA attestation`,
      });
    else if (!covers(verifiedCapabilities, scope))
      problems.push({
        field: `scopes[${index}]`,
        message: `"${scope}" is not among the agent's verified capabilities`,
      });
    else if (delegable !== null && !covers(delegable, scope))
      problems.push({ field: `scopes[${index}]`, message: `"${scope}" is not a scope you may delegate` });
  });
  if (problems.length) {
    const offending = problems.map((p) => scopes[Number(/\[(\d+)\]/.exec(p.field)![1])]);
    throw new ApiError(
      "forbidden",
      `these scopes cannot be delegated to this agent: ${offending.join(", ")}`,
      problems,
    );
  }
}

/**
 * The scopes a user's token allows them to delegate: a list or space-separated claim; null only when
 * the claim is absent. A claim that is there but malformed (a number, an object, a list holding
 * anything but strings) is refused: fail closed, never "no limit".
 */
export function delegableScopes(claim: unknown): string[] | null {
  if (claim === undefined) return null;
  if (Array.isArray(claim) && claim.every((s): s is string => typeof s === "string"))
    return claim.filter((s) => s.length > 0);
  if (typeof claim === "string") return claim.split(/\s+/).filter((s) => s.length > 0);
  throw new ApiError(
    "forbidden",
    "the token's delegable-scopes claim is malformed (a list or a space-separated string of scopes): nothing can be delegated",
    [{ field: "token.delegable_scopes", message: "is malformed" }],
  );
}

export interface DelegationClaimsInput {
  issuer: string;
  delegation: Pick<
    Delegation,
    "id" | "tenant" | "user_id" | "agent_spiffe_id" | "scopes" | "destinations" | "issued_at" | "expires_at"
  >;
}

/** ID-JAG / RFC 8693 shape: the user (`sub`) lets the agent (`act.sub`, `client_id`) use `scope`. */
export function delegationClaims({ issuer, delegation }: DelegationClaimsInput): Record<string, unknown> {
  const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
  return {
    iss: issuer,
    sub: delegation.user_id,
    aud: WARDEN_AUDIENCE,
    client_id: delegation.agent_spiffe_id,
    act: { sub: delegation.agent_spiffe_id },
    scope: delegation.scopes.join(" "),
    jti: delegation.id,
    iat: seconds(delegation.issued_at),
    nbf: seconds(delegation.issued_at),
    exp: seconds(delegation.expires_at),
    tenant: delegation.tenant,
    ...(delegation.destinations.length ? { destinations: delegation.destinations } : {}),
  };
}

export const DELEGATION_JWS_TYPE = DELEGATION_TOKEN_TYPE;

/** A delegation as the API returns it: timestamps as ISO-8601 strings, with its status now. */
export type DelegationView = WithIsoDates<Delegation> & { status: DelegationStatus };

export function toApi(delegation: Delegation, now: Date): DelegationView {
  return { ...withIsoDates(delegation), status: statusOf(delegation, now) };
}
