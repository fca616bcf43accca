import {
  experimental,
  ServerInterceptingCall,
  status as GrpcStatus,
  type ServerCredentials,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import { X509Certificate } from "node:crypto";
import { z } from "zod";
import type { Logger } from "../logger.js";
import { workloadSpiffeId } from "./naming.js";
import { parseSpiffeId } from "./spiffe-id.js";
import type { X509SvidUpdate } from "./svid-update.js";
import { WorkloadApiClient } from "./workload-client.js";
import { spiffeIdFromCertificate } from "./x509.js";

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Adds the listener and, on a microtask, hands it the current value if there is one by then. */
function listenWithCurrent<Update>(
  listeners: Set<(update: Update | null) => void>,
  listener: (update: Update | null) => void,
  current: () => Update | null,
): void {
  listeners.add(listener);
  queueMicrotask(() => {
    const value = current();
    if (value && listeners.has(listener)) listener(value);
  });
}

/**
 * Serves gRPC with the component's own X.509-SVID and trusts the SPIRE bundle. Fed by the Workload
 * API stream: every rotation pushed by the agent replaces the identity and CA certificates in place,
 * so new TLS handshakes use the new SVID while connections already open keep going — no restart,
 * no dropped request.
 */
export class SvidCertificateProvider implements CertificateProvider {
  private ca: experimental.CaCertificateUpdate | null = null;
  private identity: experimental.IdentityCertificateUpdate | null = null;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly rotationListeners = new Set<() => void>();
  rotations = 0;
  spiffeId: string | null = null;
  expiresAt: Date | null = null;

  /** Trust bundles of every trust domain the update carries (own and federated). */
  update(svid: X509SvidUpdate): void {
    this.identity = { certificate: Buffer.from(svid.certChainPem), privateKey: Buffer.from(svid.keyPem) };
    this.ca = { caCertificate: Buffer.from(Object.values(svid.bundlesPem).join("\n")) };
    this.spiffeId = svid.spiffeId;
    this.expiresAt = svid.expiresAt;
    this.rotations += 1;
    for (const listener of this.caListeners) listener(this.ca);
    for (const listener of this.identityListeners) listener(this.identity);
    for (const listener of this.rotationListeners) listener();
  }

  /** The current SVID and bundles as node:tls options (the node:http2 transport, lib/src/grpc-h2/). */
  tlsMaterial(): { key: Buffer; cert: Buffer; ca: Buffer } {
    if (!this.identity || !this.ca) throw new Error("no SVID yet");
    return { key: this.identity.privateKey, cert: this.identity.certificate, ca: this.ca.caCertificate };
  }

  /** Called after every update from the Workload API, once the new SVID is in place. */
  onRotated(listener: () => void): void {
    this.rotationListeners.add(listener);
  }

  // The current value is delivered on a microtask, not during the call: grpc-js (1.14) adds its
  // server's watcher only after registering these listeners, so a synchronous delivery is lost and
  // the server drops every connection until the next rotation.
  addCaCertificateListener(listener: CaListener): void {
    listenWithCurrent(this.caListeners, listener, () => this.ca);
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    listenWithCurrent(this.identityListeners, listener, () => this.identity);
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}

/** Server credentials that require a client certificate chaining to the SPIRE bundle. */
export function svidServerCredentials(provider: SvidCertificateProvider): ServerCredentials {
  return experimental.createCertificateProviderServerCredentials(provider, provider, true);
}

/** The SPIFFE ID of a verified TLS peer certificate (grpc-js auth context), or null. */
export function peerSpiffeId(raw: Buffer | undefined): string | null {
  if (!raw || raw.length === 0) return null;
  try {
    return spiffeIdFromCertificate(new X509Certificate(raw)).id;
  } catch {
    return null;
  }
}

/**
 * The HTTP/2 session a call arrived on, when the interceptor was handed grpc-js's own call object (the
 * first interceptor is): its `stream.session`. Not part of grpc-js's typed API, so read defensively;
 * null means "unknown" and the caller falls back to reading the certificate per call.
 */
function sessionOf(call: object): object | null {
  const stream: unknown = Reflect.get(call, "stream");
  if (typeof stream !== "object" || stream === null) return null;
  const session: unknown = Reflect.get(stream, "session");
  return typeof session === "object" && session !== null ? session : null;
}

/** The verified peer's SPIFFE ID from grpc-js's auth context (re-reads the TLS peer certificate). */
function peerOfCall(call: { getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } } }): string | null {
  return peerSpiffeId(call.getAuthContext().sslPeerCertificate?.raw);
}

/**
 * Only the named SPIFFE IDs may call (e.g. Envoy's). The TLS layer has already verified the chain
 * against the bundle; this checks who it is. Anyone else gets PERMISSION_DENIED before the handler.
 *
 * The caller is read once per connection: grpc-js's auth context re-reads and re-parses the TLS
 * peer certificate on every call (6% of authz-server's and 12.6% of extproc-server's CPU on the real
 * path), while the certificate cannot change for the life of the connection (Node disables TLS
 * renegotiation on HTTP/2 sessions). The cache is keyed by the HTTP/2 session object itself, never
 * by an address, so it dies with the connection and a new connection is always read afresh.
 */
