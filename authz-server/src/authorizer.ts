import type { CheckRequest, ICheckResponse } from "../../lib/src/envoy/services.js";
import {
  DELEGATION_HEADER,
  decisionMessage,
  deniedResponse,
  okResponse,
  type Decision,
} from "./check-response.js";
import type { HandOffFacts } from "../../lib/src/handoff/contract.js";
import { errorDialectOf, type ErrorDialect } from "../../lib/src/llm/error-shapes.js";
import { readMcpRequest, requestIdOf, type McpRequest } from "../../lib/src/mcp/request.js";
import { argumentsDigest } from "../../lib/src/mcp/digest.js";
import { pendingApproval, type PendingApproval } from "./approvals/pending.js";
import { destinationOf, llmFactsOf, mcpFactsOf, mcpMessageFacts } from "./destination.js";
import {
  mcpBatchRefusalResponse,
  mcpRefusalResponse,
  refusalDetails,
  type McpRefusal,
} from "./mcp-refusal.js";
import { NO_KYA, sourceIdentity, type AgentDirectory } from "./identity/source.js";
import type { PeerAttributes, PeerIdentity } from "./identity/peer-certificate.js";
import { inboundHeadersOf, withChallenge, type InboundHeaders } from "./identity/inbound-identity.js";
import { engineDenial } from "./policy/decision.js";
import {
  buildPolicyInput,
  NO_DELEGATION,
  requestTenant,
  type DelegationFacts,
  type PolicyInput,
} from "./policy-input.js";
import { FAIL_CLOSED_METADATA_KEY } from "../../lib/src/ratelimit/definitions.js";
import type { LimitSubjects } from "../../lib/src/ratelimit/applicable.js";
import { NO_RATE_LIMITS, type RateLimitBook } from "./ratelimits/rate-limit-feed.js";
import type { BodyLimits } from "./body-limits.js";
import { BadRequestError, parseJsonBody, requestFacts } from "./request-facts.js";

/**
 * One CheckRequest → one decision, read top to bottom: facts → identity → policy input → policy →
 * Envoy response. Pure apart from the injected clock and id source, so it is tested without servers.
 */
export interface Policy {
  revision: string;
  evaluate(input: unknown): Decision;
}

/** Verifies a delegation token against the calling identity; crypto lives behind this seam. */
export interface DelegationVerifier {
  /**
   * `peerCertificate`, for certificate-bound access tokens: the URL-encoded PEM Envoy forwards, or the
   * caller's certificate thumbprint (x5t#S256) a trusted Warden sidecar vouched for (null: none).
   */
  verify(
    token: string,
    callerSpiffeId: string | null,
    nowNs: number,
    peerCertificate?: string | { thumbprint: string | null },
  ): DelegationFacts;
}

export const REFUSE_ALL_DELEGATIONS: DelegationVerifier = {
  verify: () => ({
    ...NO_DELEGATION,
    present: true,
    // A stable code (policies: delegation_not_accepted), like the verifier's (lib/src/tokens/verify.ts).
    error: "not_accepted",
  }),
};

export interface AuthorizerDeps {
  policy: () => Policy | undefined;
  directory: AgentDirectory;
  delegations: DelegationVerifier;
  nowNs: () => number;
  newDecisionId: () => string;
  /** JSON body limits (defaults: DEFAULT_BODY_LIMITS). */
  bodyLimits?: BodyLimits;
  /** The stored rate limits (input.rate_limits, and the fail-closed mark); default: none. */
  rateLimits?: RateLimitBook;
  /** Dry-run: evaluate and record, but allow (rolling out a new policy safely). */
  dryRun?: boolean;
  /**
   * With mTLS (SPIRE): verifies the peer certificate; a refusal (401, or 503 without a trust bundle)
   * is final, before and whatever the policy says. Without it (plaintext on loopback, dev and tests)
   * the principal alone names the caller.
   */
  identify?: (
    peer: PeerAttributes,
    nowNs: number,
    headers: InboundHeaders,
    route?: Readonly<Record<string, string>>,
  ) => PeerIdentity;
}

