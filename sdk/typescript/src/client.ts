import { DELEGATION_HEADER, sidecarSpiffeIdFrom, sidecarUrlFrom } from "./config.js";
import { errorFromHttp, retryAfterSeconds } from "./denial.js";
import type { WardenError } from "./errors.js";
import { httpsFetch, type FetchLike } from "./https-fetch.js";
import { DEFAULT_RETRY_POLICY, RETRIED_STATUSES, retryDelayMs, type RetryPolicy } from "./retry.js";
import { SvidSource } from "./svid-source.js";
import { MtlsPools, ServerIdentityError } from "./tls.js";

export interface WardenOptions {
  /** the sidecar's base URL; default WARDEN_SIDECAR_URL, else https://127.0.0.1:10000 */
  sidecarUrl?: string;
  /** the SPIFFE ID the sidecar must present; default spiffe://<trust domain>/warden/envoy */
  sidecarSpiffeId?: string;
  /** Workload API address; default SPIFFE_ENDPOINT_SOCKET */
  workloadEndpoint?: string;
  /** which of the workload's SVIDs to call with, when the Workload API gives it several */
  spiffeId?: string;
  /** an SVID source to share (several clients, one Workload API stream); closed by its owner */
  svids?: SvidSource;
  retry?: Partial<RetryPolicy>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * An agent's connection to its Warden sidecar: the SVID from the Workload API (rotated in the
 * background), mTLS with the sidecar's SPIFFE ID checked, a `fetch` for any client, retries on
 * 429/503 honouring Retry-After, typed errors, and calls on a user's behalf (`onBehalfOf`).
 */
export class Warden {
  /** fetch-compatible; relative URLs are resolved against the sidecar URL; never throws on a status */
  readonly fetch: FetchLike;

  private constructor(
    readonly sidecarUrl: string,
    readonly sidecarSpiffeId: string,
    readonly svids: SvidSource,
    private readonly pools: MtlsPools,
    private readonly retry: RetryPolicy,
    private readonly delegation: string | null,
    private readonly release: () => void,
  ) {
    const raw = httpsFetch(() => this.pools.current);
    this.fetch = (input, init) => this.send(raw, input, init);
  }

  static async connect(options: WardenOptions = {}): Promise<Warden> {
    const sidecarUrl = sidecarUrlFrom(options.sidecarUrl);
    const owned = options.svids === undefined;
    const svids =
      options.svids ??
      (await SvidSource.open({
        ...(options.workloadEndpoint ? { endpoint: options.workloadEndpoint } : {}),
        ...(options.spiffeId ? { spiffeId: options.spiffeId } : {}),
      }));
    const sidecarSpiffeId = sidecarSpiffeIdFrom(options.sidecarSpiffeId, svids.trustDomain);
    const pools = new MtlsPools(svids.current, sidecarSpiffeId);
    const stop = svids.onUpdate((svid) => pools.use(svid));
    const release = () => {
      stop();
      pools.close();
      if (owned) svids.close();
    };
    return new Warden(
      sidecarUrl,
      sidecarSpiffeId,
      svids,
      pools,
      { ...DEFAULT_RETRY_POLICY, ...options.retry },
      null,
      release,
    );
  }

  /** The same connection, every call carrying the user's delegation token (x-warden-delegation). */
  onBehalfOf(delegationToken: string): Warden {
    if (!delegationToken.trim()) throw new Error("an empty delegation token");
    return new Warden(
      this.sidecarUrl,
      this.sidecarSpiffeId,
      this.svids,
      this.pools,
      this.retry,
      delegationToken,
      () => undefined,
    );
  }

  /** The SPIFFE ID this agent calls as. */
  get spiffeId(): string {
    return this.svids.spiffeId;
  }

  /** Like `fetch`, but an error status raises the typed WardenError of the denial. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const response = await this.fetch(path, init);
    if (response.status >= 400) throw await errorOf(response);
    return response;
  }

  /** `request` with a JSON body (when given) and a JSON answer. */
  async json<T = unknown>(
    path: string,
    { body, ...init }: Omit<RequestInit, "body"> & { body?: unknown } = {},
  ): Promise<T> {
    const headers = new Headers(init.headers);
    if (!headers.has("accept")) headers.set("accept", "application/json");
    if (body !== undefined) headers.set("content-type", "application/json");
    const response = await this.request(path, {
      ...init,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await response.json()) as T;
  }

  close(): void {
    this.release();
  }

  private async send(raw: FetchLike, input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const url = typeof input === "string" && !/^[a-z]+:/i.test(input) ? `${this.sidecarUrl}${input}` : input;
    let request = new Request(url, init?.body instanceof ReadableStream ? { ...init, duplex: "half" } : init);
    if (this.delegation) {
      const headers = new Headers(request.headers);
      headers.set(DELEGATION_HEADER, this.delegation);
      request = new Request(request, { headers });
    }
    // Read the body once so every attempt can send it.
    const body = request.body ? await request.arrayBuffer() : undefined;
    for (let retry = 1; ; retry += 1) {
      const attempt = new Request(request, body === undefined ? {} : { body });
      let response: Response;
      try {
        response = await raw(attempt);
      } catch (error) {
        const delay = refusedConnection(error) ? retryDelayMs(this.retry, retry, null) : null;
        if (delay === null) throw error;
        await sleep(delay);
        continue;
      }
      if (!RETRIED_STATUSES.has(response.status)) return response;
      const delay = retryDelayMs(this.retry, retry, retryAfterSeconds(response.headers.get("retry-after")));
      if (delay === null) return response;
      await response.body?.cancel();
      await sleep(delay);
    }
  }
}

/** The typed error of an error response (reads its body). */
export async function errorOf(response: Response): Promise<WardenError> {
  return errorFromHttp(response.status, response.headers, await response.text());
}

/** A connection that never reached the server (safe to try again); never a failed identity check. */
function refusedConnection(error: unknown): boolean {
  const cause = error instanceof TypeError ? (error as { cause?: unknown }).cause : undefined;
  if (cause instanceof ServerIdentityError) return false;
  return typeof cause === "object" && cause !== null && (cause as { code?: unknown }).code === "ECONNREFUSED";
}
