import { context, SpanKind, trace, type Tracer } from "@opentelemetry/api";
import type { CheckRequest, ICheckResponse } from "../../lib/src/envoy/services.js";
import type { UnaryCall, UnaryCallback } from "../../lib/src/grpc-server/calls.js";
import { DECISION_ID_HEADER } from "../../lib/src/handoff/contract.js";
import { parentFromMetadata } from "../../lib/src/tracing/grpc-context.js";
import { failed, inStage } from "../../lib/src/tracing/stage.js";
import type { AuthorizerDeps, Policy } from "./authorizer.js";

/**
 * Tracing of the authorization path, applied only when tracing is on (the server and deps are used
 * unwrapped otherwise). One SERVER span per Check, a child of the span Envoy sent in the gRPC
 * metadata, and one child span per stage: identity, agent facts, delegation verification, policy
 * evaluation and the response. Attributes are ids, codes and statuses; never a header or a token.
 */
export type CheckHandler = (call: UnaryCall<CheckRequest>, callback: UnaryCallback<ICheckResponse>) => void;

export function tracedCheck(tracer: Tracer, handler: CheckHandler): CheckHandler {
  return (call, callback) => {
    const parent = parentFromMetadata(call.metadata);
    const span = tracer.startSpan("authz.check", { kind: SpanKind.SERVER }, parent);
    const route = call.request.attributes?.contextExtensions;
    if (route?.service) span.setAttribute("warden.destination.service", route.service);
    const traced = trace.setSpan(parent, span);
    const answered: UnaryCallback<ICheckResponse> = (error, response) => {
      context.with(traced, () => inStage(tracer, "authz.response", () => callback(error, response)));
      if (error) failed(span, error);
      else if (response) describeDecision(span, response);
      span.end();
    };
    context.with(traced, () => handler(call, answered));
  };
}

function describeDecision(span: ReturnType<Tracer["startSpan"]>, response: ICheckResponse): void {
  const allowed = response.status?.code === 0;
  span.setAttribute("warden.allow", allowed);
  const headers = allowed ? response.okResponse?.responseHeadersToAdd : response.deniedResponse?.headers;
  const decisionId = headers?.find((option) => option.header?.key === DECISION_ID_HEADER)?.header?.value;
  if (decisionId) span.setAttribute("warden.decision_id", decisionId);
  if (!allowed) {
    const status = response.deniedResponse?.status?.code;
    if (typeof status === "number") span.setAttribute("http.response.status_code", status);
    if (response.status?.message) span.setAttribute("warden.reason", response.status.message);
  }
}

/** The authorizer's dependencies, each call a stage span under the active Check span. */
export function tracedAuthorizerDeps(deps: AuthorizerDeps, tracer: Tracer): AuthorizerDeps {
  const tracedPolicies = new WeakMap<Policy, Policy>();
  const tracedPolicy = (policy: Policy): Policy => {
    let wrapped = tracedPolicies.get(policy);
    if (!wrapped) {
      wrapped = {
        revision: policy.revision,
        evaluate: (input) =>
          inStage(tracer, "authz.policy", () => policy.evaluate(input), {
            "warden.policy_revision": policy.revision,
          }),
      };
      tracedPolicies.set(policy, wrapped);
    }
    return wrapped;
  };
  const { identify } = deps;
  return {
    ...deps,
    policy: () => {
      const policy = deps.policy();
      return policy && tracedPolicy(policy);
    },
    directory: {
      lookup: (spiffeId) => inStage(tracer, "authz.agent_facts", () => deps.directory.lookup(spiffeId)),
    },
    delegations: {
      verify: (...args) => inStage(tracer, "authz.delegation", () => deps.delegations.verify(...args)),
    },
    ...(identify
      ? { identify: (...args) => inStage(tracer, "authz.identity", () => identify(...args)) }
      : {}),
  };
}
