import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { AuditWriter } from "../../lib/src/audit/writer.js";
import { exitOnConfigError } from "../../lib/src/config.js";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import { stopOnSignals } from "../../lib/src/stop-signals.js";
import { newDecisionId } from "../../lib/src/ids.js";
import { createLogger } from "../../lib/src/logger.js";
import { serverMtlsFromConfig } from "../../lib/src/spiffe/grpc-mtls.js";
import { startStatusServer } from "../../lib/src/status-server.js";
import { approvalBaseUrl } from "./approvals/config.js";
import { PostgresApprovalGate } from "./approvals/gate.js";
import { decisionAuditor } from "./audit/decision-audit.js";
import { REFUSE_ALL_DELEGATIONS } from "./authorizer.js";
import { resourceBearerCheck } from "./identity/bearer-token.js";
import { inboundSettings, type InboundSettings } from "./identity/inbound-config.js";
import { inboundIdentity, type InboundIdentify } from "./identity/inbound-identity.js";
import { BundleLoader } from "./bundle/loader.js";
import { bundleSourceFor } from "./bundle/sources.js";
import {
  auditDatabaseUrl,
  bodyLimitsOf,
  loadAuthzConfig,
  registrySource,
  type AuthzConfig,
  type RegistrySource,
} from "./config.js";
import { AgentIndex } from "./directory/agent-index.js";
import { jwksAttestationVerifier } from "./directory/attestation-verifier.js";
import { RegistryFeed } from "./directory/registry-feed.js";
import { RateLimitFeed, RateLimitIndex } from "./ratelimits/rate-limit-feed.js";
import { DelegationEnforcement } from "./delegation/enforcement.js";
import { readRegistryFile } from "./directory/static-file.js";
import { zeroCodeIdentity } from "./identity/zero-code.js";
import { PeerCertificateVerifier } from "./identity/peer-certificate-verifier.js";
import { perWorkerPath, serveOnWorkers } from "../../lib/src/grpc-server/workers.js";
import { PolicyHolder } from "./policy/holder.js";
import { mcpPolicyData } from "./policy/mcp-data.js";
import { AuthzServer } from "./server.js";
import { startTracing } from "../../lib/src/tracing/tracer.js";
import { tracedAuthorizerDeps } from "./tracing.js";
import type { AuthorizerDeps } from "./authorizer.js";
import { authzMetrics } from "./metrics/wiring.js";

let config: AuthzConfig;
try {
  config = loadAuthzConfig();
} catch (error) {
  exitOnConfigError("authz-server", error);
}
// WARDEN_WORKERS > 1: this process supervises that many serving copies of itself (one per core).
await serveOnWorkers("authz-server", config.WARDEN_WORKERS);

const logger = createLogger("authz-server", config.WARDEN_LOG_LEVEL);
const publicKeyPem = config.WARDEN_POLICY_PUBLIC_KEY
  ? readFileSync(config.WARDEN_POLICY_PUBLIC_KEY, "utf8")
  : undefined;

const holder = new PolicyHolder();
const loader = new BundleLoader(
  bundleSourceFor(config.WARDEN_POLICY_BUNDLE, config.WARDEN_POLICY_BUNDLE_TOKEN?.reveal()),
  holder,
  { publicKeyPem, requireSignature: config.WARDEN_POLICY_REQUIRE_SIGNATURE },
  logger,
  config.WARDEN_POLICY_POLL_MS,
);

let registry: RegistrySource;
try {
  registry = registrySource(config);
} catch (error) {
  exitOnConfigError("authz-server", error);
}
const directory = new AgentIndex();
// Registered MCP servers' tool rules are policy data: rebuilt whenever one of them changes.
const mcpProblemsLogged = new Set<string>();
directory.onMcpServersChanged(() => {
  const { data, problems } = mcpPolicyData(directory.mcpServers());
  for (const { name, problem } of problems) {
    const key = `${name}:${problem}`;
    if (mcpProblemsLogged.has(key)) continue;
    mcpProblemsLogged.add(key);
    logger.error({ mcp_server: name, problem }, "MCP server not served");
  }
  holder.setMcpData(data);
});
if (registry.kind === "file") {
  try {
    directory.replaceAll(readRegistryFile(registry.path));
  } catch (error) {
    exitOnConfigError("authz-server", error, [Error]);
  }
}
const registryDb =
  registry.kind === "database"
    ? createPostgresDatabase(registry.url, { max: 2, applicationName: "warden-authz-server" })
    : undefined;