export interface DecisionRecord {
  decision_id: string;
  policy_revision: string | null;
  allow: boolean;
  status: number;
  reason: string;
  dry_run: boolean;
  agent_spiffe_id: string | null;
  service: string;
  eval_ns: number;
  input: PolicyInput | null;
}

export interface Outcome {
  response: ICheckResponse;
  record: DecisionRecord;
  /**
   * Set when the policy held an MCP call for human approval: the gRPC edge asks the ApprovalGate and
   * answers with the Outcome it chooses. `response` alone refuses the call (no gate: fail closed).
   */
  approval?: PendingApproval;
}

function denial(
  decisionId: string,
  status: number,
  reason: string,
  message: string,
  revision: string | null,
  input: PolicyInput | null,
  dialect: ErrorDialect,
): Outcome {
  return {
    response: deniedResponse(status, reason, message, decisionId, dialect),
    record: refusedRecord(decisionId, revision, input, status, reason),
  };
}

export function authorize(check: CheckRequest, deps: AuthorizerDeps): Outcome {
  const decisionId = deps.newDecisionId();
  const policy = deps.policy();
  const revision = policy?.revision ?? null;
  // The route (set by Envoy, never by the agent) decides the shape of a denial's body.
  const route = check.attributes?.contextExtensions;
  const dialect = errorDialectOf(route?.service, route?.kind);

  let input: PolicyInput;
  let rawDelegation: string | undefined;
  let credentialQuery: string[];
  let mcpRequest: McpRequest | null = null;
  let upstream: "server" | "warden" = "server";
  let routeName = "";
  try {
    const facts = requestFacts(check);
    credentialQuery = facts.credentialQuery;
    const body = parseJsonBody(facts, deps.bodyLimits);
    const nowNs = deps.nowNs();
    // Identity (an MCP inbound sidecar also reads Authorization and XFCC: identity/inbound-identity.ts).
    const identity: PeerIdentity = deps.identify
      ? deps.identify(facts.peer, nowNs, inboundHeadersOf(check), route ?? undefined)
      : { ok: true, source: sourceIdentity(facts.peer.principal) };
    if (!identity.ok) {
      const refused = denial(
        decisionId,
        identity.status,
        identity.reason,
        identity.message,
        revision,
        null,
        dialect,
      );
      // On MCP routes the JSON-RPC error echoes the request's id, as every other MCP refusal does.
      if (dialect === "jsonrpc") {
        const refusal = { status: identity.status, reason: identity.reason, message: identity.message };
        refused.response = mcpRefusalResponse({ ...refusal, details: {} }, requestIdOf(body), decisionId);
      }
      return withChallenge(refused, identity.challenge);
    }
    const source = identity.source;
    const known = source.spiffe_id ? deps.directory.lookup(source.spiffe_id) : undefined;
    rawDelegation = facts.headers[DELEGATION_HEADER];
    // Vouched for by a Warden sidecar: the certificate to bind to is the agent's, not the sidecar's.
    const bound = source.via === "sidecar" ? { thumbprint: identity.certificateThumbprint ?? null } : null;
    const delegation = rawDelegation
      ? deps.delegations.verify(rawDelegation, source.spiffe_id, nowNs, bound ?? facts.peer.certificate)
      : NO_DELEGATION;
    if (rawDelegation) facts.headers[DELEGATION_HEADER] = "[REDACTED]";
    const destination = destinationOf(facts);
    const parts = {
      nowNs,
      facts,
      body,
      source,
      agent: known?.agent ?? null,
      kya: known?.kya ?? NO_KYA,
      delegation,
      destination,
      llm: llmFactsOf(facts, destination, body),
      mcp: null,
    };
    if (destination.kind === "mcp") {
      const read = readMcpRequest(facts.method, facts.headers, body);
      if (!read.ok) {
        // Refused before the policy runs (an attack on header-routing components, or not JSON-RPC),
        // and recorded with who sent it like any refusal.
        const refusal: McpRefusal = {
          status: 400,
          reason: read.error.reason,
          message: read.error.message,
          details: {},
          jsonRpcCode: read.error.jsonRpcCode,
        };
        const refusedInput = buildPolicyInput(parts);
        return {
          response: mcpRefusalResponse(refusal, read.error.id, decisionId),
          record: refusedRecord(decisionId, revision, refusedInput, 400, read.error.reason),
        };
      }
      mcpRequest = read.request;
    }
    upstream = facts.route.mcpUpstream;
    routeName = facts.route.name;
    input = buildPolicyInput({
      ...parts,
      mcp: mcpRequest ? mcpFactsOf(mcpRequest, upstream) : null,
    });
    input.rate_limits = (deps.rateLimits ?? NO_RATE_LIMITS).applying(
      limitSubjects(input, routeName, input.agent?.team ?? null, input.mcp?.name ?? null),
    );
  } catch (error) {
    if (error instanceof BadRequestError)
      return denial(decisionId, error.status, error.code, error.message, revision, null, dialect);
    throw error;
  }

  if (!policy) {
    return denial(
      decisionId,
      503,
      "policy_not_loaded",
      "no policy is loaded; refusing all requests",
      revision,
      input,
      dialect,
    );
  }

  const forwardDelegation = upstream === "warden";
  const context: DecideContext = {
    deps,
    policy,
    revision,
    decisionId,
    credentialQuery,
    dialect,
    forwardDelegation,
    routeName,
  };
  if (mcpRequest?.kind === "batch") return decideBatch(context, input, mcpRequest, upstream);
  const { decision, evalNs } = evaluate(policy, input, revision);
  const record = decisionRecord(context, input, decision, evalNs);
  if (decision.allow || deps.dryRun === true) return allowed(context, input, decision, record);

  const id = mcpRequest?.message?.kind === "request" ? mcpRequest.message.id : null;
  if (mcpRequest && decision.reason === "approval_required" && id !== null && mcpRequest.message) {
    const message = mcpRequest.message;
    const approvalInput = input;
    return {
      response: mcpRefusalResponse(mcpRefusalOf(decision), id, decisionId),
      record,
      approval: pendingApproval({
        binding: {
          agentSpiffeId: input.source.spiffe_id ?? "",
          agentId: input.agent?.id ?? null,
          tenant: input.agent?.tenant ?? null,
          delegationId: input.delegation.valid ? input.delegation.id : null,
          userId: input.delegation.valid ? (input.delegation.user?.id ?? null) : null,
          server: input.destination.service,
          method: message.method ?? "",
          name: message.name ?? "",
          argumentsDigest: message.argumentsDigest ?? argumentsDigest({}),
          decisionId,
        },
        requestId: id,
        record,
        message: decisionMessage(decision),
        allow: (approvalId) => allowApproved(context, approvalInput, approvalId, id),
      }),
    };
  }
  if (mcpRequest) return { response: mcpRefusalResponse(mcpRefusalOf(decision), id, decisionId), record };
  return {
    response: deniedResponse(
      decision.status,
      decision.reason,
      decisionMessage(decision),
      decisionId,
      dialect,
    ),
    record,
  };
}

