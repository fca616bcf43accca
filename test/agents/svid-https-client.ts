import { X509Certificate } from "node:crypto";
import { Agent, request } from "node:https";
import type { TLSSocket } from "node:tls";
import type { X509SvidUpdate } from "../../lib/src/spiffe/svid-update.js";
import type { X509SvidWatcher } from "../../lib/src/spiffe/x509-svid-watcher.js";
import { peerIsSpiffeId } from "../support/peer-spiffe-id.js";
import { responseText } from "./response-text.js";

/**
 * An agent's HTTPS client for the Warden sidecar: mTLS with the agent's X.509-SVID, the sidecar
 * checked against the SPIRE bundle and Envoy's SPIFFE ID. Every SVID the Workload API pushes gets a
 * fresh connection pool, so new connections present the newest certificate; the previous pool is
 * dropped once its requests are done. Nothing to restart, no API key anywhere.
 */
export interface AgentResponse {
  status: number;
  body: string;
  /** serial of the SVID this request's connection presented */
  clientSerial: string;
  /** serial of the sidecar's certificate on this connection */
  serverSerial: string;
}

const RETIRED_POOL_GRACE_MS = 30_000;

export class SvidHttpsClient {
  private pool: Agent | undefined;
  private svid: X509SvidUpdate | undefined;
  private closed = false;
  /** serials of every SVID this client has used, in order */
  readonly svidSerials: string[] = [];

  constructor(
    private readonly watcher: X509SvidWatcher,
    private readonly sidecarSpiffeId: string,
  ) {
    void this.follow();
  }

  async ready(timeoutMs = 20_000): Promise<void> {
    await this.watcher.waitForUpdate(() => true, timeoutMs);
    if (!this.pool && this.watcher.latest) this.use(this.watcher.latest);
  }

  request(
    url: string,
    options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
  ): Promise<AgentResponse> {
    const pool = this.pool;
    const clientSerial = this.svidSerials.at(-1) ?? "";
    if (!pool) return Promise.reject(new Error("no SVID yet"));
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        { method: options.method ?? "GET", headers: options.headers, agent: pool },
        (res) => {
          const socket = res.socket as TLSSocket;
          responseText(res).then(
            (body) =>
              resolve({
                status: res.statusCode ?? 0,
                body,
                clientSerial,
                serverSerial: socket.getPeerCertificate().serialNumber ?? "",
              }),
            reject,
          );
        },
      );
      req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error("request timed out")));
      req.on("error", reject);
      req.end(options.body);
    });
  }

  close(): void {
    this.closed = true;
    this.pool?.destroy();
    this.pool = undefined;
  }

  private async follow(): Promise<void> {
    try {
      for await (const update of this.watcher) {
        if (this.closed) return;
        if (update !== this.svid) this.use(update);
      }
    } catch {
      // The watcher failed for good (closed or refused); requests go on with the last SVID until it expires.
    }
  }

  private use(update: X509SvidUpdate): void {
    if (update === this.svid) return;
    this.svid = update;
    const previous = this.pool;
    this.pool = new Agent({
      keepAlive: true,
      cert: update.certChainPem,
      key: update.keyPem,
      ca: Object.values(update.bundlesPem),
      // An SVID names a workload by its URI SAN, not a host name: check that it is the sidecar.
      checkServerIdentity: peerIsSpiffeId(this.sidecarSpiffeId),
    });
    this.svidSerials.push(serialOf(update.certChainPem));
    if (previous) setTimeout(() => previous.destroy(), RETIRED_POOL_GRACE_MS).unref();
  }
}

function serialOf(pem: string): string {
  // X509Certificate reads the first certificate of the chain: the leaf.
  return new X509Certificate(pem).serialNumber;
}
