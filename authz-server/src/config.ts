import { z } from "zod";
import { ConfigError, env, processConfig } from "../../lib/src/config.js";
import { grpcTransportConfigShape } from "../../lib/src/grpc-server/edge.js";
import { workersConfigShape } from "../../lib/src/grpc-server/workers.js";
import { spiffeServerConfigShape } from "../../lib/src/spiffe/grpc-mtls.js";
import { tracingConfigShape } from "../../lib/src/tracing/config.js";
import { DEFAULT_BODY_LIMITS, type BodyLimits } from "./body-limits.js";
import { approvalGateConfigShape, approvalGateProblems } from "./approvals/config.js";
import { inboundConfigShape } from "./identity/inbound-config.js";

/** Every environment variable authz-server reads (docs/configuration.md is generated from this). */
export const authzConfigShape = {
  ...spiffeServerConfigShape,
  ...workersConfigShape,
  ...grpcTransportConfigShape,
  WARDEN_AUTHZ_LISTEN: env.listenAddress("127.0.0.1:9001").describe("The ext_authz gRPC listen address."),
  WARDEN_POLICY_BUNDLE: env
    .path()
    .describe(
      "The policy bundle: a file path, `file://` URL or `http(s)://` bundle server URL (polled with ETags).",
    ),
  WARDEN_POLICY_BUNDLE_TOKEN: env.secret(
    "Bearer token sent when fetching an `http(s)://` policy bundle (e.g. the control plane's bundle endpoint).",
  ),
  WARDEN_POLICY_PUBLIC_KEY: env
    .path()
    .optional()
    .describe("PEM file of the key policy bundles are signed with."),
  WARDEN_POLICY_REQUIRE_SIGNATURE: env
    .bool(true)
    .describe("Refuse unsigned bundles; `WARDEN_POLICY_PUBLIC_KEY` is then required."),
  WARDEN_POLICY_DRY_RUN: env
    .bool(false)
    .describe("Evaluate and record decisions but allow every request (rolling out a new policy)."),
  WARDEN_POLICY_POLL_MS: env
    .positiveInt(2_000)
    .describe("How often the bundle is checked for a new revision."),
  WARDEN_AUTHZ_STATUS_LISTEN: env
    .listenAddress("127.0.0.1:9101")
    .describe("HTTP status listener (`/healthz`, `/readyz`, `/status`, `/metrics`)."),
  WARDEN_REGISTRY_FILE: env
    .path()
    .optional()
    .describe(
      "A registry snapshot (agents and KYA, JSON) when no database feed is used; not together with `WARDEN_REGISTRY_DATABASE_URL`.",
    ),
  WARDEN_REGISTRY_DATABASE_URL: env
    .text()
    .optional()
    .describe(
      "The control plane's database: the registry feed (agents and KYA, LISTEN/NOTIFY) and the delegation revocation feed (without it no delegation is accepted); needs `WARDEN_JWKS_URL`. `DATABASE_URL` is the fallback.",
    ),
  DATABASE_URL: env.text().optional().describe("Fallback for `WARDEN_REGISTRY_DATABASE_URL`."),
  WARDEN_JWKS_URL: env
    .url()
    .optional()
    .describe(
      "The control plane's `/.well-known/jwks.json`: verifies attestations, delegations and access tokens; required with a registry database.",
    ),
  WARDEN_ATTESTATION_ISSUER: env
    .text()
    .optional()
    .describe(
      "The `iss` KYA attestations must carry, when set (the control plane's variable of the same name sets it).",
    ),
  WARDEN_REGISTRY_RESYNC_MS: env
    .positiveInt(60_000)
    .describe("Full registry re-read, a safety net behind LISTEN/NOTIFY."),
  WARDEN_TOKEN_ISSUER: env
    .text()
    .optional()
    .describe("The `iss` delegation and access tokens must carry, when set (docs/delegations.md)."),
  WARDEN_JWKS_REFRESH_MS: env
    .positiveInt(30_000)
    .describe("How often the JWKS is re-fetched (also on an unknown `kid`)."),
  WARDEN_REVOCATION_RESYNC_MS: env
    .positiveInt(60_000)
    .describe("Full re-read of delegation revocations, a safety net behind LISTEN/NOTIFY."),
  WARDEN_AUDIT_DATABASE_URL: env
    .postgresUrl()
    .optional()
    .describe(
      "Where every decision (allow and deny) is appended to the hash-chained audit log, as a login in `warden_audit_writer` (migration 008); default: the registry database; none: decisions are log lines only.",
    ),
  WARDEN_AUDIT_SPOOL: env
    .path()
    .default(".warden/authz-audit-spool.ndjson")
    .describe(
      "Where decision audit events wait while PostgreSQL is unreachable (NDJSON, fsync'd; one file per process).",
    ),
  WARDEN_AUDIT_ALLOW_SAMPLE: z.coerce
    .number()
    .min(0, "must be a fraction between 0 and 1")
    .max(1, "must be a fraction between 0 and 1")
    .default(1)
    .describe(
      'Fraction (0..1) of allowed requests audited; denials always are. Below 1 only by explicit choice (docs/security.md, "Audit and logs").',
    ),
  WARDEN_LOG_LEVEL: env.logLevel().describe("pino log level; decision inputs are logged at `debug` only."),
  ...approvalGateConfigShape,
  WARDEN_SHUTDOWN_GRACE_MS: env
    .positiveInt(5_000)
    .describe("How long in-flight checks may take to finish after SIGTERM."),
  WARDEN_BODY_MAX_BYTES: env
    .positiveInt(DEFAULT_BODY_LIMITS.maxBytes)
    .describe("Largest JSON request body the policy is given; larger is refused (413 `payload_too_large`)."),
  WARDEN_BODY_MAX_DEPTH: env
    .positiveInt(DEFAULT_BODY_LIMITS.maxDepth)
    .describe("Deepest nesting of a JSON request body (else 400 `body_too_deep`)."),
  WARDEN_BODY_MAX_KEYS: env
    .positiveInt(DEFAULT_BODY_LIMITS.maxKeys)
    .describe("Most keys in a JSON request body (else 400 `body_too_many_keys`)."),
  WARDEN_BODY_MAX_STRING_BYTES: env
    .positiveInt(DEFAULT_BODY_LIMITS.maxStringBytes)
    .describe("Longest string in a JSON request body (else 400 `body_string_too_long`)."),
  WARDEN_ZERO_CODE_AGENT: z
    .string()
    .regex(
      /^spiffe:\/\/[a-z0-9._-]+\/agent\/[^/]+$/,
      "must be an agent's SPIFFE ID, spiffe://<td>/agent/<name>",
    )
    .optional()
    .describe(
      "Zero-code mode (docs/zero-code.md): this authz-server answers one agent's zero-code sidecar, and its plain-HTTP loopback routes are that agent. Needs SPIRE mTLS and `WARDEN_ALLOWED_CLIENT_IDS` set to exactly that agent's SPIFFE ID (the sidecar holds its SVID). Unset: off.",
    ),
  // An MCP server's inbound sidecar (checked together by inboundSettings at start-up).
  ...inboundConfigShape,
  ...tracingConfigShape,
};