const feed =
  registry.kind === "database" && registryDb
    ? new RegistryFeed({
        db: registryDb,
        index: directory,
        verifier: jwksAttestationVerifier(registry.jwksUrl),
        logger,
        resyncMs: config.WARDEN_REGISTRY_RESYNC_MS,
        attestationIssuer: config.WARDEN_ATTESTATION_ISSUER,
      })
    : undefined;
// Loaded before serving when the database answers; otherwise it keeps retrying and /readyz waits.
await feed?.start();
// The stored rate limits: input.rate_limits, and which requests go through the fail-closed stage.
const rateLimits = new RateLimitIndex();
const rateLimitFeed =
  registry.kind === "database" && registryDb
    ? new RateLimitFeed({
        db: registryDb,
        index: rateLimits,
        logger,
        resyncMs: config.WARDEN_REGISTRY_RESYNC_MS,
      })
    : undefined;
await rateLimitFeed?.start();
// Delegations need the revocation feed: with no registry database every delegation is refused.
const delegations =
  registry.kind === "database" && registryDb
    ? new DelegationEnforcement({
        db: registryDb,
        jwksUrl: registry.jwksUrl,
        issuer: config.WARDEN_TOKEN_ISSUER,
        jwksRefreshMs: config.WARDEN_JWKS_REFRESH_MS,
        resyncMs: config.WARDEN_REVOCATION_RESYNC_MS,
        logger,
      })
    : undefined;
await delegations?.start();

// Every decision into the audit log (denials always, allows as sampled), when there is a database.
const auditUrl = auditDatabaseUrl(config, registry);
const auditDb = auditUrl
  ? createPostgresDatabase(auditUrl, { max: 2, applicationName: "warden-authz-audit" })
  : undefined;
const auditWriter = auditDb
  ? await AuditWriter.open({
      db: auditDb,
      spoolPath: resolve(perWorkerPath(config.WARDEN_AUDIT_SPOOL)),
      logger,
    })
  : undefined;
if (!auditWriter) logger.warn("no audit database: decisions are recorded as log lines only");

// Calls held for human approval: settled against mcp_approvals with the data plane's login, on a
// pool of its own whose statements cannot outlive the gate's deadline.
const approvalsDb =
  registry.kind === "database"
    ? createPostgresDatabase(registry.url, {
        max: 4,
        connectTimeoutMs: 1_000,
        statementTimeoutMs: config.WARDEN_APPROVAL_TIMEOUT_MS,
        applicationName: "warden-authz-approvals",
      })
    : undefined;
const approvalUrl = approvalBaseUrl(config);
const approvals =
  approvalsDb && approvalUrl
    ? new PostgresApprovalGate({
        db: approvalsDb,
        publicUrl: approvalUrl,
        pendingTtlSeconds: config.WARDEN_APPROVAL_PENDING_TTL_S,
        timeoutMs: config.WARDEN_APPROVAL_TIMEOUT_MS,
        audit: auditWriter
          ? (event) =>
              auditWriter.submitTyped(event, (error) =>
                logger.error(
                  { err: error, action: event.action },
                  "approval audit event could not be stored",
                ),
              )
          : undefined,
        logger,
      })
    : undefined;

// With SPIRE: serve with our own SVID, only to Envoy, and verify every agent's certificate ourselves
// (Envoy lets any certificate through the handshake) against the bundles of our own SVID stream.
const peers = new PeerCertificateVerifier();
const mtls = await serverMtlsFromConfig(config, logger, (svid) => {
  if (peers.setBundles(svid.bundlesPem))
    logger.info({ trust_domains: peers.trustDomains }, "trust bundles updated");
});

