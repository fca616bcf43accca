import { exitOnConfigError } from "../../lib/src/config.js";
import { createLogger } from "../../lib/src/logger.js";
import { serverMtlsFromConfig } from "../../lib/src/spiffe/grpc-mtls.js";
import { loadExtprocConfig, type ExtprocConfig } from "./config.js";
import { loadLlmKeysConfig, vaultCertConfig, type LlmKeysConfig } from "./credentials/config.js";
import { vaultLlmKeys } from "./credentials/vault-llm-keys.js";
import type { Provider } from "./providers.js";
import { LlmProvider } from "./providers/llm/provider.js";
import { ExtProcServer } from "./server.js";
import { logUsageSink } from "./usage/log-sink.js";

let config: ExtprocConfig;
let llmConfig: LlmKeysConfig;
try {
  config = loadExtprocConfig();
  llmConfig = loadLlmKeysConfig();
} catch (error) {
  exitOnConfigError("extproc-server", error);
}

const logger = createLogger("extproc-server", config.WARDEN_LOG_LEVEL);
const providers: Provider[] = [];
const vault = vaultCertConfig(llmConfig);
if (vault) {
  const { keys } = vaultLlmKeys(vault, llmConfig, logger);
  providers.push(
    new LlmProvider({
      keys,
      usage: logUsageSink(logger),
      defaultTenant: llmConfig.WARDEN_DEFAULT_TENANT ?? null,
    }),
  );
  logger.info({ vault: vault.address, kv_mount: vault.kvMount }, "LLM key injection from Vault");
} else {
  // Without Vault there are no keys to inject: LLM routes pass with the agent's credentials removed.
  logger.warn("VAULT_ADDR is not set: LLM key injection, usage records and response key scrubbing are off");
}
// With SPIRE: serve with our own SVID, only to Envoy.
const mtls = await serverMtlsFromConfig(config, logger);
const server = new ExtProcServer({
  logger,
  providers,
  credentials: mtls?.credentials,
  interceptors: mtls?.interceptors,
});

let port: number;
try {
  port = await server.listen(config.WARDEN_EXTPROC_LISTEN);
} catch (error) {
  logger.fatal({ err: error, listen: config.WARDEN_EXTPROC_LISTEN }, "extproc-server cannot listen");
  process.exit(1);
}
logger.info(
  { listen: config.WARDEN_EXTPROC_LISTEN, port, spiffe_id: mtls?.svid.latest().spiffeId ?? null },
  "extproc-server listening",
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal, open_streams: server.openStreams }, "extproc-server draining");
  await server.shutdown(config.WARDEN_SHUTDOWN_GRACE_MS);
  mtls?.svid.close();
  logger.info("extproc-server stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
