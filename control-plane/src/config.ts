import { z } from "zod";
import { env, processConfig } from "../../lib/src/config.js";
import { DEFAULT_TRUST_DOMAIN } from "../../lib/src/spiffe/naming.js";
import { connectionsConfigShape } from "./connections/config.js";
import { tokenServiceConfigShape } from "./oauth/config.js";
import { approvalConfigShape } from "./approvals/config.js";
import { webhookConfigProblems, webhookConfigShape } from "./webhooks/config.js";
import { portalConfigProblems, portalConfigShape } from "./portal/config.js";

/**
 * Every environment variable the control plane reads, in one schema (docs/configuration.md is
 * generated from it). The Vault token is a Secret: it prints as `[REDACTED]` wherever the config goes.
 */
export const controlPlaneConfigShape = {
  DATABASE_URL: env
    .postgresUrl()
    .optional()
    .describe("PostgreSQL; unset: embedded PGlite in `WARDEN_PGLITE_DIR` (or in memory)."),
  WARDEN_PGLITE_DIR: env.path().optional().describe("Data directory of the embedded PGlite database."),
  WARDEN_MIGRATE: env.bool(true).describe("Apply database migrations at start-up."),
  WARDEN_CP_HOST: env.host("127.0.0.1").describe("REST API listen host."),
  WARDEN_CP_PORT: env.port(8081).describe("REST API listen port (0: any free port)."),
  WARDEN_CP_BODY_LIMIT: env.positiveInt(256 * 1024).describe("Largest request body the API accepts (bytes)."),
  WARDEN_CP_METRICS_TOKEN: env.secret(
    "Bearer token Prometheus must send to read `/metrics` (at least 16 characters); unset: `/metrics` is open, like `/healthz` (it holds no per-user data).",
    /^.{16,}$/,
  ),
  WARDEN_TRUST_DOMAIN: z
    .string()
    .regex(/^[a-z0-9._-]+$/, "must be a SPIFFE trust domain (lower-case letters, digits, . _ -)")
    .default(DEFAULT_TRUST_DOMAIN)
    .describe("SPIFFE trust domain of registered agents and MCP servers."),
  WARDEN_OIDC_ISSUER: env.url().describe("OIDC issuer of the operators' and users' tokens (required)."),
  WARDEN_OIDC_AUDIENCE: env
    .text()
    .default("warden-control-plane")
    .describe("`aud` the API's bearer tokens must carry."),
  WARDEN_OIDC_JWKS_URL: env
    .url()
    .optional()
    .describe("JWKS of the OIDC issuer; default: from its discovery document."),
  WARDEN_OIDC_ROLES_CLAIM: env.text().default("roles").describe("Claim holding a caller's roles."),
  WARDEN_OIDC_TENANT_CLAIM: env.text().default("tenant").describe("Claim holding a caller's tenant."),
  VAULT_ADDR: env
    .url()
    .optional()
    .describe("Vault (OpenBao) address; unset: nothing is signed and no token is stored."),
  VAULT_TOKEN: env.secret("Vault token of the control plane."),
  VAULT_TOKEN_FILE: env
    .path()
    .optional()
    .describe(
      "File holding the Vault token (e.g. written by a Vault agent; re-read when Vault refuses the token); preferred over `VAULT_TOKEN`.",
    ),
  VAULT_NAMESPACE: env.text().optional().describe("Vault Enterprise / OpenBao namespace."),
  WARDEN_VAULT_TRANSIT_MOUNT: env
    .vaultMount("transit")
    .describe("Vault transit mount of the signing keys and the tenant keys."),
  WARDEN_SIGNING_KEY: env
    .text()
    .default("warden-signing")
    .describe("Transit key (ES256) that signs KYA attestations."),
  WARDEN_KYA_TTL_DAYS: env.positiveInt(90).describe("Lifetime of a KYA attestation."),
  WARDEN_ATTESTATION_ISSUER: env
    .text()
    .optional()
    .describe("`iss` of signed attestations; default: the control plane's SPIFFE ID."),
  WARDEN_LOG_LEVEL: env.logLevel().describe("pino log level."),
  WARDEN_CP_AUDIT_SPOOL: env
    .path()
    .default(".warden/control-plane-audit-spool.ndjson")
    .describe("Where refusal audit events wait while PostgreSQL is unreachable (NDJSON, fsync'd)."),
  WARDEN_RATELIMIT_CONFIG_FILE: env
    .path()
    .optional()
    .describe(
      "The YAML file envoyproxy/ratelimit watches (`<RUNTIME_ROOT>/<subdirectory>/config/warden.yaml`); the API's rate limits are written there at start-up and after every change. Unset: limits are stored but no service hears of them.",
    ),
  ...tokenServiceConfigShape,
  ...approvalConfigShape,
  ...connectionsConfigShape,
  ...webhookConfigShape,
  ...portalConfigShape,
};

const controlPlaneConfig = processConfig({
  process: "control-plane",
  intro:
    "The REST API and OAuth token service over PostgreSQL: registry, KYA, delegations, account connections, budgets, usage and audit.",
  shape: controlPlaneConfigShape,
  problems: (config) => [...webhookConfigProblems(config), ...portalConfigProblems(config)],
});

export const controlPlaneConfigReference = controlPlaneConfig.reference;
export const loadControlPlaneConfig = controlPlaneConfig.load;
export type ControlPlaneConfig = ReturnType<typeof loadControlPlaneConfig>;