export function allowOnlySpiffeIds(
  allowed: ReadonlySet<string>,
  onRefused?: (peer: string | null) => void,
): ServerInterceptor {
  const peerBySession = new WeakMap<object, string | null>();
  return (_method, call) => {
    const session = sessionOf(call);
    let peer: string | null;
    if (session === null) peer = peerOfCall(call);
    else {
      const known = peerBySession.get(session);
      if (known !== undefined) peer = known;
      else {
        peer = peerOfCall(call);
        peerBySession.set(session, peer);
      }
    }
    if (peer !== null && allowed.has(peer)) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: () => {
            onRefused?.(peer);
            call.sendStatus({
              code: GrpcStatus.PERMISSION_DENIED,
              details: `${peer ?? "a caller without a SPIFFE ID"} may not call this service`,
            });
          },
        }),
    });
  };
}

/** A gRPC server's own SVID, kept current from the Workload API stream. */
export interface ServerSvidSource {
  readonly provider: SvidCertificateProvider;
  readonly credentials: ServerCredentials;
  /** The latest update (own SVID and the bundles), for checks beyond the TLS layer. */
  latest(): X509SvidUpdate;
  close(): void;
}

/**
 * Opens the Workload API stream, waits for the first SVID (the server must not listen without one),
 * then feeds every rotation into the certificate provider in the background.
 */
export async function watchServerSvid(
  endpoint: string,
  options: {
    timeoutMs?: number;
    onUpdate?: (svid: X509SvidUpdate) => void;
    onError?: (error: Error) => void;
  } = {},
): Promise<ServerSvidSource> {
  const client = new WorkloadApiClient({ endpoint });
  const watcher = client.watchX509Svids({ onError: options.onError });
  const provider = new SvidCertificateProvider();
  let latest: X509SvidUpdate;
  try {
    latest = await watcher.waitForUpdate(() => true, options.timeoutMs ?? 30_000);
  } catch (error) {
    watcher.close();
    client.close();
    throw error;
  }
  provider.update(latest);
  options.onUpdate?.(latest);
  void (async () => {
    for await (const update of watcher) {
      if (update === latest) continue;
      latest = update;
      provider.update(update);
      options.onUpdate?.(update);
    }
  })().catch((error: unknown) =>
    options.onError?.(error instanceof Error ? error : new Error(String(error))),
  );
  return {
    provider,
    credentials: svidServerCredentials(provider),
    latest: () => latest,
    close: () => {
      watcher.close();
      client.close();
    },
  };
}

/** Environment of a server that may run on SVIDs (both of our gRPC servers). */
export const spiffeSocketConfigShape = {
  SPIFFE_ENDPOINT_SOCKET: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The SPIRE agent's Workload API (`unix:/path`): when set, a server serves gRPC with its SVID (mTLS), accepting only `WARDEN_ALLOWED_CLIENT_IDS`.",
    ),
  WARDEN_SPIFFE_SOCKET: z
    .string()
    .min(1)
    .optional()
    .describe("The Workload API socket for this component; takes precedence over `SPIFFE_ENDPOINT_SOCKET`."),
};

export const spiffeServerConfigShape = {
  ...spiffeSocketConfigShape,
  WARDEN_ALLOWED_CLIENT_IDS: z
    .string()
    .min(1)
    .optional()
    .describe("Comma-separated SPIFFE IDs that may call; default: Envoy's in the server's own trust domain."),
};

/** The callers a server accepts: the configured list, else Envoy's SPIFFE ID in its own trust domain. */
export function allowedClientIds(configured: string | undefined, ownSpiffeId: string): Set<string> {
  if (configured) {
    const ids = configured
      .split(",")
      .map((id) => id.trim())
      .filter((id) => id.length > 0);
    for (const id of ids) parseSpiffeId(id);
    return new Set(ids);
  }
  return new Set([workloadSpiffeId(parseSpiffeId(ownSpiffeId).trustDomain, "warden", "envoy")]);
}

export interface ServerMtls {
  svid: ServerSvidSource;
  credentials: ServerCredentials;
  interceptors: ServerInterceptor[];
  allowed: ReadonlySet<string>;
  /** Logs a caller that is not allowed (what the interceptor calls; the node:http2 transport too). */
  onRefused: (peer: string | null) => void;
}

/**
 * mTLS for one of our gRPC servers when a Workload API socket is configured; undefined (plaintext,
 * loopback: dev and the plaintext tests) when not.
 */
export async function serverMtlsFromConfig(
  config: {
    SPIFFE_ENDPOINT_SOCKET?: string;
    WARDEN_SPIFFE_SOCKET?: string;
    WARDEN_ALLOWED_CLIENT_IDS?: string;
  },
  logger: Logger,
  onUpdate?: (svid: X509SvidUpdate) => void,
): Promise<ServerMtls | undefined> {
  const endpoint = config.WARDEN_SPIFFE_SOCKET ?? config.SPIFFE_ENDPOINT_SOCKET;
  if (!endpoint) return undefined;
  const svid = await watchServerSvid(endpoint, {
    onUpdate: (update) => {
      logger.info({ spiffe_id: update.spiffeId, expires_at: update.expiresAt.toISOString() }, "SVID updated");
      onUpdate?.(update);
    },
    onError: (error) => logger.warn({ err: error }, "Workload API stream failed; reconnecting"),
  });
  const allowed = allowedClientIds(config.WARDEN_ALLOWED_CLIENT_IDS, svid.latest().spiffeId);
  const onRefused = (peer: string | null) =>
    logger.warn({ peer: peer ?? null }, "refused a caller that is not allowed");
  const interceptor = allowOnlySpiffeIds(allowed, onRefused);
  return { svid, credentials: svid.credentials, interceptors: [interceptor], allowed, onRefused };
}
