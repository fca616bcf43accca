import { z } from "zod";
import { env, loadConfig } from "../../lib/src/config.js";
import { DEFAULT_TRUST_DOMAIN } from "../../lib/src/spiffe/naming.js";

/**
 * Control-plane settings (environment variables). The Vault token is read by the Vault client from
 * VAULT_TOKEN or VAULT_TOKEN_FILE and never becomes part of this object.
 */
export const controlPlaneConfigShape = {
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  WARDEN_PGLITE_DIR: env.path().optional(),
  WARDEN_MIGRATE: env.bool(true),
  WARDEN_CP_HOST: env.host("127.0.0.1"),
  WARDEN_CP_PORT: env.port(8081),
  WARDEN_CP_BODY_LIMIT: env.positiveInt(256 * 1024),
  WARDEN_TRUST_DOMAIN: z
    .string()
    .regex(/^[a-z0-9._-]+$/, "must be a SPIFFE trust domain (lower-case letters, digits, . _ -)")
    .default(DEFAULT_TRUST_DOMAIN),
  WARDEN_OIDC_ISSUER: z.string().url(),
  WARDEN_OIDC_AUDIENCE: z.string().min(1).default("warden-control-plane"),
  WARDEN_OIDC_JWKS_URL: z.string().url().optional(),
  WARDEN_OIDC_ROLES_CLAIM: z.string().min(1).default("roles"),
  WARDEN_OIDC_TENANT_CLAIM: z.string().min(1).default("tenant"),
  VAULT_ADDR: z.string().url().optional(),
  WARDEN_VAULT_TRANSIT_MOUNT: z.string().min(1).default("transit"),
  WARDEN_SIGNING_KEY: z.string().min(1).default("warden-signing"),
  WARDEN_KYA_TTL_DAYS: env.positiveInt(90),
  /** `iss` of signed attestations; defaults to the control plane's SPIFFE ID. */
  WARDEN_ATTESTATION_ISSUER: z.string().min(1).optional(),
  WARDEN_LOG_LEVEL: env.logLevel(),
  /** Where refusal audit events wait while PostgreSQL is unreachable (NDJSON, fsync'd). */
  WARDEN_CP_AUDIT_SPOOL: env.path().default(".warden/control-plane-audit-spool.ndjson"),
};

export type ControlPlaneConfig = ReturnType<typeof loadControlPlaneConfig>;

export function loadControlPlaneConfig(environment: NodeJS.ProcessEnv = process.env) {
  return loadConfig(controlPlaneConfigShape, environment);
}
