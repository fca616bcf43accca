import { status as GrpcStatus, type ClientReadableStream, type StatusObject } from "@grpc/grpc-js";
import { x509SvidUpdateFromResponse, type X509SvidUpdate } from "./svid-update.js";
import { WorkloadApiError, workloadApiErrorFrom } from "./workload-api-error.js";
import { x509SvidResponseSchema } from "./workload-proto.js";

export interface X509SvidWatchOptions {
  /** first reconnect delay after the stream fails; doubles up to `retryMaxMs`, reset by every update */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** told about every failure the watcher recovers from by reconnecting (agent down, no identity yet) */
  onError?: (error: WorkloadApiError) => void;
}

const DEFAULT_RETRY_INITIAL_MS = 200;
const DEFAULT_RETRY_MAX_MS = 5_000;

/**
 * The FetchX509SVID stream, kept open: the agent pushes a new message on every rotation, entry change
 * or bundle change, and the watcher reconnects (with backoff) when the stream fails, as go-spiffe's
 * client does. Iterate it to receive updates; a slow consumer gets the latest update, never a stale
 * backlog. Several consumers may iterate the same watcher.
 */
export class X509SvidWatcher implements AsyncIterable<X509SvidUpdate> {
  /** the most recent update, once one has arrived */
  latest: X509SvidUpdate | undefined;
  /** the most recent failure, cleared by the next update */
  lastError: WorkloadApiError | undefined;

  private version = 0;
  private call: ClientReadableStream<object> | undefined;
  private closed = false;
  private fatal: WorkloadApiError | undefined;
  private retryMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private waiters = new Set<() => void>();
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;

  constructor(
    private readonly openStream: () => ClientReadableStream<object>,
    private readonly options: X509SvidWatchOptions = {},
  ) {
    this.retryInitialMs = options.retryInitialMs ?? DEFAULT_RETRY_INITIAL_MS;
    this.retryMaxMs = options.retryMaxMs ?? DEFAULT_RETRY_MAX_MS;
    this.retryMs = this.retryInitialMs;
    this.connect();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<X509SvidUpdate> {
    let seen = 0;
    for (;;) {
      if (this.fatal) throw this.fatal;
      if (this.version > seen && this.latest) {
        seen = this.version;
        yield this.latest;
        continue;
      }
      if (this.closed) return;
      await this.changed();
    }
  }

  /**
   * Resolves with the first update (the current one included) that satisfies `accept`; rejects after
   * `timeoutMs` with the last failure seen, so a caller learns "no identity issued" rather than only
   * "timed out".
   */
  async waitForUpdate(
    accept: (update: X509SvidUpdate) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<X509SvidUpdate> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.fatal) throw this.fatal;
      if (this.latest && accept(this.latest)) return this.latest;
      if (this.closed) throw new WorkloadApiError("unavailable", "X.509-SVID watcher closed");
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const last = this.lastError;
        throw new WorkloadApiError(
          last?.failure ?? "unavailable",
          `no matching X.509-SVID within ${timeoutMs} ms${last ? ` (last error: ${last.message})` : ""}`,
          last?.grpcCode,
        );
      }
      await this.changed(remaining);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.notify();
  }

  private connect(): void {
    if (this.closed) return;
    const call = this.openStream();
    this.call = call;
    call.on("data", (message: unknown) => {
      if (this.call !== call) return;
      let update: X509SvidUpdate;
      try {
        update = x509SvidUpdateFromResponse(x509SvidResponseSchema.parse(message));
      } catch (error) {
        this.call = undefined;
        call.cancel();
        this.recover(
          new WorkloadApiError("unavailable", `FetchX509SVID: invalid response: ${String(error)}`),
        );
        return;
      }
      this.retryMs = this.retryInitialMs;
      this.latest = update;
      this.lastError = undefined;
      this.version++;
      this.notify();
    });
    // Every outcome, including a clean end of stream, arrives as a status; the error event repeats it.
    call.on("error", () => undefined);
    call.on("status", (status: StatusObject) => {
      if (this.call !== call) return;
      this.call = undefined;
      const error =
        status.code === GrpcStatus.OK
          ? new WorkloadApiError("unavailable", "FetchX509SVID: the agent ended the stream")
          : workloadApiErrorFrom(Object.assign(new Error(status.details), status), "FetchX509SVID");
      if (status.code === GrpcStatus.INVALID_ARGUMENT) {
        // The agent rejects a malformed request (e.g. missing security header): retrying cannot help.
        this.fatal = error;
        this.close();
        return;
      }
      this.recover(error);
    });
  }

  private recover(error: WorkloadApiError): void {
    this.lastError = error;
    this.options.onError?.(error);
    this.notify();
    if (this.closed) return;
    this.retryTimer = setTimeout(() => this.connect(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, this.retryMaxMs);
  }

  private changed(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs);
      const waiters = this.waiters;
      function done(): void {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