// An MCP server's inbound sidecar: SVIDs, trusted sidecars' XFCC, or bearer tokens for its resource URI.
let inbound: InboundSettings | null;
try {
  inbound = inboundSettings(config, mtls?.svid.latest().spiffeId ?? null);
} catch (error) {
  exitOnConfigError("authz-server", error);
}
let identifyInbound: InboundIdentify | undefined;
if (inbound) {
  identifyInbound = inboundIdentity({
    verifyPeer: (peer, nowMs) => peers.identify(peer, nowMs),
    trustedSidecars: inbound.trustedSidecars,
    // Bearer tokens need the token keys and the revocation set: with no registry database, none.
    bearer: delegations
      ? resourceBearerCheck({
          keyFor: (kid) => delegations.keyFor(kid),
          isRevoked: (id) => delegations.isRevoked(id),
          revocationsLoaded: () => delegations.ready(),
          resource: inbound.resourceUri,
          issuer: config.WARDEN_TOKEN_ISSUER,
        })
      : null,
    resourceMetadataUrl: inbound.resourceMetadataUrl,
  });
  logger.info(
    {
      mcp_server: inbound.server,
      resource: inbound.resourceUri,
      trusted_sidecars: [...inbound.trustedSidecars],
      bearer_tokens: delegations !== undefined,
    },
    "inbound sidecar of an MCP server",
  );
}

if (config.WARDEN_ZERO_CODE_AGENT)
  logger.info({ agent: config.WARDEN_ZERO_CODE_AGENT }, "zero-code: bound to one agent's sidecar");

const metrics = authzMetrics({ holder, directory, feed, delegations, auditWriter, svid: mtls?.svid });
const tracing = await startTracing("authz-server", config.WARDEN_OTLP_ENDPOINT, logger);
const deps: AuthorizerDeps = {
  policy: loader.current,
  directory,
  delegations: metrics.timeDelegations(delegations?.verifier ?? REFUSE_ALL_DELEGATIONS),
  nowNs: () => Date.now() * 1e6,
  newDecisionId,
  dryRun: config.WARDEN_POLICY_DRY_RUN,
  bodyLimits: bodyLimitsOf(config),
  rateLimits,
  // Zero-code routes are refused unless this server is bound to that agent (identity/zero-code.ts).
  identify: zeroCodeIdentity(
    config.WARDEN_ZERO_CODE_AGENT ?? null,
    identifyInbound ?? (mtls ? (peer, nowNs) => peers.identify(peer, nowNs / 1e6) : undefined),
  ),
};
const server = new AuthzServer({
  logger,
  tracer: tracing.tracer,
  delegationNs: metrics.delegationNs,
  onDecision: auditWriter
    ? decisionAuditor({ writer: auditWriter, logger, allowSample: config.WARDEN_AUDIT_ALLOW_SAMPLE })
    : undefined,
  kind: config.WARDEN_GRPC_TRANSPORT,
  mtls,
  // Well inside Envoy's 250 ms ext_authz timeout; the control plane's JWKS answers in milliseconds.
  tokenKeysRefreshed: delegations ? () => delegations.keysRefreshed(150) : undefined,
  approvals,
  deps: tracing.tracer ? tracedAuthorizerDeps(deps, tracing.tracer) : deps,
});

await loader.refresh();
loader.start();
const port = await server.listen(config.WARDEN_AUTHZ_LISTEN);
// Health says SERVING only once a policy decides; until then every Check is refused (503).
server.setServing(loader.current() !== undefined);
loader.onActivated = () => server.setServing(true);
const statusServer = await startStatusServer(config.WARDEN_AUTHZ_STATUS_LISTEN, {
  ready: () => loader.current() !== undefined && (feed?.loaded ?? true) && (delegations?.ready() ?? true),
  status: () => ({
    component: "authz-server",
    dry_run: config.WARDEN_POLICY_DRY_RUN,
    policy: loader.status(),
    registry: feed?.status() ?? { source: registry.kind, agents: directory.size },
    delegations: delegations?.status() ?? null,
    audit: auditWriter ? { ...auditWriter.status(), allow_sample: config.WARDEN_AUDIT_ALLOW_SAMPLE } : null,
  }),
});
logger.info(
  {
    listen: config.WARDEN_AUTHZ_LISTEN,
    port,
    spiffe_id: mtls?.svid.latest().spiffeId ?? null,
    status: config.WARDEN_AUTHZ_STATUS_LISTEN,
    policy_revision: loader.status().revision,
  },
  "authz-server listening",
);

stopOnSignals(async (signal) => {
  logger.info({ signal }, "authz-server draining");
  loader.stop();
  await server.shutdown(config.WARDEN_SHUTDOWN_GRACE_MS);
  await auditWriter?.close();
  await auditDb?.close();
  await approvalsDb?.close();
  await feed?.stop();
  await rateLimitFeed?.stop();
  await delegations?.stop();
  await registryDb?.close();
  statusServer.close();
  mtls?.svid.close();
  await tracing.shutdown();
  logger.info("authz-server stopped");
});
