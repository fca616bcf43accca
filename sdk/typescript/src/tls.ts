import { Agent } from "node:https";
import type { PeerCertificate } from "node:tls";
import type { X509SvidUpdate } from "../../../lib/src/spiffe/svid-update.js";

/**
 * mTLS to a Warden component with the agent's SVID. The server's chain is verified against the SPIRE
 * trust bundles (Node's usual check), and instead of a host-name check, which an SVID cannot pass
 * (it names a workload by a URI SAN, no DNS name or IP), its SPIFFE ID must be the expected one.
 */
export class ServerIdentityError extends Error {
  readonly code = "ERR_WARDEN_SERVER_IDENTITY";

  constructor(
    readonly expected: string,
    readonly presented: readonly string[],
  ) {
    super(`the server is not ${expected} (it presented ${presented.join(", ") || "no SPIFFE ID"})`);
    this.name = "ServerIdentityError";
  }
}

/** The URI SANs of a peer certificate as Node reports them (`URI:spiffe://…, DNS:…`). */
export function uriSansOf(cert: Pick<PeerCertificate, "subjectaltname">): string[] {
  return (cert.subjectaltname ?? "")
    .split(/,\s*/)
    .filter((entry) => entry.startsWith("URI:"))
    .map((entry) => entry.slice("URI:".length));
}

/** A `checkServerIdentity` that accepts exactly one SPIFFE ID and ignores the host name. */
export function checkSpiffeId(expected: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const presented = uriSansOf(cert);
    return presented.length === 1 && presented[0] === expected
      ? undefined
      : new ServerIdentityError(expected, presented);
  };
}

/**
 * HTTPS connection pools that follow the SVID: every new SVID gets a fresh pool, so new connections
 * present it; the previous pool is destroyed once its requests have had `retireAfterMs` to finish.
 */
export class MtlsPools {
  private pool: Agent;
  private readonly retiring = new Set<Agent>();

  constructor(
    svid: X509SvidUpdate,
    private readonly serverSpiffeId: string,
    private readonly retireAfterMs = 30_000,
  ) {
    this.pool = this.poolFor(svid);
  }

  get current(): Agent {
    return this.pool;
  }

  use(svid: X509SvidUpdate): void {
    const previous = this.pool;
    this.pool = this.poolFor(svid);
    this.retiring.add(previous);
    setTimeout(() => {
      previous.destroy();
      this.retiring.delete(previous);
    }, this.retireAfterMs).unref();
  }

  close(): void {
    this.pool.destroy();
    for (const pool of this.retiring) pool.destroy();
    this.retiring.clear();
  }

  private poolFor(svid: X509SvidUpdate): Agent {
    return new Agent({
      keepAlive: true,
      cert: svid.certChainPem,
      key: svid.keyPem,
      ca: Object.values(svid.bundlesPem),
      checkServerIdentity: checkSpiffeId(this.serverSpiffeId),
    });
  }
}