interface DecideContext {
  deps: AuthorizerDeps;
  policy: Policy;
  revision: string | null;
  decisionId: string;
  credentialQuery: string[];
  dialect: ErrorDialect;
  /** The upstream is a Warden inbound sidecar: the delegation goes on to it (check-response.ts). */
  forwardDelegation: boolean;
  /** The destination's name, as rate limits' `route` scope names it. */
  routeName: string;
}

function limitSubjects(
  input: PolicyInput,
  route: string,
  team: string | null,
  tool: string | null,
): LimitSubjects {
  return {
    tenant: requestTenant(input),
    team,
    agentSpiffeId: input.source.spiffe_id,
    route,
    tool,
    kind: input.destination.kind,
  };
}

const textOrNull = (value: unknown): string | null =>
  typeof value === "string" && value !== "" ? value : null;

/**
 * An allowed request under any fail-closed limit carries `rate_limit_fail_closed`, which routes it
 * through the sidecar's fail-closed stage (lib/src/envoy/rate-limits.ts): refused while the
 * rate-limit service cannot answer. The subjects are the ones the sidecar's descriptors will carry
 * (the team and tool from the decision's metadata, as the sidecar reads them). A policy can set the
 * mark itself too; it is never removed.
 */
function markFailClosed(context: DecideContext, input: PolicyInput, decision: Decision): Decision {
  if (
    decision.metadata[FAIL_CLOSED_METADATA_KEY] !== undefined &&
    decision.metadata[FAIL_CLOSED_METADATA_KEY] !== null
  )
    return decision;
  const mcp = decision.metadata.mcp;
  const tool =
    typeof mcp === "object" && mcp !== null ? textOrNull((mcp as Record<string, unknown>).name) : null;
  const subjects = limitSubjects(input, context.routeName, textOrNull(decision.metadata.team), tool);
  const limits = (context.deps.rateLimits ?? NO_RATE_LIMITS).applying(subjects);
  if (!limits.some((limit) => limit.failure_mode === "closed")) return decision;
  return { ...decision, metadata: { ...decision.metadata, [FAIL_CLOSED_METADATA_KEY]: "true" } };
}

