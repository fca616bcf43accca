import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import { z } from "zod";
import { ApiError } from "./errors.js";
import { ROLES, type Role } from "./openapi.js";

/**
 * API callers present a bearer OIDC JWT from the configured issuer. The token names the caller
 * (`sub`), its roles (claim `roles` by default; a dotted path such as `realm_access.roles` works for
 * Keycloak) and optionally a tenant that limits what it can see and change.
 */
export interface Principal {
  subject: string;
  roles: ReadonlySet<Role>;
  /** null: not limited to one tenant. */
  tenant: string | null;
  /** The token's delegable-scopes claim as sent (absent when the token has none): what a user may delegate. */
  delegableScopes?: unknown;
}

export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<Principal>;
}

export interface OidcOptions {
  issuer: string;
  audience: string;
  /** Defaults to the `jwks_uri` of the issuer's discovery document. */
  jwksUrl?: string | undefined;
  rolesClaim?: string;
  tenantClaim?: string;
  /** Claim listing the scopes a user may delegate (docs/delegations.md). */
  delegableScopesClaim?: string;
  fetch?: typeof fetch;
}

const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"];
const discovery = z.object({ issuer: z.string(), jwks_uri: z.string().url() });

function claimAt(payload: JWTPayload, path: string): unknown {
  return path
    .split(".")
    .reduce<unknown>(
      (node, key) =>
        node && typeof node === "object" && Object.hasOwn(node, key)
          ? (node as Record<string, unknown>)[key]
          : undefined,
      payload,
    );
}

export function rolesFrom(value: unknown): Set<Role> {
  const list = Array.isArray(value) ? value : typeof value === "string" ? value.split(/[\s,]+/) : [];
  return new Set(
    list.filter((r): r is Role => typeof r === "string" && (ROLES as readonly string[]).includes(r)),
  );
}

export function createOidcAuthenticator(options: OidcOptions): Authenticator {
  const doFetch = options.fetch ?? fetch;
  let keySet: ReturnType<typeof createRemoteJWKSet> | undefined;

  async function keys() {
    if (keySet) return keySet;
    let jwksUrl = options.jwksUrl;
    if (!jwksUrl) {
      const url = `${options.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
      const response = await doFetch(url, { signal: AbortSignal.timeout(5_000) }).catch(() => {
        throw new ApiError("unavailable", "the identity provider is unavailable");
      });
      if (!response.ok) throw new ApiError("unavailable", "the identity provider is unavailable");
      const parsed = discovery.safeParse(await response.json());
      if (!parsed.success)
        throw new ApiError("unavailable", "the identity provider's discovery document is invalid");
      jwksUrl = parsed.data.jwks_uri;
    }
    keySet = createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
    return keySet;
  }

  return {
    async authenticate(authorization) {
      const match = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*$/i.exec(
        authorization ?? "",
      );
      if (!match) throw new ApiError("unauthenticated", "a bearer token is required");
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(match[1]!, await keys(), {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: ALGORITHMS,
          clockTolerance: 30,
          requiredClaims: ["sub", "exp"],
        }));
      } catch (error) {
        if (error instanceof ApiError) throw error;
        if (error instanceof joseErrors.JWTExpired)
          throw new ApiError("unauthenticated", "the token has expired");
        // Anything but a verdict on the token itself (network failure, JWKS timeout) means the IdP is unreachable.
        if (error instanceof joseErrors.JOSEError && !(error instanceof joseErrors.JWKSTimeout)) {
          throw new ApiError("unauthenticated", "the token is not valid for this API");
        }
        throw new ApiError("unavailable", "the identity provider is unavailable");
      }
      const tenant = claimAt(payload, options.tenantClaim ?? "tenant");
      // Fail closed: a tenant claim that is there but not a tenant name must not mean "every tenant".
      if (tenant !== undefined && (typeof tenant !== "string" || !/^[A-Za-z0-9._-]{1,128}$/.test(tenant)))
        throw new ApiError("unauthenticated", "the token's tenant claim is malformed");
      const delegable = options.delegableScopesClaim
        ? claimAt(payload, options.delegableScopesClaim)
        : undefined;
      return {
        subject: payload.sub!,
        roles: rolesFrom(claimAt(payload, options.rolesClaim ?? "roles")),
        tenant: typeof tenant === "string" ? tenant : null,
        ...(delegable === undefined ? {} : { delegableScopes: delegable }),
      };
    },
  };
}

export function requireRole(principal: Principal, allowed: readonly Role[]): void {
  if (!allowed.some((role) => principal.roles.has(role))) {
    throw new ApiError("forbidden", `this needs one of the roles: ${allowed.join(", ")}`);
  }
}

export function hasRole(principal: Principal, ...roles: Role[]): boolean {
  return roles.some((role) => principal.roles.has(role));
}

/** The tenant a query is limited to: the token's tenant, or what the caller asked for. */
export function scopedTenant(principal: Principal, requested: string | undefined): string | undefined {
  if (principal.tenant === null) return requested;
  if (requested !== undefined && requested !== principal.tenant) {
    throw new ApiError("forbidden", `this token is limited to tenant "${principal.tenant}"`);
  }
  return principal.tenant;
}

/**
 * The tenant of a caller acting as a user (granting or revoking their own delegations, connecting
 * accounts): required. Only platform operators' tokens may omit the claim, and they act as
 * administrators, never as a user of every tenant.
 */
export function userTenantOf(principal: Principal, what: string): string {
  if (principal.tenant === null)
    throw new ApiError("forbidden", `${what} needs a token limited to one tenant (the tenant claim)`);
  return principal.tenant;
}

/** Resources of another tenant are reported as not found, so their existence does not leak. */
export function canSeeTenant(principal: Principal, tenant: string): boolean {
  return principal.tenant === null || principal.tenant === tenant;
}
