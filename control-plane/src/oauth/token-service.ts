import type { Logger } from "../../../lib/src/logger.js";
import type { VaultClient } from "../../../lib/src/vault/client.js";
import type { AppContext } from "../context.js";
import { loadScopeCatalogue } from "../delegations/catalogue.js";
import { delegationHandlers } from "../delegations/handlers.js";
import type { Handlers } from "../http/routes.js";
import type { AttestationSigner } from "../kya/signer.js";
import { keyRetentionSeconds, type TokenServiceConfig } from "./config.js";
import type { TokenServiceContext } from "./context.js";
import { discoveryHandlers } from "./discovery.js";
import { startMtlsListener, type MtlsListener } from "./mtls-listener.js";
import { withTokenKeys } from "./published-keys.js";
import { createTokenSigner } from "./token-signer.js";

/**
 * Delegations and the OAuth token service, wired once by app.ts: configuration, the token signer,
 * the scope catalogue, the API handlers, and (when configured) the mutual-TLS listener of /oauth2/*.
 */
export interface TokenService {
  context: TokenServiceContext;
  /** The attestation signer, publishing the token keys in the same JWKS. */
  publishing(signer: AttestationSigner | null): AttestationSigner | null;
  handlers(app: AppContext): Handlers;
  /** Once the API listens: fixes the issuer URL and starts the mutual-TLS listener. */
  start(app: AppContext, apiAddress: string): Promise<void>;
  close(): Promise<void>;
}

export function createTokenService(
  config: TokenServiceConfig,
  vault: VaultClient | null,
  transitMount: string,
  logger: Logger,
): TokenService {
  const signer = vault
    ? createTokenSigner(vault, {
        key: { mount: transitMount, name: config.WARDEN_TOKEN_SIGNING_KEY },
        rotation: {
          activationDelayMs: config.WARDEN_TOKEN_KEY_ACTIVATION_S * 1000,
          retentionMs: keyRetentionSeconds(config) * 1000,
        },
      })
    : null;
  const context: TokenServiceContext = {
    signer,
    catalogue: loadScopeCatalogue(config.WARDEN_SCOPE_CATALOGUE),
    limits: {
      defaultTtlSeconds: Math.min(config.WARDEN_DELEGATION_DEFAULT_TTL_S, config.WARDEN_DELEGATION_MAX_TTL_S),
      maxTtlSeconds: config.WARDEN_DELEGATION_MAX_TTL_S,
    },
    delegableScopesClaim: config.WARDEN_OIDC_DELEGABLE_SCOPES_CLAIM,
    accessTokenTtlSeconds: config.WARDEN_ACCESS_TOKEN_TTL_S,
    urls: { issuer: config.WARDEN_TOKEN_ISSUER ?? config.WARDEN_CP_PUBLIC_URL ?? "", mtls: null },
  };
  let mtls: MtlsListener | undefined;

  return {
    context,
    publishing: (attestations) =>
      attestations && signer ? withTokenKeys(attestations, signer, logger) : attestations,
    handlers: (app) => ({ ...delegationHandlers(app, context), ...discoveryHandlers(context) }),
    async start(app, apiAddress) {
      if (context.urls.issuer === "") context.urls.issuer = config.WARDEN_CP_PUBLIC_URL ?? apiAddress;
      const socket = config.WARDEN_SPIFFE_SOCKET ?? config.SPIFFE_ENDPOINT_SOCKET;
      if (config.WARDEN_CP_MTLS_PORT === undefined) return;
      if (!socket)
        throw new Error("WARDEN_CP_MTLS_PORT needs a SPIFFE Workload API socket (SPIFFE_ENDPOINT_SOCKET)");
      mtls = await startMtlsListener({
        app,
        tokens: context,
        host: config.WARDEN_CP_MTLS_HOST,
        port: config.WARDEN_CP_MTLS_PORT,
        workloadEndpoint: socket,
        spiffeId: config.WARDEN_CP_SPIFFE_ID,
      });
      context.urls.mtls = config.WARDEN_CP_MTLS_PUBLIC_URL ?? mtls.url;
    },
    async close() {
      await mtls?.close();
    },
  };
}
