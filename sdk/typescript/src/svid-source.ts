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
  /** how long `open` waits for the first SVID */
  timeoutMs?: number;
}

export type SvidListener = (svid: X509SvidUpdate) => void;

export class SvidSource {
  private readonly listeners = new Set<SvidListener>();
  private closed = false;
  /** how many SVIDs this source has received (1 = the first, each rotation adds one) */
  updates = 0;

  private constructor(
    private readonly workload: WorkloadApiClient,
    private readonly watcher: X509SvidWatcher,
    private svid: X509SvidUpdate,
  ) {
    this.updates = 1;
    void this.follow();
  }

  static async open(options: SvidSourceOptions = {}): Promise<SvidSource> {
    const workload = new WorkloadApiClient(options.endpoint ? { endpoint: options.endpoint } : {});
    const watcher = workload.watchX509Svids({ retryMaxMs: 1_000 });
    try {
      const first = await watcher.waitForUpdate(() => true, options.timeoutMs ?? 30_000);
      return new SvidSource(workload, watcher, first);
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

  /** Calls `listener` on every new SVID; returns the function that stops it. */
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
        if (update === this.svid) continue;
        this.svid = update;
        this.updates += 1;
        for (const listener of this.listeners) listener(update);
      }
    } catch {
      // The watcher gave up for good (closed, or the agent refused us): calls go on with the last SVID.
    }
  }
}
