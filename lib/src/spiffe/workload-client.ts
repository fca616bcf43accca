import {
  Client,
  Metadata,
  credentials,
  status as GrpcStatus,
  type ClientReadableStream,
} from "@grpc/grpc-js";
import { decodeJwt } from "jose";
import { fromStruct, type JsonValue } from "../envoy/struct.js";
import { hideWhenPrinted } from "./hide-when-printed.js";
import type { X509SvidUpdate } from "./svid-update.js";
import { WorkloadApiError, workloadApiErrorFrom, type WorkloadApiFailure } from "./workload-api-error.js";
import { WorkloadEndpointError, workloadApiTarget } from "./workload-endpoint.js";
import {
  jwtSvidResponseSchema,
  validateJwtSvidResponseSchema,
  workloadApiMethod,
  type WorkloadApiMethodName,
} from "./workload-proto.js";
import { X509SvidWatcher, type X509SvidWatchOptions } from "./x509-svid-watcher.js";

/** The SPIFFE Workload API requires this metadata on every call (it keeps browsers/SSRF out). */
const SECURITY_HEADER = "workload.spiffe.io";
const DEFAULT_CALL_TIMEOUT_MS = 5_000;

export interface WorkloadApiClientOptions {
  /** `unix:///path`, `tcp://ip:port` or an absolute socket path; defaults to SPIFFE_ENDPOINT_SOCKET */
  endpoint?: string;
  /** deadline of unary calls (JWT fetch and validation) */
  callTimeoutMs?: number;
}

export interface JwtSvid {
  spiffeId: string;
  token: string;
  audience: string[];
  expiresAt: Date;
  hint: string;
}

export interface ValidatedJwtSvid {
  spiffeId: string;
  claims: { [claim: string]: JsonValue };
}

/**
 * Client of the SPIFFE Workload API served by the local SPIRE agent: X.509-SVIDs and bundles as a
 * stream, JWT-SVIDs on request, and JWT-SVID validation by the agent.
 */
export class WorkloadApiClient {
  private readonly client: Client;
  private readonly callTimeoutMs: number;

  constructor(options: WorkloadApiClientOptions = {}) {
    const endpoint = options.endpoint ?? process.env.SPIFFE_ENDPOINT_SOCKET;
    if (!endpoint)
      throw new WorkloadEndpointError("", "no endpoint given and SPIFFE_ENDPOINT_SOCKET is not set");
    this.client = new Client(workloadApiTarget(endpoint), credentials.createInsecure());
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  }

  /** A long-lived stream of X.509-SVID updates; close it when done. */
  watchX509Svids(options: X509SvidWatchOptions = {}): X509SvidWatcher {
    return new X509SvidWatcher(() => this.openX509Stream(), options);
  }

  /** The current X.509-SVIDs, waiting up to `timeoutMs` for the agent to issue them. */
  async fetchX509Svid(timeoutMs = 10_000): Promise<X509SvidUpdate> {
    const watcher = this.watchX509Svids();
    try {
      return await watcher.waitForUpdate(() => true, timeoutMs);
    } finally {
      watcher.close();
    }
  }

  /** A JWT-SVID for `audience`: the one of `spiffeId` when given, else the workload's default. */
  async fetchJwtSvid(
    audience: string | readonly string[],
    options: { spiffeId?: string } = {},
  ): Promise<JwtSvid> {
    const audiences = typeof audience === "string" ? [audience] : [...audience];
    const response = jwtSvidResponseSchema.parse(
      await this.unary("FetchJWTSVID", { audience: audiences, spiffeId: options.spiffeId ?? "" }),
    );
    const svid = response.svids[0];
    if (!svid) throw new WorkloadApiError("no_identity", "FetchJWTSVID: no JWT-SVID issued");
    const exp = decodeJwt(svid.svid).exp;
    if (exp === undefined)
      throw new WorkloadApiError("unavailable", "FetchJWTSVID: JWT-SVID without exp claim");
    const jwt: JwtSvid = {
      spiffeId: svid.spiffeId,
      token: svid.svid,
      audience: audiences,
      expiresAt: new Date(exp * 1000),
      hint: svid.hint,
    };
    return hideWhenPrinted(jwt, "token");
  }

  /**
   * Has the agent check a JWT-SVID (signature against the trust bundle, expiry, audience). Rejects
   * with failure `invalid_token` (an `unauthenticated` WardenError) when the token does not hold.
   */
  async validateJwtSvid(token: string, audience: string): Promise<ValidatedJwtSvid> {
    // The agent answers InvalidArgument for a token that fails validation.
    const message = await this.unary("ValidateJWTSVID", { audience, svid: token }, "invalid_token");
    const response = validateJwtSvidResponseSchema.parse(message);
    return { spiffeId: response.spiffeId, claims: fromStruct(response.claims) };
  }

  close(): void {
    this.client.close();
  }

  private metadata(): Metadata {
    const metadata = new Metadata();
    metadata.set(SECURITY_HEADER, "true");
    return metadata;
  }

  private openX509Stream(): ClientReadableStream<object> {
    const method = workloadApiMethod("FetchX509SVID");
    return this.client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      {},
      this.metadata(),
    );
  }

  private unary(
    name: WorkloadApiMethodName,
    request: object,
    onInvalidArgument: WorkloadApiFailure = "unavailable",
  ): Promise<unknown> {
    const method = workloadApiMethod(name);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        this.metadata(),
        { deadline: Date.now() + this.callTimeoutMs },
        (error, response) => {
          if (!error) resolve(response);
          else if (error.code === GrpcStatus.INVALID_ARGUMENT) {
            reject(new WorkloadApiError(onInvalidArgument, `${name}: ${error.details}`, error.code));
          } else reject(workloadApiErrorFrom(error, name));
        },
      );
    });
  }
}
