import { z } from "zod";
import { ConfigError, env, loadConfig } from "../../lib/src/config.js";
import { spiffeServerConfigShape } from "../../lib/src/spiffe/grpc-mtls.js";
import { DEFAULT_BODY_LIMITS, type BodyLimits } from "./body-limits.js";

export const authzConfigShape = {
  ...spiffeServerConfigShape,
  WARDEN_AUTHZ_LISTEN: env.listenAddress("127.0.0.1:9001"),
  WARDEN_POLICY_BUNDLE: env.path(),
  WARDEN_POLICY_PUBLIC_KEY: z.string().min(1).optional(),
  WARDEN_POLICY_REQUIRE_SIGNATURE: env.bool(true),
  WARDEN_POLICY_DRY_RUN: env.bool(false),
  WARDEN_POLICY_POLL_MS: env.positiveInt(2_000),
  WARDEN_AUTHZ_STATUS_LISTEN: env.listenAddress("127.0.0.1:9101"),
  WARDEN_REGISTRY_FILE: z.string().min(1).optional(),
  /** The control plane's database (`DATABASE_URL` is the fallback): the registry feed. */
  WARDEN_REGISTRY_DATABASE_URL: z.string().min(1).optional(),
  DATABASE_URL: z.string().min(1).optional(),
  /** The control plane's `/.well-known/jwks.json`: the keys attestations are verified with. */
  WARDEN_JWKS_URL: z.string().url().optional(),
  WARDEN_ATTESTATION_ISSUER: z.string().min(1).optional(),
  WARDEN_REGISTRY_RESYNC_MS: env.positiveInt(60_000),
  /** Delegations (docs/delegations.md): `iss` tokens must carry, when set; key and revocation refreshes. */
  WARDEN_TOKEN_ISSUER: z.string().min(1).optional(),
  WARDEN_JWKS_REFRESH_MS: env.positiveInt(30_000),
  WARDEN_REVOCATION_RESYNC_MS: env.positiveInt(60_000),
  /**
   * Decision audit (docs/security.md "Audit and logs"): the database the decisions are appended to
   * (default: the registry database), where they wait while it is unreachable, and the fraction of
   * allowed requests recorded (denials always are).
   */
  WARDEN_AUDIT_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  WARDEN_AUDIT_SPOOL: env.path().default(".warden/authz-audit-spool.ndjson"),
  WARDEN_AUDIT_ALLOW_SAMPLE: z.coerce
    .number()
    .min(0, "must be a fraction between 0 and 1")
    .max(1, "must be a fraction between 0 and 1")
    .default(1),
  WARDEN_LOG_LEVEL: env.logLevel(),
  WARDEN_SHUTDOWN_GRACE_MS: env.positiveInt(5_000),
  /** JSON request body limits, checked before the policy sees a body (authz-server/src/body-limits.ts). */
  WARDEN_BODY_MAX_BYTES: env.positiveInt(DEFAULT_BODY_LIMITS.maxBytes),
  WARDEN_BODY_MAX_DEPTH: env.positiveInt(DEFAULT_BODY_LIMITS.maxDepth),
  WARDEN_BODY_MAX_KEYS: env.positiveInt(DEFAULT_BODY_LIMITS.maxKeys),
  WARDEN_BODY_MAX_STRING_BYTES: env.positiveInt(DEFAULT_BODY_LIMITS.maxStringBytes),
};

export type AuthzConfig = ReturnType<typeof loadAuthzConfig>;

export type RegistrySource =
  { kind: "file"; path: string } | { kind: "database"; url: string; jwksUrl: string } | { kind: "none" };

/**
 * Where the agent directory comes from. An explicit WARDEN_REGISTRY_FILE wins over a `DATABASE_URL`
 * merely present in the environment; naming both sources explicitly is a mistake.
 */
export function registrySource(config: AuthzConfig): RegistrySource {
  if (config.WARDEN_REGISTRY_FILE && config.WARDEN_REGISTRY_DATABASE_URL)
    throw new ConfigError([
      "WARDEN_REGISTRY_FILE and WARDEN_REGISTRY_DATABASE_URL: set one registry source, not both",
    ]);
  if (config.WARDEN_REGISTRY_FILE) return { kind: "file", path: config.WARDEN_REGISTRY_FILE };
  const url = config.WARDEN_REGISTRY_DATABASE_URL ?? config.DATABASE_URL;
  if (!url) return { kind: "none" };
  if (!config.WARDEN_JWKS_URL)
    throw new ConfigError([
      "WARDEN_JWKS_URL: required with a registry database, to verify attestations (not set)",
    ]);
  return { kind: "database", url, jwksUrl: config.WARDEN_JWKS_URL };
}

export function loadAuthzConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(authzConfigShape, source);
  return config;
}

export function bodyLimitsOf(config: AuthzConfig): BodyLimits {
  return {
    maxBytes: config.WARDEN_BODY_MAX_BYTES,
    maxDepth: config.WARDEN_BODY_MAX_DEPTH,
    maxKeys: config.WARDEN_BODY_MAX_KEYS,
    maxStringBytes: config.WARDEN_BODY_MAX_STRING_BYTES,
  };
}

/** The audit database: explicit, else the registry database. None: decisions are log lines only. */
export function auditDatabaseUrl(config: AuthzConfig, registry: RegistrySource): string | undefined {
  return config.WARDEN_AUDIT_DATABASE_URL ?? (registry.kind === "database" ? registry.url : undefined);
}
