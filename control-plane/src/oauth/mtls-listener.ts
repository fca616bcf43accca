import type { Server as HttpsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import Fastify, { type FastifyError } from "fastify";
import { WorkloadApiClient } from "../../../lib/src/spiffe/workload-client.js";
import type { X509SvidUpdate } from "../../../lib/src/spiffe/svid-update.js";
import { parseX509Bundles, type X509Bundles } from "../../../lib/src/spiffe/x509.js";
import type { AppContext } from "../context.js";
import { authenticateClient, peerChain } from "./client-auth.js";
import type { TokenServiceContext } from "./context.js";
import { discoveryDocument } from "./discovery.js";
import { OAuthError, sendOAuthError } from "./errors.js";
import { listenerOptions, watchRequests } from "../http/listener.js";
import { registerTokenEndpoints } from "./token-endpoints.js";

/**
 * The token service's own listener: HTTPS with the control plane's X.509-SVID, asking every client
 * for its certificate (RFC 8705 mutual-TLS client authentication; RFC 8705 §5 calls it the
 * `mtls_endpoint_aliases`). The SVID and the SPIRE trust bundles come from the Workload API
 * (lib/src/spiffe) and are swapped in place on every rotation: new handshakes use the new SVID,
 * open connections carry on. The REST API keeps its own listener.
 */
export interface MtlsListenerOptions {
  app: AppContext;
  tokens: TokenServiceContext;
  host: string;
  port: number;
  workloadEndpoint: string;
  /** Which SVID is ours when the Workload API gives this process several; default: the first. */
  spiffeId: string | undefined;
  timeoutMs?: number;
}

export interface MtlsListener {
  url: string;
  spiffeId: string;
  close(): Promise<void>;
}

function ownSvid(update: X509SvidUpdate, spiffeId: string | undefined) {
  return spiffeId === undefined ? update : update.svids.find((s) => s.spiffeId === spiffeId);
}

function tlsOptions(update: X509SvidUpdate, spiffeId: string | undefined) {
  const svid = ownSvid(update, spiffeId);
  if (!svid) throw new Error(`the Workload API has no SVID for ${spiffeId ?? "this workload"}`);
  return {
    cert: svid.certChainPem,
    key: svid.keyPem,
    ca: Object.values(update.bundlesPem),
    // Ask for the client's SVID but let the handshake finish without one: it is checked per request
    // against the SPIFFE bundles, and a missing certificate becomes an OAuth error the client can read.
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2" as const,
  };
}

export async function startMtlsListener(options: MtlsListenerOptions): Promise<MtlsListener> {
  const { app } = options;
  const client = new WorkloadApiClient({ endpoint: options.workloadEndpoint });
  const watcher = client.watchX509Svids({
    onError: (error) => app.logger.warn({ err: error }, "Workload API stream failed; reconnecting"),
  });
  const stopWatching = () => {
    watcher.close();
    client.close();
  };
  let current: X509SvidUpdate;
  try {
    current = await watcher.waitForUpdate(
      (u) => ownSvid(u, options.spiffeId) !== undefined,
      options.timeoutMs ?? 30_000,
    );
  } catch (error) {
    stopWatching();
    throw error;
  }
  let bundles: X509Bundles = parseX509Bundles(current.bundlesPem);

  const server = Fastify({
    ...listenerOptions(app.logger, 64 * 1024),
    https: tlsOptions(current, options.spiffeId),
  });
  watchRequests(
    server,
    app.auditWriter
      ? {
          writer: app.auditWriter,
          logger: app.logger,
          source: "token_service",
          // The client's SVID when it verifies; otherwise what the certificate claims, marked unverified.
          identify: (request) => {
            const chain = peerChain(request.raw.socket as TLSSocket);
            try {
              const client = authenticateClient(chain, bundles, app.now(), undefined);
              return { actor: client.spiffeId, tenant: null, agentSpiffeId: client.spiffeId };
            } catch {
              return { actor: null, tenant: null, presented: chain[0]?.subjectAltName ?? null };
            }
          },
        }
      : null,
  );
  server.setErrorHandler((error: FastifyError | OAuthError, _request, reply) => {
    if (error instanceof OAuthError) return sendOAuthError(reply, error);
    const status = typeof error.statusCode === "number" ? error.statusCode : 500;
    if (status >= 500) app.logger.error({ err: error }, "token service request failed");
    return sendOAuthError(
      reply,
      status === 415 || (status >= 400 && status < 500)
        ? new OAuthError(
            "invalid_request",
            status === 415 ? "send the parameters as application/x-www-form-urlencoded" : error.message,
          )
        : new OAuthError("server_error", "internal error"),
    );
  });
  server.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: "not_found",
      error_description: `no route for ${request.method} ${request.url.split("?")[0]}`,
    }),
  );
  registerTokenEndpoints(server, { app, tokens: options.tokens, bundles: () => bundles });
  server.get("/.well-known/openid-configuration", async () => discoveryDocument(options.tokens));
  server.get("/.well-known/jwks.json", async (_request, reply) => {
    try {
      return { keys: (await app.signer?.jwks()) ?? [] };
    } catch {
      return reply
        .status(503)
        .send({ error: "temporarily_unavailable", error_description: "Vault is unavailable" });
    }
  });

  const address = await server
    .listen({ host: options.host, port: options.port })
    .catch(async (error: unknown) => {
      stopWatching();
      throw error;
    });
  const spiffeId = ownSvid(current, options.spiffeId)!.spiffeId;
  app.logger.info({ address, spiffe_id: spiffeId }, "token service listening (mutual TLS)");

  void (async () => {
    for await (const update of watcher) {
      if (update === current || !ownSvid(update, options.spiffeId)) continue;
      current = update;
      bundles = parseX509Bundles(update.bundlesPem);
      (server.server as HttpsServer).setSecureContext(tlsOptions(update, options.spiffeId));
      app.logger.info(
        { spiffe_id: spiffeId, expires_at: ownSvid(update, options.spiffeId)!.expiresAt.toISOString() },
        "token service SVID updated",
      );
    }
  })().catch((error: unknown) => app.logger.warn({ err: error }, "SVID watch ended"));

  return {
    url: address,
    spiffeId,
    async close() {
      stopWatching();
      await server.close();
    },
  };
}