const authzConfig = processConfig({
  process: "authz-server",
  intro:
    "The ext_authz server: identity, KYA, delegations and the Rego policy. It serves gRPC health, and `/healthz`, `/readyz` (ready once a policy is loaded) and `/status` on its status listener.",
  shape: authzConfigShape,
  problems: (config) => [
    ...(config.WARDEN_POLICY_REQUIRE_SIGNATURE && !config.WARDEN_POLICY_PUBLIC_KEY
      ? ["WARDEN_POLICY_PUBLIC_KEY: required while WARDEN_POLICY_REQUIRE_SIGNATURE is true (not set)"]
      : []),
    ...approvalGateProblems(config),
    ...zeroCodeProblems(config),
  ],
});

/** A zero-code authz-server serves only the bound agent's sidecar, over mTLS. */
function zeroCodeProblems(config: {
  WARDEN_ZERO_CODE_AGENT?: string | undefined;
  WARDEN_ALLOWED_CLIENT_IDS?: string | undefined;
  WARDEN_INBOUND_MCP_SERVER?: string | undefined;
  SPIFFE_ENDPOINT_SOCKET?: string | undefined;
  WARDEN_SPIFFE_SOCKET?: string | undefined;
}): string[] {
  const agent = config.WARDEN_ZERO_CODE_AGENT;
  if (agent === undefined) return [];
  const clients = (config.WARDEN_ALLOWED_CLIENT_IDS ?? "")
    .split(",")
    .map((c) => c.trim())
    .filter(Boolean);
  return [
    ...(clients.length === 1 && clients[0] === agent
      ? []
      : [
          `WARDEN_ALLOWED_CLIENT_IDS: must be exactly WARDEN_ZERO_CODE_AGENT (${agent}), the zero-code sidecar's Envoy`,
        ]),
    ...(config.WARDEN_SPIFFE_SOCKET || config.SPIFFE_ENDPOINT_SOCKET
      ? []
      : ["WARDEN_ZERO_CODE_AGENT: needs SPIRE mTLS (WARDEN_SPIFFE_SOCKET or SPIFFE_ENDPOINT_SOCKET)"]),
    ...(config.WARDEN_INBOUND_MCP_SERVER
      ? ["WARDEN_ZERO_CODE_AGENT: not together with WARDEN_INBOUND_MCP_SERVER"]
      : []),
  ];
}

export const authzConfigReference = authzConfig.reference;
export const loadAuthzConfig = authzConfig.load;

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
