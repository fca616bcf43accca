import { exitOnConfigError } from "../../lib/src/config.js";
import { createLogger } from "../../lib/src/logger.js";
import { serverMtlsFromConfig } from "../../lib/src/spiffe/grpc-mtls.js";
import { ConfigError } from "../../lib/src/config.js";
import { loadExtprocConfig, transportCheck, type ExtprocConfig } from "./config.js";
import { vaultCertConfig } from "./credentials/config.js";
import { vaultLlmKeys } from "./credentials/vault-llm-keys.js";
import type { Provider } from "./providers.js";
import { LlmProvider } from "./providers/llm/provider.js";
import { auditMcpCalls, logMcpCalls } from "./mcp/calls.js";
import { McpProvider } from "./mcp/provider.js";
import { startOAuth, type RunningOAuth } from "./oauth/start-oauth.js";
import { SaasCatalogueError } from "../../lib/src/saas/catalogue.js";
import { ExtProcServer } from "./server.js";
import { startTracing } from "../../lib/src/tracing/tracer.js";
import { tracedKeySource, tracedUsageSink } from "./tracing.js";
import { usageSettings } from "./usage/config.js";
import { PriceTableError } from "./usage/prices.js";
import { startUsage, type RunningUsage } from "./usage/start-usage.js";
import { NO_TOKEN_CHARGES, RateLimitTokenCharges } from "./ratelimit/token-charges.js";
import { extprocStatus } from "./metrics/status.js";
import { meteredMcpCalls } from "./metrics/mcp-metrics.js";
import { stopOnSignals } from "../../lib/src/stop-signals.js";
import { perWorkerPath, serveOnWorkers } from "../../lib/src/grpc-server/workers.js";

let config: ExtprocConfig;
try {
  config = loadExtprocConfig();
} catch (error) {
  exitOnConfigError("extproc-server", error);
}
// WARDEN_WORKERS > 1: this process supervises that many serving copies of itself (one per core).
await serveOnWorkers("extproc-server", config.WARDEN_WORKERS);
const usageConfig = usageSettings({
  ...config,
  WARDEN_USAGE_SPOOL: perWorkerPath(config.WARDEN_USAGE_SPOOL),
});

const logger = createLogger("extproc-server", config.WARDEN_LOG_LEVEL);
const providers: Provider[] = [];
const tracing = await startTracing("extproc-server", config.WARDEN_OTLP_ENDPOINT, logger);
const tracer = tracing.tracer;
const vault = vaultCertConfig(config);
const transport = transportCheck(config, vault !== null);
if (!transport.ok) exitOnConfigError("extproc-server", new ConfigError([transport.reason]));
if (transport.insecureDev)
  logger.warn(
    { insecure_dev_plaintext: true },
    "INSECURE: WARDEN_INSECURE_DEV_PLAINTEXT is set: Vault credentials are served over plaintext gRPC to any local process. Development only",
  );
let usage: RunningUsage | null = null;
const tokenCharges = config.WARDEN_RATELIMIT_GRPC_ADDRESS
  ? new RateLimitTokenCharges(
      config.WARDEN_RATELIMIT_GRPC_ADDRESS,
      config.WARDEN_RATELIMIT_TIMEOUT_MS,
      logger,
    )
  : NO_TOKEN_CHARGES;
let oauth: RunningOAuth | null = null;
if (vault) {
  try {
    usage = await startUsage(usageConfig, logger);
  } catch (error) {
    exitOnConfigError("extproc-server", error, [PriceTableError]);
  }
  const { keys, session } = vaultLlmKeys(vault, config, logger);
  providers.push(
    new LlmProvider({
      keys: tracer ? tracedKeySource(keys, tracer) : keys,
      usage: tracer ? tracedUsageSink(usage.usage, tracer) : usage.usage,
      budgets: usage.budgets,
      reservations: usage.reservations,
      tokenCharges,
      defaultTenant: config.WARDEN_DEFAULT_TENANT ?? null,
    }),
  );
  logger.info({ vault: vault.address, kv_mount: vault.kvMount }, "LLM key injection from Vault");
  try {
    oauth = await startOAuth(config, session, vault.kvMount, logger, usageConfig.WARDEN_USAGE_SPOOL);
  } catch (error) {
    exitOnConfigError("extproc-server", error, [SaasCatalogueError]);
  }
  providers.push(oauth.provider);
  providers.push(
    new McpProvider({
      catalogue: oauth.catalogue,
      tokens: oauth.tokens,
      events: oauth.events,
      calls: meteredMcpCalls(oauth.audit ? auditMcpCalls(oauth.audit, logger) : logMcpCalls(logger)),
      now: Date.now,
    }),
  );
} else {
  // Without Vault there are no keys to inject: LLM routes pass with the agent's credentials removed.
  logger.warn("VAULT_ADDR is not set: LLM key injection, usage records and response key scrubbing are off");
  // MCP lists are still filtered and calls logged; no user token can be injected.
  providers.push(
    new McpProvider({
      catalogue: null,
      tokens: null,
      events: null,
      calls: meteredMcpCalls(logMcpCalls(logger)),
      now: Date.now,
    }),
  );
}
// With SPIRE: serve with our own SVID, only to Envoy.
const mtls = await serverMtlsFromConfig(config, logger);
const server = new ExtProcServer({
  logger,
  providers,
  tracer,
  kind: config.WARDEN_GRPC_TRANSPORT,
  mtls,
});

let port: number;
try {
  port = await server.listen(config.WARDEN_EXTPROC_LISTEN);
} catch (error) {
  logger.fatal({ err: error, listen: config.WARDEN_EXTPROC_LISTEN }, "extproc-server cannot listen");
  process.exit(1);
}
const statusServer = await extprocStatus(config.WARDEN_EXTPROC_STATUS_LISTEN, {
  logger,
  usage,
  oauth,
  svid: mtls?.svid,
});
logger.info(
  {
    listen: config.WARDEN_EXTPROC_LISTEN,
    port,
    status: config.WARDEN_EXTPROC_STATUS_LISTEN,
    spiffe_id: mtls?.svid.latest().spiffeId ?? null,
  },
  "extproc-server listening",
);

stopOnSignals(async (signal) => {
  logger.info({ signal, open_streams: server.openStreams }, "extproc-server draining");
  await server.shutdown(config.WARDEN_SHUTDOWN_GRACE_MS);
  // Exchanges are over: their usage records are queued; store them (database or spool) before leaving.
  await usage
    ?.close()
    .catch((error: unknown) => logger.error({ err: error }, "usage store did not close cleanly"));
  await oauth
    ?.close()
    .catch((error: unknown) => logger.error({ err: error }, "oauth audit store did not close cleanly"));
  tokenCharges.close();
  statusServer?.close();
  mtls?.svid.close();
  await tracing.shutdown();
  logger.info("extproc-server stopped");
});
