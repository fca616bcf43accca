import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ServerInterceptor,
  type ServerUnaryCall,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "../../lib/src/logger.js";
import {
  AuthorizationService,
  type CheckRequest,
  type ICheckResponse,
} from "../../lib/src/envoy/services.js";
import { redactQueryParams } from "../../lib/src/redact-url.js";
import { authorize, type AuthorizerDeps, type DecisionRecord } from "./authorizer.js";
import type { PolicyInput } from "./policy-input.js";

/**
 * The gRPC edge: wires Check to the pure authorizer, records the decision, serves health.
 * Nothing here decides anything.
 */
export const AUTHZ_SERVICE_NAME = "envoy.service.auth.v3.Authorization";

export interface AuthzServerOptions {
  deps: AuthorizerDeps;
  logger: Logger;
  /**
   * Called when a delegation names a token key we do not have: resolves true once a key refresh has
   * landed (bounded), and the request is decided once more with the refreshed keys.
   */
  tokenKeysRefreshed?: () => Promise<boolean>;
  /** After the answer is sent: e.g. the decision audit (audit/decision-audit.ts). */
  onDecision?: (record: DecisionRecord, check: CheckRequest) => void;
  credentials?: ServerCredentials;
  /** e.g. allowOnlySpiffeIds: only Envoy may call (mTLS with SPIRE). */
  interceptors?: ServerInterceptor[];
}

export class AuthzServer {
  private readonly server: Server;
  private readonly health = new HealthImplementation({
    "": "NOT_SERVING",
    [AUTHZ_SERVICE_NAME]: "NOT_SERVING",
  });
  private port = 0;

  constructor(private readonly options: AuthzServerOptions) {
    this.server = new Server({
      "grpc.max_receive_message_length": 4 * 1024 * 1024,
      "grpc.keepalive_permit_without_calls": 1,
      interceptors: options.interceptors ?? [],
    });
    this.server.addService(AuthorizationService, { check: this.check });
    this.health.addToServer(this.server);
  }

  private readonly check = (
    call: ServerUnaryCall<CheckRequest, ICheckResponse>,
    callback: sendUnaryData<ICheckResponse>,
  ): void => {
    const { deps, tokenKeysRefreshed } = this.options;
    let outcome: ReturnType<typeof authorize>;
    try {
      outcome = authorize(call.request, deps);
    } catch (error) {
      this.failed(error, callback);
      return;
    }
    if (outcome.record.input?.delegation.error !== "unknown_key" || !tokenKeysRefreshed) {
      this.answer(call.request, outcome, callback);
      return;
    }
    void tokenKeysRefreshed().then((refreshed) => {
      try {
        this.answer(call.request, refreshed ? authorize(call.request, deps) : outcome, callback);
      } catch (error) {
        this.failed(error, callback);
      }
    });
  };

  private answer(
    request: CheckRequest,
    { response, record }: ReturnType<typeof authorize>,
    callback: sendUnaryData<ICheckResponse>,
  ): void {
    const { logger, onDecision } = this.options;
    callback(null, response);
    try {
      logger.info(
        {
          decision_id: record.decision_id,
          policy_revision: record.policy_revision,
          allow: record.allow,
          status: record.status,
          reason: record.reason,
          dry_run: record.dry_run,
          agent: record.agent_spiffe_id,
          service: record.service,
          eval_us: Math.round(record.eval_ns / 1000),
        },
        "decision",
      );
      if (logger.isLevelEnabled("debug"))
        logger.debug(
          { decision_id: record.decision_id, input: redactedInput(record.input) },
          "decision input",
        );
      onDecision?.(record, request);
    } catch (error) {
      logger.error({ err: error, decision_id: record.decision_id }, "decision answered, but not recorded");
    }
  }

  private failed(error: unknown, callback: sendUnaryData<ICheckResponse>): void {
    // A bug, not a decision: Envoy is fail-closed, so an error here refuses the request.
    this.options.logger.error({ err: error }, "check failed");
    callback({ code: GrpcStatus.INTERNAL, details: "authorization failed" });
  }

  async listen(
    address: string,
    credentials: ServerCredentials = this.options.credentials ?? ServerCredentials.createInsecure(),
  ): Promise<number> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port))),
    );
    return this.port;
  }

  setServing(serving: boolean): void {
    const status = serving ? "SERVING" : "NOT_SERVING";
    this.health.setStatus("", status);
    this.health.setStatus(AUTHZ_SERVICE_NAME, status);
  }

  /** Stops taking new calls, lets in-flight ones finish (up to `graceMs`), then closes. */
  async shutdown(graceMs = 5_000): Promise<void> {
    this.setServing(false);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** The policy input as a debug line may show it: query values that carry secrets redacted. */
function redactedInput(input: PolicyInput | null): PolicyInput | null {
  if (!input) return null;
  return { ...input, request: { ...input.request, query: redactQueryParams(input.request.query) } };
}
