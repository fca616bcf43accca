import { X509Certificate } from "node:crypto";
import { WorkloadApiClient } from "../../../lib/src/spiffe/workload-client.js";
import type { X509SvidUpdate } from "../../../lib/src/spiffe/svid-update.js";
import type { X509SvidWatcher } from "../../../lib/src/spiffe/x509-svid-watcher.js";

/**
 * The agent's X.509-SVID and trust bundles from the SPIFFE Workload API (SPIFFE_ENDPOINT_SOCKET),
 * kept current in the background: the SPIRE agent pushes every rotation on one long-lived stream
 * (lib/src/spiffe's WorkloadApiClient and X509SvidWatcher, which reconnect with backoff), and the
 * listeners hear of each new SVID before the old one expires.
 */
export interface SvidSourceOptions {
  /** Workload API address (`unix:///path`); defaults to SPIFFE_ENDPOINT_SOCKET */
  endpoint?: string;
  /** the SVID to use when the workload is given several; default the first (the Workload API's default) */
  spiffeId?: string;
  /** how long `open` waits for the first SVID */
  timeoutMs?: number;
}

export type SvidListener = (svid: X509SvidUpdate) => void;

/** The update as seen through one SPIFFE ID: its SVID on top, null when the update lacks it. */
function pick(update: X509SvidUpdate, spiffeId: string | undefined): X509SvidUpdate | null {
  if (spiffeId === undefined) return update;
  const svid = update.svids.find((candidate) => candidate.spiffeId === spiffeId);
  return svid ? { ...update, ...svid } : null;
}

const sameCredentials = (a: X509SvidUpdate, b: X509SvidUpdate) =>
  a.certChainPem === b.certChainPem && JSON.stringify(a.bundlesPem) === JSON.stringify(b.bundlesPem);

const serialOf = (svid: X509SvidUpdate) => new X509Certificate(svid.certChainPem).serialNumber;

export class SvidSource {
  private readonly listeners = new Set<SvidListener>();
  private closed = false;
  /** serials of the distinct SVIDs this source has used, oldest first (one per rotation) */
  readonly serials: string[] = [];

  private constructor(
    private readonly workload: WorkloadApiClient,
    private readonly watcher: X509SvidWatcher,
    private svid: X509SvidUpdate,
    private readonly spiffeIdWanted: string | undefined,
  ) {
    this.serials.push(serialOf(svid));
    void this.follow();
  }

  static async open(options: SvidSourceOptions = {}): Promise<SvidSource> {
    const workload = new WorkloadApiClient(options.endpoint ? { endpoint: options.endpoint } : {});
    const watcher = workload.watchX509Svids({ retryMaxMs: 1_000 });
    try {
      const first = await watcher.waitForUpdate(
        (update) => pick(update, options.spiffeId) !== null,
        options.timeoutMs ?? 30_000,
      );
      return new SvidSource(workload, watcher, pick(first, options.spiffeId)!, options.spiffeId);
    } catch (error) {
      watcher.close();
      workload.close();
      throw error;
    }
  }

  /** The newest SVID (leaf first, PEM), its key and the bundles by trust domain. */
  get current(): X509SvidUpdate {
    return this.svid;
  }

  get spiffeId(): string {
    return this.svid.spiffeId;
  }

  get trustDomain(): string {
    return new URL(this.svid.spiffeId).host;
  }

  /** Calls `listener` on every new SVID or bundle; returns the function that stops it. */
  onUpdate(listener: SvidListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.watcher.close();
    this.workload.close();
  }

  private async follow(): Promise<void> {
    try {
      for await (const update of this.watcher) {
        if (this.closed) return;
        const mine = pick(update, this.spiffeIdWanted);
        if (!mine || sameCredentials(mine, this.svid)) continue;
        this.svid = mine;
        const serial = serialOf(mine);
        if (this.serials.at(-1) !== serial) this.serials.push(serial);
        for (const listener of this.listeners) listener(mine);
      }
    } catch {
      // The watcher gave up for good (closed, or the agent refused us): calls go on with the last SVID.
    }
  }
}
