import { tracingConfigShape } from "../../lib/src/tracing/config.js";
import { env, processConfig } from "../../lib/src/config.js";
import { grpcTransportConfigShape } from "../../lib/src/grpc-server/edge.js";
import { workersConfigShape } from "../../lib/src/grpc-server/workers.js";
import { spiffeServerConfigShape } from "../../lib/src/spiffe/grpc-mtls.js";
import { llmKeysConfigShape, llmKeysProblems } from "./credentials/config.js";
import { oauthConfigShape } from "./oauth/config.js";
import { usageConfigShape } from "./usage/config.js";
import { tokenChargesConfigShape } from "./ratelimit/config.js";

/**
 * Every environment variable extproc-server reads, in one schema (docs/configuration.md is
 * generated from it); each part belongs to the module that uses it.
 */
export const extprocConfigShape = {
  ...spiffeServerConfigShape,
  ...workersConfigShape,
  ...grpcTransportConfigShape,
  WARDEN_EXTPROC_LISTEN: env.listenAddress("127.0.0.1:9002").describe("The ext_proc gRPC listen address."),
  WARDEN_EXTPROC_STATUS_LISTEN: env
    .listenAddress("127.0.0.1:9102")
    .describe("HTTP status listener (`/healthz`, `/readyz`, `/status`, `/metrics`); keep it on loopback."),
  WARDEN_LOG_LEVEL: env.logLevel().describe("pino log level."),
  // An open stream is an HTTP exchange in flight, possibly a long LLM stream: give it time to finish.
  WARDEN_SHUTDOWN_GRACE_MS: env
    .positiveInt(25_000)
    .describe("How long open exchanges (a long LLM stream) may take to finish after SIGTERM."),
  WARDEN_INSECURE_DEV_PLAINTEXT: env
    .bool(false)
    .describe(
      "Development only: serve plaintext gRPC although Vault is configured (logged as INSECURE at start-up). Without it, extproc-server with `VAULT_ADDR` refuses to start (exit 78) unless `SPIFFE_ENDPOINT_SOCKET` is set.",
    ),
  ...llmKeysConfigShape,
  ...usageConfigShape,
  ...tokenChargesConfigShape,
  ...oauthConfigShape,
  ...tracingConfigShape,
};

const extprocConfig = processConfig({
  process: "extproc-server",
  intro:
    "The ext_proc server: credentials in (LLM keys, users' SaaS tokens), credentials out of responses, usage, cost and budgets. Without `VAULT_ADDR` it injects nothing and LLM routes pass with the agent's credentials removed.",
  shape: extprocConfigShape,
  problems: llmKeysProblems,
});

export const extprocConfigReference = extprocConfig.reference;
export const loadExtprocConfig = extprocConfig.load;
export type ExtprocConfig = ReturnType<typeof loadExtprocConfig>;

/**
 * Whether this server may serve plaintext gRPC. With Vault configured, every ext_proc stream can carry
 * a tenant's key: over plaintext any local process could ask for one by sending ext_authz-shaped
 * metadata. Only SPIFFE mTLS (which admits Envoy's SPIFFE ID alone) may serve it, unless the
 * development flag says otherwise, out loud.
 */
export type TransportCheck = { ok: true; insecureDev: boolean } | { ok: false; reason: string };

export function transportCheck(config: ExtprocConfig, vaultConfigured: boolean): TransportCheck {
  const mtls = (config.WARDEN_SPIFFE_SOCKET ?? config.SPIFFE_ENDPOINT_SOCKET) !== undefined;
  if (!vaultConfigured || mtls) return { ok: true, insecureDev: false };
  if (config.WARDEN_INSECURE_DEV_PLAINTEXT) return { ok: true, insecureDev: true };
  return {
    ok: false,
    reason:
      "VAULT_ADDR is set but SPIFFE_ENDPOINT_SOCKET is not: extproc-server hands out credentials and " +
      "serves them only over SPIFFE mTLS. Set SPIFFE_ENDPOINT_SOCKET (or, for local development only, " +
      "WARDEN_INSECURE_DEV_PLAINTEXT=true)",
  };
}
