import { createOutboundClient, outboundPolicyFrom } from "../../../lib/src/http/outbound.js";
import type { Logger } from "../../../lib/src/logger.js";
import { loadSaasCatalogue, type SaasCatalogue } from "../../../lib/src/saas/catalogue.js";
import type { VaultClient } from "../../../lib/src/vault/client.js";
import type { AppContext } from "../context.js";
import type { Handlers } from "../http/routes.js";
import type { ConnectionsConfig } from "./config.js";
import { connectionHandlers, type ConnectionsContext } from "./handlers.js";

export const CALLBACK_PATH = "/v1/connections/callback";

export interface Connections {
  /** The services users can connect (the portal lists them). */
  readonly catalogue: SaasCatalogue;
  handlers(app: AppContext): Handlers;
  /** Once the API listens: the callback URL defaults to its address. */
  start(apiAddress: string): void;
}

/** Account connections as configured (catalogue checked at start: a bad one stops the start). */
export function createConnections(
  config: ConnectionsConfig,
  vault: VaultClient | null,
  transitMount: string,
  logger: Logger,
): Connections {
  const catalogue = loadSaasCatalogue(config.WARDEN_SAAS_CATALOGUE);
  let callbackUrl = config.WARDEN_OAUTH_CALLBACK_URL ?? "";
  const context: ConnectionsContext = {
    catalogue,
    vault,
    paths: { kvMount: config.WARDEN_VAULT_KV_MOUNT, transitMount },
    callbackUrl: () => callbackUrl,
    stateTtlSeconds: config.WARDEN_OAUTH_STATE_TTL_S,
    providerTimeoutMs: config.WARDEN_OAUTH_PROVIDER_TIMEOUT_MS,
    http: createOutboundClient(outboundPolicyFrom(config)),
  };
  return {
    catalogue,
    handlers: (app) => connectionHandlers(app, context),
    start(apiAddress) {
      if (callbackUrl === "") callbackUrl = `${apiAddress.replace(/\/$/, "")}${CALLBACK_PATH}`;
      logger.info(
        { services: catalogue.services.map((s) => s.name), callback: callbackUrl },
        "account connections ready",
      );
    },
  };
}
