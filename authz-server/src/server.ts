import type { Tracer } from "@opentelemetry/api";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { UnaryCall, UnaryCallback } from "../../lib/src/grpc-server/calls.js";
import { createGrpcEdge, type EdgeTransport, type GrpcEdge } from "../../lib/src/grpc-server/edge.js";
import type { Logger } from "../../lib/src/logger.js";
import {
  AuthorizationService,
  type CheckRequest,
  type ICheckResponse,
} from "../../lib/src/envoy/services.js";
import type { ApprovalGate } from "../../lib/src/mcp/approval.js";
import { redactQueryParams } from "../../lib/src/redact-url.js";
import { settleApproval, type GatedOutcome } from "./approvals/settle.js";
import { authorize, type AuthorizerDeps, type DecisionRecord, type Outcome } from "./authorizer.js";
import type { PolicyInput } from "./policy-input.js";
import { tracedCheck } from "./tracing.js";
import { recordCheckError, recordDecision, type CheckTimings } from "./metrics/decisions.js";

type DecideTimings = Omit<CheckTimings, "respondNs">;

/**
 * The gRPC edge: wires Check to the pure authorizer, records the decision, serves health.
 * Nothing here decides anything.
 */
export const AUTHZ_SERVICE_NAME = "envoy.service.auth.v3.Authorization";

export interface AuthzServerOptions extends EdgeTransport {
  deps: AuthorizerDeps;
  logger: Logger;
  /**
   * Called when a delegation names a token key we do not have: resolves true once a key refresh has
   * landed (bounded), and the request is decided once more with the refreshed keys.
   */
  tokenKeysRefreshed?: () => Promise<boolean>;
  /**
   * Settles calls the policy held for human approval (approvals/gate.ts); without it such calls are
   * refused with 503.
   */
  approvals?: ApprovalGate;
  /** After the answer is sent: e.g. the decision audit (audit/decision-audit.ts). */
  onDecision?: (record: DecisionRecord, check: CheckRequest) => void;
  /** Tracing on: a span per Check (tracing.ts); give `deps` through tracedAuthorizerDeps too. */
  tracer?: Tracer | null;
  /** The nanoseconds the last authorize() spent verifying delegations (metrics/delegation-stopwatch.ts). */
  delegationNs?: () => number;
}

export class AuthzServer {
  private readonly server: GrpcEdge;

  constructor(private readonly options: AuthzServerOptions) {
    this.server = createGrpcEdge(AUTHZ_SERVICE_NAME, 4 * 1024 * 1024, options);
    const check = options.tracer ? tracedCheck(options.tracer, this.check) : this.check;
    this.server.addService(AuthorizationService, { check });
  }

  private readonly check = (call: UnaryCall<CheckRequest>, callback: UnaryCallback<ICheckResponse>): void => {
    const { deps, tokenKeysRefreshed } = this.options;
    let outcome: GatedOutcome;
    let started = process.hrtime.bigint();
    try {
      outcome = authorize(call.request, deps);
    } catch (error) {
      this.failed(error, callback);
      return;
    }
    const timings = this.timed(started);
    if (outcome.record.input?.delegation.error !== "unknown_key" || !tokenKeysRefreshed) {
      this.settle(call.request, outcome, callback, timings);
      return;
    }
    void tokenKeysRefreshed().then((refreshed) => {
      let again: GatedOutcome;
      try {
        started = process.hrtime.bigint();
        again = refreshed ? authorize(call.request, deps) : outcome;
      } catch (error) {
        this.failed(error, callback);
        return;
      }
      this.settle(call.request, again, callback, refreshed ? this.timed(started) : timings);
    });
  };

  /** The time authorize() took since `started`, and how much of it went to delegation tokens. */
  private timed(started: bigint): DecideTimings {
    return {
      decideNs: Number(process.hrtime.bigint() - started),
      delegationNs: this.options.delegationNs?.() ?? 0,
    };
  }

  /** Answers at once, unless the call waits for the approval gate's verdict (a database read). */
  private settle(
    request: CheckRequest,
    outcome: GatedOutcome,
    callback: UnaryCallback<ICheckResponse>,
    timings: DecideTimings,
  ): void {
    if (!outcome.approval) {
      try {
        this.answer(request, outcome, callback, timings);
      } catch (error) {
        this.failed(error, callback);
      }
      return;
    }
    settleApproval(outcome, this.options.approvals).then(
      (settled) => {
        try {
          this.answer(request, settled, callback, timings);
        } catch (error) {
          this.failed(error, callback);
        }
      },
      (error: unknown) => this.failed(error, callback),
    );
  }

  private answer(
    request: CheckRequest,
    { response, record }: Outcome,
    callback: UnaryCallback<ICheckResponse>,
    timings: DecideTimings,
  ): void {
    const { logger, onDecision } = this.options;
    const answering = process.hrtime.bigint();
    callback(null, response);
    const respondNs = Number(process.hrtime.bigint() - answering);
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
      recordDecision(record, { ...timings, respondNs });
    } catch (error) {
      logger.error({ err: error, decision_id: record.decision_id }, "decision answered, but not recorded");
    }
  }

  private failed(error: unknown, callback: UnaryCallback<ICheckResponse>): void {
    // A bug, not a decision: Envoy is fail-closed, so an error here refuses the request.
    this.options.logger.error({ err: error }, "check failed");
    recordCheckError();
    callback({ code: GrpcStatus.INTERNAL, details: "authorization failed" });
  }

  /** Health stays NOT_SERVING until setServing(true): the caller knows when a policy decides. */
  listen(address: string): Promise<number> {
    return this.server.listen(address);
  }

  setServing(serving: boolean): void {
    this.server.setServing(serving);
  }

  /** Stops taking new calls, lets in-flight ones finish (up to `graceMs`), then closes. */
  shutdown(graceMs = 5_000): Promise<void> {
    return this.server.shutdown(graceMs);
  }
}

/** The policy input as a debug line may show it: query values that carry secrets redacted. */
function redactedInput(input: PolicyInput | null): PolicyInput | null {
  if (!input) return null;
  return { ...input, request: { ...input.request, query: redactQueryParams(input.request.query) } };
}