function evaluate(
  policy: Policy,
  input: PolicyInput,
  revision: string | null,
): { decision: Decision; evalNs: number } {
  const started = process.hrtime.bigint();
  let decision: Decision;
  try {
    decision = policy.evaluate(input);
  } catch (error) {
    // The one place an evaluation failure is caught: it becomes a decision like an invalid answer,
    // so the record, dry-run and the denial body treat both alike.
    decision = engineDenial(500, "policy_evaluation_failed", String(error).slice(0, 200), revision);
  }
  return { decision, evalNs: Number(process.hrtime.bigint() - started) };
}

function decisionRecord(
  context: DecideContext,
  input: PolicyInput,
  decision: Decision,
  evalNs: number,
): DecisionRecord {
  return {
    decision_id: context.decisionId,
    policy_revision: context.revision,
    allow: decision.allow,
    status: decision.allow ? 200 : decision.status,
    reason: decision.reason,
    dry_run: context.deps.dryRun === true,
    agent_spiffe_id: input.source.spiffe_id,
    service: input.destination.service,
    eval_ns: evalNs,
    input,
  };
}

/** A refusal decided without the policy's evaluation (input null: refused before there was one). */
function refusedRecord(
  decisionId: string,
  revision: string | null,
  input: PolicyInput | null,
  status: number,
  reason: string,
): DecisionRecord {
  return {
    decision_id: decisionId,
    policy_revision: revision,
    allow: false,
    status,
    reason,
    dry_run: false,
    agent_spiffe_id: input?.source.spiffe_id ?? null,
    service: input?.destination.service ?? "",
    eval_ns: 0,
    input,
  };
}

function mcpRefusalOf(decision: Decision): McpRefusal {
  return {
    status: decision.status,
    reason: decision.reason,
    message: decisionMessage(decision),
    details: refusalDetails(decision.metadata),
  };
}

/** The hand-off of an allowed decision (or a dry-run denial, which passes without policy headers). */
function allowed(
  context: DecideContext,
  input: PolicyInput,
  decision: Decision,
  record: DecisionRecord,
): Outcome {
  decision = markFailClosed(context, input, decision);
  const handOff: HandOffFacts = {
    decisionId: context.decisionId,
    policyRevision: context.revision ?? "",
    agentSpiffeId: input.source.spiffe_id,
    agentId: input.agent?.id ?? null,
    tenant: requestTenant(input),
    userId: input.delegation.valid ? (input.delegation.user?.id ?? null) : null,
    delegationId: input.delegation.valid ? input.delegation.id : null,
    scopes: input.delegation.valid ? input.delegation.scopes : [],
    service: input.destination.service,
    kind: input.destination.kind,
    // extproc-server removes every other x-warden-* header; the delegation goes on to an inbound sidecar.
    policyHeaders: decision.allow
      ? [...Object.keys(decision.headers), ...(context.forwardDelegation ? [DELEGATION_HEADER] : [])]
      : [],
  };
  return {
    response: okResponse(
      decision.allow ? decision : { ...decision, headers: {} },
      handOff,
      Object.keys(input.request.headers),
      context.credentialQuery,
      context.forwardDelegation,
    ),
    record,
  };
}

/**
 * An approved call, decided again with the approval in its input (the policy's approval stage then
 * passes, and every other stage is checked anew): the allowed decision carries `approval_id`.
 */
function allowApproved(
  context: DecideContext,
  input: PolicyInput,
  approvalId: string,
  requestId: string | number,
): Outcome {
  const approvedInput: PolicyInput = {
    ...input,
    mcp: input.mcp ? { ...input.mcp, approval_id: approvalId } : null,
  };
  const { decision, evalNs } = evaluate(context.policy, approvedInput, context.revision);
  const record = decisionRecord(context, approvedInput, decision, evalNs);
  if (!decision.allow) {
    // Whatever changed since the hold (a revoked delegation, a new rule) refuses the approved call.
    return { response: mcpRefusalResponse(mcpRefusalOf(decision), requestId, context.decisionId), record };
  }
  const withApproval: Decision = { ...decision, metadata: { ...decision.metadata, approval_id: approvalId } };
  return allowed(context, approvedInput, withApproval, record);
}

/**
 * A batch (2025-03-26): decided once as a whole (server-level access) and once per request
 * message; it passes only when every decision allows. Approvals cannot be granted inside a batch:
 * a held message refuses the batch.
 */
function decideBatch(
  context: DecideContext,
  input: PolicyInput,
  request: McpRequest,
  upstream: "server" | "warden",
): Outcome {
  const whole = evaluate(context.policy, input, context.revision);
  let evalNs = whole.evalNs;
  const refusals: { refusal: McpRefusal; id: string | number | null }[] = [];
  let firstDenial: Decision | null = whole.decision.allow ? null : whole.decision;
  const requests = request.messages.filter((m) => m.kind === "request");
  if (!whole.decision.allow) {
    const refusal = mcpRefusalOf(whole.decision);
    for (const message of requests) refusals.push({ refusal, id: message.id });
    if (requests.length === 0) refusals.push({ refusal, id: null });
  } else {
    const decided = requests.map((message) => {
      const one = evaluate(
        context.policy,
        { ...input, mcp: mcpMessageFacts(request, message, upstream) },
        context.revision,
      );
      evalNs += one.evalNs;
      return { message, decision: one.decision };
    });
    const denied = decided.filter((d) => !d.decision.allow);
    if (denied.length > 0) {
      firstDenial = denied[0]!.decision;
      for (const { message, decision } of decided) {
        refusals.push({
          id: message.id,
          refusal: decision.allow
            ? {
                status: 403,
                reason: "mcp_batch_refused",
                message: "another message of this batch was refused",
                details: {},
              }
            : decision.reason === "approval_required"
              ? {
                  ...mcpRefusalOf(decision),
                  message: "this call needs approval, which cannot be given inside a batch",
                }
              : mcpRefusalOf(decision),
        });
      }
    }
  }
  const decision = firstDenial ?? whole.decision;
  const record = decisionRecord(context, input, decision, evalNs);
  if (!firstDenial || context.deps.dryRun === true) return allowed(context, input, decision, record);
  return { response: mcpBatchRefusalResponse(refusals, context.decisionId), record };
}
